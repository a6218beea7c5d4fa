"""The figure of Fig. 3: one panel per training-set size, estimated log p(x) against samples seen."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..training import atomicfile  # noqa: E402

__all__ = ["plot_fig3"]

COLORS = {"aevb": "tab:red", "wakesleep": "tab:blue", "mcem": "tab:green"}
NAMES = {"aevb": "AEVB", "wakesleep": "Wake-Sleep", "mcem": "MCEM"}


def _panel(ax, runs, n_train):
    for run in runs:
        algo, points = run["spec"]["algorithm"], run["marginal"]
        for split, ls, marker in (("train", "-", "o"), ("test", "--", "s")):
            ax.errorbar([r["samples"] for r in points], [r[f"{split}_log_px"] for r in points],
                        yerr=[r[f"{split}_mc_stderr"] for r in points], color=COLORS[algo], ls=ls,
                        marker=marker, ms=2.5, lw=1.2, capsize=1.5,
                        label=f"{NAMES[algo]} ({split})")
    ax.set_xscale("log")
    ax.set_title(f"$N_{{train}}$ = {n_train:,}")
    ax.set_xlabel("# training samples evaluated")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=6.5, loc="lower right")


def plot_fig3(runs, path):
    """Write the Fig. 3 layout for ``runs`` (dicts of ``fig3_mnist.json``) to ``path`` (PNG),
    whole or not at all."""
    sizes = sorted({r["spec"]["n_train"] for r in runs})
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        _panel(ax, [r for r in runs if r["spec"]["n_train"] == n and r["marginal"]], n)
    axes[0][0].set_ylabel("marginal log-likelihood (nats)")
    fig.suptitle("MNIST, 3 latents: estimated log p(x) (App. D)", fontsize=10)
    fig.tight_layout()
    atomicfile.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
