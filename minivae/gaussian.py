r"""The diagonal Gaussian pieces of the paper: the reparameterized sampler (Sec. 2.4, eq. 4;
App. C.2 eq. 10's $z = \mu + \sigma \odot \epsilon$), the analytic KL to the prior (App. B),
$\log p(z) = \log \mathcal N(z; 0, I)$ and $\log q_\phi(z|x) = \log \mathcal N(z; \mu, \sigma^2 I)$.

One parameterization throughout: ``logvar`` $= \log\sigma^2$, so $\sigma = e^{\frac12 \text{logvar}}$.
Shapes: ``mu, logvar (M, J)``; noise and samples ``eps, z (M, J)`` or ``(L, M, J)``; per-sample
log-densities drop the last axis, ``(M,)`` or ``(L, M)``. Every backward returns the
vector-Jacobian product for an upstream gradient ``dout`` of the output's shape.
"""
from typing import NamedTuple

import numpy as np

from .broadcast import sum_to_shape

__all__ = ["LOG_2PI", "SampleCache", "KLCache", "StdNormalCache", "LogNormalCache",
           "sample_forward", "sample_backward", "kl_forward", "kl_backward",
           "log_standard_normal_forward", "log_standard_normal_backward",
           "log_normal_forward", "log_normal_backward", "log_q_forward", "log_q_backward"]

LOG_2PI = float(np.log(2.0 * np.pi))


class SampleCache(NamedTuple):
    eps: np.ndarray
    sigma: np.ndarray
    mu_shape: tuple


class KLCache(NamedTuple):
    mu: np.ndarray
    var_minus_1: np.ndarray


class StdNormalCache(NamedTuple):
    z: np.ndarray


class LogNormalCache(NamedTuple):
    diff_over_var: np.ndarray
    sq_over_var: np.ndarray
    shapes: tuple


def sample_forward(mu, logvar, eps):
    r"""Reparameterized sample $z = \mu + \sigma \odot \epsilon$, $\sigma = \exp(\tfrac12\,\text{logvar})$ (eq. 4).

    Parameters
    ----------
    mu, logvar : ndarray (M, J)
    eps : ndarray (M, J) or (L, M, J), standard normal noise drawn by the caller

    Returns
    -------
    z : ndarray, the shape of ``eps``
    cache : SampleCache
    """
    # exercise: sampler begin
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * eps
    # exercise: end
    return z, SampleCache(eps, sigma, mu.shape)


def sample_backward(dz, cache):
    r"""Backward of :func:`sample_forward`.

    $\partial z/\partial\mu = 1$ and $\partial z/\partial\,\text{logvar} = \tfrac12 \sigma \epsilon$,
    summed over the sample axis when there is one.

    Returns
    -------
    dmu, dlogvar : ndarray (M, J)
    """
    eps, sigma, mu_shape = cache
    # exercise: sampler begin
    dmu = sum_to_shape(dz, mu_shape)
    dlogvar = sum_to_shape(0.5 * dz * sigma * eps, mu_shape)
    # exercise: end
    return dmu, dlogvar


def kl_forward(mu, logvar):
    r"""$D_{KL}(q_\phi(z|x) \,\|\, \mathcal N(0, I))$ per datapoint (App. B).

    $D_{KL} = -\tfrac12 \sum_j \left(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\right)$, so that the
    paper's eq. (10) reads $-D_{KL} + \frac1L \sum_l \log p_\theta(x|z^{(l)})$. It is computed as
    $\tfrac12 \sum_j \left(\mu_j^2 + \operatorname{expm1}(\text{logvar}_j) - \text{logvar}_j\right)$:
    near the prior, $1 + \text{logvar} - e^{\text{logvar}}$ cancels catastrophically and could
    even come out negative, while each term here is non-negative.

    Parameters
    ----------
    mu, logvar : ndarray (M, J)

    Returns
    -------
    kl : ndarray (M,)
    cache : KLCache
    """
    var_minus_1 = np.expm1(logvar)
    # exercise: kl begin
    kl = 0.5 * np.sum(mu * mu + (var_minus_1 - logvar), axis=-1)
    # exercise: end
    return kl, KLCache(mu, var_minus_1)


