"""The figure of Fig. 2: one panel per latent size, bound against samples seen on a log axis."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..training import atomicfile  # noqa: E402

__all__ = ["plot_fig2"]

STYLE = {("aevb", "train"): ("tab:red", "-", "AEVB (train)"),
         ("aevb", "test"): ("tab:red", "--", "AEVB (test)"),
         ("wakesleep", "train"): ("tab:blue", "-", "WS (train)"),
         ("wakesleep", "test"): ("tab:blue", "--", "WS (test)")}

TITLES = {"mnist": "MNIST", "frey": "Frey Face"}


def _panel(ax, runs, J, title):
    for run in runs:
        points = [r for r in run["history"] if r["samples"] > 0]
        for split in ("train", "test"):
            color, ls, label = STYLE[(run["algorithm"], split)]
            if run["lr"] is not None:
                label = f"{label}, lr {run['lr']:g}"
            ax.plot([r["samples"] for r in points], [r[f"{split}_bound"] for r in points],
                    color=color, ls=ls, marker="o" if split == "train" else "s", ms=2.5, lw=1.2,
                    label=label)
    ax.set_xscale("log")
    ax.set_title(f"{title}, $N_z = {J}$")
    ax.set_xlabel("# training samples evaluated")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=6.5, loc="lower right")


def plot_fig2(runs, dataset, path, samples):
    """Write the Fig. 2 layout for ``runs`` (dicts of ``fig2_<dataset>.json``) to ``path``.

    Parameters
    ----------
    runs : list of dicts with ``n_latent``, ``algorithm``, ``lr``, ``history``
    dataset : ``"mnist"`` or ``"frey"``, for the titles
    path : PNG file, written whole or not at all (:func:`~minivae.training.atomicfile.write_figure`)
    samples : int, the budget, for the figure's title
    """
    latents = sorted({r["n_latent"] for r in runs})
    # at least 6.5 inches wide, so that the title fits above a single panel
    fig, axes = plt.subplots(1, len(latents), figsize=(max(3.3 * len(latents), 6.5), 3.4),
                             squeeze=False)
    title = TITLES.get(dataset, dataset)
    for ax, J in zip(axes[0], latents):
        _panel(ax, [r for r in runs if r["n_latent"] == J], J, title)
    axes[0][0].set_ylabel(r"lower bound $\mathcal{L}$ per datapoint (nats)")
    fig.suptitle(f"{title}: AEVB vs wake-sleep, {samples:,} training samples per run", fontsize=10)
    fig.tight_layout()
    atomicfile.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
