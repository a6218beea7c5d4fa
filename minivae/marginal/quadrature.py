r"""$\log p_\theta(x)$ by numerical quadrature, for a 1-D or 2-D latent: the reference value.

The midpoint rule on an $n^J$ grid over $[-\ell, \ell]^J$, cell width $h = 2\ell / n$ and nodes
$z_{\mathbf i} = -\ell + (\mathbf i + \tfrac12) h$, in log space:

$$\log p_\theta(x) \approx \operatorname{logsumexp}_{\mathbf i}
\left[\log p(z_{\mathbf i}) + \log p_\theta(x|z_{\mathbf i})\right] + J \log h.$$

The integrand is smooth and decays like the prior, so the rule converges exponentially fast
once $h$ resolves the posterior's width and $\ell$ covers its mass (the error of truncating at
$\ell$ is at most $P(\|z\|_\infty > \ell)\,\max_z p_\theta(x|z) / p_\theta(x)$ relative). Check both by
refining: doubling ``n_points`` and widening ``limit`` must leave the value unchanged.

The decoder runs once per node, not once per node and row: ``Z (G, 1, J)`` broadcasts against
``X (M, D)`` inside the log-likelihood. The cost is $O(n^J M D)$; meant for small models.
"""
import numpy as np

from ..decoder import decoder_loglik_forward
from ..gaussian import log_standard_normal_forward
from ..validation import check_positive_int
from .importance import running_logsumexp

__all__ = ["DEFAULT_POINTS", "quadrature_log_px", "grid"]

DEFAULT_POINTS = {1: 2000, 2: 400}
"""Default nodes per axis for a 1-D and a 2-D latent."""

_CHUNK_ELEMENTS = 2 ** 23  # nodes x rows x D per pass (64 MB in float64)


def grid(n_points, limit, n_latent):
    r"""Midpoint nodes of $[-\ell, \ell]^J$: ``(Z (n^J, J), log_cell)`` with ``log_cell`` $= J \log h$."""
    h = 2.0 * limit / n_points
    axis = -limit + (np.arange(n_points) + 0.5) * h
    Z = np.stack(np.meshgrid(*([axis] * n_latent), indexing="ij"), axis=-1).reshape(-1, n_latent)
    return Z, n_latent * np.log(h)


def quadrature_log_px(model, X, n_points=None, limit=10.0):
    r"""$\log p_\theta(x) = \log \int p(z)\, p_\theta(x|z)\, dz$ by the midpoint rule, per row.

    Parameters
    ----------
    model : VAE with ``n_latent`` 1 or 2 (only its ``dec.*`` parameters are used)
    X : ndarray (M, D), binary for the Bernoulli decoder
    n_points : int, nodes per axis; default :data:`DEFAULT_POINTS` (cell width 0.01 or 0.05 at
        ``limit = 10``, far below a tiny model's posterior width; not necessarily a trained one's)
    limit : float, the grid covers $[-\text{limit}, \text{limit}]^J$

    Returns
    -------
    log_px : ndarray (M,) float64, in nats
    """
    J = model.n_latent
    if J > 2:
        raise ValueError(f"quadrature needs a 1-D or 2-D latent (an n^J grid), the model has J={J}")
    X = model._check_X(X)
    n_points = check_positive_int("n_points", DEFAULT_POINTS[J] if n_points is None else n_points)
    if not np.isfinite(limit) or limit <= 0:
        raise ValueError(f"limit must be a finite positive number, got {limit}")
    Z, log_cell = grid(n_points, float(limit), J)
    Z = Z.astype(model.dtype)
    step = max(1, _CHUNK_ELEMENTS // (X.shape[0] * X.shape[1]))
    blocks = (_log_joint(model, X, Z[s:s + step]) for s in range(0, len(Z), step))
    return running_logsumexp(blocks) + log_cell


def _log_joint(model, X, Z):
    """$\\log p(z) + \\log p_\\theta(x|z)$ for nodes ``Z (G, J)`` and rows ``X (M, D)``: ``(G, M)``."""
    log_px_z, _ = decoder_loglik_forward(X, Z[:, None, :], model.params, *model._decoder_args())
    log_pz, _ = log_standard_normal_forward(Z)
    return log_px_z + log_pz[:, None]
