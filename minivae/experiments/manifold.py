r"""Learned data manifolds (App. A, Fig. 4): the decoder over a grid of the 2-D latent space.

"Since the prior of the latent space is Gaussian, linearly spaced coordinates on the unit square
were transformed through the inverse CDF of the Gaussian to produce values of the latent
variables $z$." Here the unit square is cut into $n \times n$ equal cells and their midpoints
$u_k = (k + \tfrac12)/n$ are mapped through $\Phi^{-1}$ (``scipy.stats.norm.ppf``); each cell
then holds the same prior mass $1/n^2$, and no coordinate is $0$ or $1$, where $\Phi^{-1}$ is
infinite. Every image is the decoder's mean at that $z$: Bernoulli probabilities for MNIST, the
Gaussian mean for Frey Face.
"""
import numpy as np
from scipy.stats import norm

from .plotting import save_image_grid

__all__ = ["latent_grid", "manifold_images", "plot_manifold"]


def latent_grid(n):
    r"""The $n \times n$ grid $z = \Phi^{-1}(u)$, $u_k = (k + \tfrac12)/n$, in reading order.

    Row $r$ of the picture has $z_2 = \Phi^{-1}(u_{n-1-r})$ (largest at the top) and column $c$
    has $z_1 = \Phi^{-1}(u_c)$ (largest on the right), like a plot of the $(z_1, z_2)$ plane.

    Parameters
    ----------
    n : int, points per axis

    Returns
    -------
    Z : ndarray (n * n, 2), row by row
    """
    if int(n) != n or n < 1:
        raise ValueError(f"the grid needs a positive whole number of points per axis, got {n}")
    z = norm.ppf((np.arange(int(n)) + 0.5) / int(n))
    z1, z2 = np.meshgrid(z, z[::-1])
    return np.column_stack([z1.ravel(), z2.ravel()])


def manifold_images(model, n):
    """Decoder means over :func:`latent_grid`, ``(n * n, D)``, for a model with 2 latent dimensions."""
    if model.n_latent != 2:
        raise ValueError(f"a manifold plot needs a model with 2 latent dimensions, got "
                         f"n_latent={model.n_latent}")
    return model.decode(latent_grid(n))


def plot_manifold(model, n, image_shape, path, title=""):
    """Save the :func:`manifold_images` as an ``n x n`` grid PNG (values clipped to [0, 1])."""
    images = np.clip(manifold_images(model, n), 0.0, 1.0)
    return save_image_grid(images, image_shape, path, n_cols=n, title=title)
