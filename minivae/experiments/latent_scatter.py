r"""Where the encoder puts the test set: posterior means $\mu_\phi(x)$ of a 2-D latent space,
coloured by the digit label (MNIST)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..training import atomicfile  # noqa: E402

__all__ = ["plot_latent_means"]


def plot_latent_means(model, X, labels, path, title=""):
    """Scatter the posterior means of ``X`` in the $(z_1, z_2)$ plane, one colour per label.

    Parameters
    ----------
    model : VAE with ``n_latent == 2``
    X : ndarray (N, D), data as the model scores it (binarized for a Bernoulli decoder)
    labels : ndarray (N,) of int, e.g. the MNIST digits
    path : PNG file

    Returns
    -------
    mu : ndarray (N, 2), the posterior means that were plotted
    """
    if model.n_latent != 2:
        raise ValueError(f"the scatter needs a model with 2 latent dimensions, got "
                         f"n_latent={model.n_latent}")
    labels = np.asarray(labels)
    if labels.shape != (len(X),):
        raise ValueError(f"labels must have shape ({len(X)},), got {labels.shape}")
    mu, _ = model.encode(X)
    fig, ax = plt.subplots(figsize=(6.8, 5.2))
    cmap = plt.get_cmap("tab10")
    for k, label in enumerate(np.unique(labels)):
        sel = labels == label
        ax.scatter(mu[sel, 0], mu[sel, 1], s=2, alpha=0.6, color=cmap(k % 10), label=str(label))
    ax.set_xlabel(r"$\mu_1$")
    ax.set_ylabel(r"$\mu_2$")
    ax.set_title(title)
    ax.legend(markerscale=5, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="label")
    ax.grid(True, alpha=0.25)
    fig.tight_layout()
    atomicfile.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return mu