def kl_backward(dkl, cache):
    r"""Backward of :func:`kl_forward`: $\partial D_{KL}/\partial\mu = \mu$,
    $\partial D_{KL}/\partial\,\text{logvar} = \tfrac12(\sigma^2 - 1)$.

    Parameters
    ----------
    dkl : ndarray (M,)

    Returns
    -------
    dmu, dlogvar : ndarray (M, J)
    """
    mu, var_minus_1 = cache
    d = dkl[..., None]
    # exercise: kl begin
    dmu = d * mu
    dlogvar = d * 0.5 * var_minus_1
    # exercise: end
    return dmu, dlogvar


def log_standard_normal_forward(z):
    r"""The prior $\log p_\theta(z) = \log\mathcal N(z; 0, I) = -\tfrac J2\log 2\pi - \tfrac12\|z\|^2$.

    Parameters
    ----------
    z : ndarray (..., J)

    Returns
    -------
    log_pz : ndarray (...)
    cache : StdNormalCache
    """
    J = z.shape[-1]
    # exercise: log_pz begin
    log_pz = -0.5 * (J * LOG_2PI + np.sum(z * z, axis=-1))
    # exercise: end
    return log_pz, StdNormalCache(z)


def log_standard_normal_backward(dout, cache):
    r"""Backward of :func:`log_standard_normal_forward`: $\partial/\partial z = -z$.

    Parameters
    ----------
    dout : ndarray (...), the upstream gradient, the shape of ``log_pz``

    Returns
    -------
    dz : ndarray (..., J)
    """
    # exercise: log_pz begin
    dz = -dout[..., None] * cache.z
    # exercise: end
    return dz


def log_normal_forward(x, mean, logvar):
    r"""Diagonal Gaussian log-density summed over the last axis,
    $\log\mathcal N(x; \mu, \sigma^2 I) = -\tfrac12 \sum_j \left(\log 2\pi + \text{logvar}_j + (x_j - \mu_j)^2 / \sigma_j^2\right)$.

    The inputs broadcast against each other (e.g. ``x (L, M, J)`` against ``mean (M, J)``).
    $1/\sigma^2 = e^{-\text{logvar}}$ is formed with its exponent capped
    (:func:`~minivae.fused.kernels.scalar.log_precision`), so that at $x = \mu$ the density stays
    finite for every logvar instead of becoming $0 \cdot \infty$.

    Returns
    -------
    log_density : ndarray, the broadcast shape without its last axis
    cache : LogNormalCache
    """
    # exercise: log_q begin
    diff_over_var = (x - mean) * precision(logvar)
    sq_over_var = (x - mean) * diff_over_var
    log_density = -0.5 * np.sum(LOG_2PI + logvar + sq_over_var, axis=-1)
    # exercise: end
    shapes = (np.shape(x), np.shape(mean), np.shape(logvar))
    return log_density, LogNormalCache(diff_over_var, sq_over_var, shapes)


def log_normal_backward(dout, cache):
    r"""Backward of :func:`log_normal_forward`, each input treated as independent.

    $\partial/\partial x = -(x-\mu)/\sigma^2$, $\partial/\partial\mu = (x-\mu)/\sigma^2$,
    $\partial/\partial\,\text{logvar} = \tfrac12\left((x-\mu)^2/\sigma^2 - 1\right)$,
    each summed back to its input's shape.

    Returns
    -------
    dx, dmean, dlogvar : ndarray, the shapes of ``x``, ``mean`` and ``logvar``
    """
    diff_over_var, sq_over_var, (x_shape, mean_shape, logvar_shape) = cache
    d = dout[..., None]
    # exercise: log_q begin
    dmean = d * diff_over_var
    dlogvar = d * 0.5 * (sq_over_var - 1.0)
    dx = -dmean
    # exercise: end
    return (sum_to_shape(dx, x_shape), sum_to_shape(dmean, mean_shape),
            sum_to_shape(dlogvar, logvar_shape))


