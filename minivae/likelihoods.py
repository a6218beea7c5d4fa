r"""Decoder log-likelihoods $\log p_\theta(x|z)$ (App. C) as forward/backward pairs.

Shapes: data ``x (M, D)``; decoder outputs ``(M, D)`` or, with ``L`` samples, ``(L, M, D)``
(``x`` broadcasts over the sample axis); the log-likelihood sums over ``D`` and returns
``(M,)`` or ``(L, M)``. Backward passes return the vector-Jacobian product with respect to
the decoder outputs only: the data is not a parameter.
"""
from typing import NamedTuple

import numpy as np

from .kernels.scalar import bernoulli_grad, softplus
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
