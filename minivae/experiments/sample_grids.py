r"""Random samples from learned generative models (App. A, Fig. 5), one panel per latent size.

Each image is the decoder's mean $\mathbb E[x|z]$ at a draw $z \sim p(z) = \mathcal N(0, I)$, as the
paper shows them (and as ``minivae sample`` does), not a binary sample of it.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..training import atomicfile  # noqa: E402
from .plotting import image_grid  # noqa: E402

__all__ = ["plot_sample_grids"]


def plot_sample_grids(models, image_shape, path, n=100, n_cols=10, seed=0, title=""):
    """Save one grid of ``n`` samples per model, side by side, to ``path``.

    Parameters
    ----------
    models : list of (label, VAE), e.g. ``[("2-D latent space", model), ...]``
    image_shape : (H, W)
    n, n_cols : samples per model and grid columns
    seed : int; model ``k`` draws its $z$ from ``default_rng([seed, k])``
    """
    if not models:
        raise ValueError("no models to sample from")
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.6), squeeze=False)
    for k, (ax, (label, model)) in enumerate(zip(axes[0], models)):
        images = np.clip(model.sample(n, rng=np.random.default_rng([seed, k])), 0.0, 1.0)
        ax.imshow(image_grid(images, image_shape, n_cols), cmap="gray", vmin=0.0, vmax=1.0,
                  interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    atomicfile.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