def log_q_forward(z, mu, logvar):
    r"""The approximate posterior $\log q_\phi(z|x) = \log\mathcal N(z; \mu, \sigma^2 I)$ (eq. 6's last term).

    Estimator A needs it; there $z$ itself depends on $\mu$ and logvar through
    :func:`sample_forward`, and the two paths meet in the caller's accumulation.

    Parameters
    ----------
    z : ndarray (M, J) or (L, M, J)
    mu, logvar : ndarray (M, J)

    Returns
    -------
    log_qz : ndarray (M,) or (L, M)
    cache : LogNormalCache
    """
    return log_normal_forward(z, mu, logvar)


def log_q_backward(dout, cache):
    r"""Backward of :func:`log_q_forward`: ``(dz, dmu, dlogvar)``, see :func:`log_normal_backward`."""
    return log_normal_backward(dout, cache)


# -- Elementwise formulas, shared with the fused engine -------------------------------------
# Plain NumPy, on scalars or arrays. minivae.fused.kernels.scalar registers each of these functions
# with Numba, so the compiled loops evaluate these very lines: they are written once.


def precision_log_cap(a):
    r"""The largest whole $c$ with $e^c$ finite in ``a``'s dtype: 709 (float64), 88 (float32)."""
    return float(np.floor(np.log(np.finfo(a.dtype).max)))


def log_precision(logvar, cap):
    r"""$\log(1/\sigma^2) = -\text{logvar}$, held at ``cap`` (:func:`precision_log_cap`) so that
    $w = e^{-\text{logvar}}$ stays finite.

    Without the cap, $w$ overflows below logvar = -709.8 (float64) or -88.7 (float32) and at
    $x = \mu$ the Gaussian's $(x-\mu)^2 w$ is $0 \cdot \infty$ = NaN, although the density is
    finite there ($-\tfrac12(\log 2\pi + \text{logvar})$, +499.08 at logvar = -1000). With it,
    the density and its gradients are exact at $x = \mu$ for every logvar and unchanged, bit for
    bit, above the cap; below it, off the mean, $1/\sigma^2$ is taken as $e^{\text{cap}}$ (a
    variance under $10^{-307}$, or $10^{-38}$ in float32, that no model reaches in practice)."""
    return np.minimum(-logvar, cap)


def precision(logvar):
    r"""$w = 1/\sigma^2 = e^{-\text{logvar}}$, its exponent capped (:func:`log_precision`)."""
    return np.exp(log_precision(logvar, precision_log_cap(np.asarray(logvar))))


def reparameterize(mu, logvar, eps):
    r"""$z = \mu + e^{\frac12\text{logvar}}\epsilon$ (eq. 4)."""
    return mu + np.exp(0.5 * logvar) * eps


def kl_term(mu, logvar):
    r"""One latent dimension's $D_{KL}$: $\tfrac12(\mu^2 + (\operatorname{expm1}(\text{logvar}) - \text{logvar}))$ (App. B)."""
    return 0.5 * (mu * mu + (np.expm1(logvar) - logvar))


def reparam_grad_logvar(dz, logvar, eps):
    r"""$\partial z/\partial\,\text{logvar}$ times $\bar z$: $\tfrac12 \bar z\, e^{\frac12\text{logvar}} \epsilon$."""
    return 0.5 * dz * np.exp(0.5 * logvar) * eps


def kl_grad_logvar(dkl, logvar):
    r"""$\bar D \cdot \partial D_{KL}/\partial\,\text{logvar} = \tfrac12 \bar D\, \operatorname{expm1}(\text{logvar})$."""
    return 0.5 * dkl * np.expm1(logvar)
