r"""Decoder log-likelihoods $\log p_\theta(x|z)$ (App. C) as forward/backward pairs.

Shapes: data ``x (M, D)``; decoder outputs ``(M, D)`` or, with ``L`` samples, ``(L, M, D)``
(``x`` broadcasts over the sample axis); the log-likelihood sums over ``D`` and returns
``(M,)`` or ``(L, M)``. Backward passes return the vector-Jacobian product with respect to
the decoder outputs only: the data is not a parameter. The decoder kinds of :mod:`minivae.decoder`
call these pairs; a new kind may bring its own pair in its own file.
"""
from typing import NamedTuple

import numpy as np

from .activations import softplus, softplus_from_log1p
from .gaussian import log_normal_backward, log_normal_forward

__all__ = ["BernoulliCache", "bernoulli_loglik_forward",
           "bernoulli_loglik_backward", "gaussian_loglik_forward", "gaussian_loglik_backward"]


class BernoulliCache(NamedTuple):
    x: np.ndarray
    logits: np.ndarray


def bernoulli_loglik_forward(x, logits):
    r"""Bernoulli log-likelihood from logits (App. C.1, eq. 11).

    With $y = \sigma(a)$, $\log p(x|z) = \sum_d x_d \log y_d + (1 - x_d)\log(1 - y_d)
    = \sum_d x_d a_d - \operatorname{softplus}(a_d)$; the second form never takes the log of
    a rounded-off probability, so extreme logits stay finite.

    Parameters
    ----------
    x : ndarray (M, D), values in [0, 1] (binary, or grey values for ``binarization="none"``)
    logits : ndarray (M, D) or (L, M, D), the decoder's pre-sigmoid outputs $a$

    Returns
    -------
    log_px_z : ndarray (M,) or (L, M)
    cache : BernoulliCache
    """
    return np.sum(x * logits - softplus(logits), axis=-1), BernoulliCache(x, logits)


def bernoulli_loglik_backward(dout, cache):
    r"""Backward of :func:`bernoulli_loglik_forward`: $\partial/\partial a_d = x_d - \sigma(a_d)$,
    evaluated as $x_d\,\sigma(-a_d) - (1 - x_d)\,\sigma(a_d)$ so that a nearly saturated pixel keeps
    its small gradient to full relative precision.

    Returns
    -------
    dlogits : ndarray, the shape of ``logits``
    """
    x, logits = cache
    return dout[..., None] * bernoulli_grad(x, logits)


def gaussian_loglik_forward(x, mean, logvar):
    r"""Diagonal Gaussian log-likelihood (App. C.2, eq. 12).

    $\log p(x|z) = -\tfrac12 \sum_d \left(\log 2\pi + \text{logvar}_d + (x_d - \mu_d)^2 / \sigma^2_d\right)$.
    For Frey Face the model passes $\mu = \sigma(\cdot)$, a sigmoid mean head.

    Parameters
    ----------
    x : ndarray (M, D)
    mean, logvar : ndarray (M, D) or (L, M, D), the decoder's mean and log-variance heads

    Returns
    -------
    log_px_z : ndarray (M,) or (L, M)
    cache : LogNormalCache
    """
    return log_normal_forward(x, mean, logvar)


def gaussian_loglik_backward(dout, cache):
    r"""Backward of :func:`gaussian_loglik_forward`:
    $\partial/\partial\mu_d = (x_d - \mu_d)/\sigma_d^2$,
    $\partial/\partial\,\text{logvar}_d = \tfrac12\left((x_d-\mu_d)^2/\sigma_d^2 - 1\right)$.

    Returns
    -------
    dmean, dlogvar : ndarray, the shape of ``mean``
    """
    _, dmean, dlogvar = log_normal_backward(dout, cache)
    return dmean, dlogvar


# -- Elementwise formulas, shared with the fused engine -------------------------------------
# Plain NumPy, on scalars or arrays. minivae.fused.kernels.scalar registers each of these functions
# with Numba, so the compiled loops evaluate these very lines: they are written once.


def bernoulli_grad_from(x, a, e):
    r"""$\partial \log p(x|a)/\partial a = x - \sigma(a)$ given $e = e^{-|a|}$, written as
    $x\,\sigma(-a) - (1 - x)\,\sigma(a)$: for $x = 1$ and large $a$ this returns the small
    $\sigma(-a)$ to full relative precision instead of the cancellation $1 - \sigma(a)$.

    Both sigmoids share $r = 1/(1+e)$ (:func:`sigmoid_from`): for $a \ge 0$,
    $\sigma(a) = r$ and $\sigma(-a) = e r$; for $a < 0$ the other way round (at $a = 0$, $e = 1$
    and both are $r$). So the gradient is $r\,(x\,u - (1 - x)\,v)$ with $(u, v) = (e, 1)$ for
    $a \ge 0$ and $(1, e)$ for $a < 0$."""
    r = 1.0 / (1.0 + e)
    pos, neg = a >= 0, a < 0
    return r * (x * (pos * e + neg) - (1.0 - x) * (neg * e + pos))


def bernoulli_grad(x, a):
    r"""$\partial \log p(x|a)/\partial a = x - \sigma(a)$ (:func:`bernoulli_grad_from`)."""
    return bernoulli_grad_from(x, a, np.exp(-np.abs(a)))


def bernoulli_terms_from(x, a, e, l):
    r"""One pixel's $\log p(x|a) = x a - \operatorname{softplus}(a)$ (App. C.1) and its derivative,
    given $e = e^{-|a|}$ and $l = \log(1 + e)$."""
    return x * a - softplus_from_log1p(a, l), bernoulli_grad_from(x, a, e)


def bernoulli_terms(x, a):
    r"""One pixel's $\log p(x|a)$ and its derivative, sharing one $e^{-|a|}$
    (:func:`bernoulli_terms_from`)."""
    e = np.exp(-np.abs(a))
    return bernoulli_terms_from(x, a, e, np.log1p(e))


def gaussian_loglik_from(x, mean, logvar, w):
    r"""One coordinate's $\log\mathcal N(x; \mu, e^{\text{logvar}})
    = -\tfrac12(\log 2\pi + \text{logvar} + (x-\mu)^2 w)$ given $w = e^{-\text{logvar}}$ (App. C.2;
    $w$ from :func:`log_precision`)."""
    d = x - mean
    return -0.5 * (1.8378770664093453 + logvar + d * d * w)


def gaussian_grad_mean_from(x, mean, w):
    r"""$\partial/\partial\mu = (x-\mu) w$ given $w = e^{-\text{logvar}}$."""
    return (x - mean) * w


def gaussian_grad_logvar_from(x, mean, w):
    r"""$\partial/\partial\,\text{logvar} = \tfrac12((x-\mu)^2 w - 1)$ given $w = e^{-\text{logvar}}$."""
    d = x - mean
    return 0.5 * (d * d * w - 1.0)
