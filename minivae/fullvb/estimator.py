r"""App. F's estimator of the full-VB bound $\mathcal L(\phi; X)$, corrected, and its gradient.

Here $\phi$ are *all* the variational parameters: the encoder's (``enc.*`` in ``model.params``),
and $q_\phi(\theta)$'s means $\mu_\theta$ (the ``dec.*`` entries of ``model.params``) and
log-variances ``theta_logvar`` (:mod:`minivae.fullvb.posterior`). The bound is

$$\mathcal L(\phi; X) = \mathbb E_{q_\phi(\theta)}\Big[\sum_{i=1}^N \mathcal L(\theta, \phi; x^{(i)})\Big]
  - D_{KL}(q_\phi(\theta) \,\|\, p(\theta)) \;\le\; \log p(X).$$

**The single-datapoint estimator** (App. F's $f_\phi$, eq. "fullvb-estimator", with the analytic
KLs of F.1), for one datapoint $x$, noise $\epsilon$ and $\zeta$:

$$f_\phi(x, \epsilon, \zeta) = N\,\tilde{\mathcal L}^B(\tilde\theta, \phi; x) - D_{KL}(q_\phi(\theta)\,\|\,p(\theta)),
  \qquad \tilde\theta = \mu_\theta + \sigma_\theta\odot\zeta,$$

$\tilde{\mathcal L}^B$ being eq. (7) (:func:`minivae.estimators.sgvb_b_forward`) evaluated with the
decoder at $\tilde\theta$. Algorithm 2 averages $f_\phi$ over $L$ draws, each with its own datapoint,
$\epsilon$ and $\zeta$: :func:`algorithm2_forward`. The $\theta$-KL enters each $f_\phi$ once, so the
average counts it once per dataset.

**The minibatch form** (eq. 8 with a $\theta$ sample), one $\zeta$ for the $M$ rows of a minibatch:

$$\hat{\mathcal L}(\phi; X^M) = \frac NM \sum_{i=1}^M \tilde{\mathcal L}^B(\tilde\theta, \phi; x^{(i)})
  - D_{KL}(q_\phi(\theta)\,\|\,p(\theta)):$$

:func:`fullvb_bound_forward`. At $M = 1$ it is $f_\phi$ itself. Both are unbiased for
$\mathcal L(\phi; X)$ when the rows are drawn uniformly. The trainer minimizes
$-\hat{\mathcal L}/N$ (per datapoint, as :class:`minivae.Trainer` does), so the $\theta$-KL weighs
$1/N$ per datapoint.

The decoder is the readable one (:mod:`minivae.encoder`, :mod:`minivae.decoder`), run on a params
dict whose ``dec.*`` entries are $\tilde\theta$; the paper's Gaussian latent only (estimator B).
"""
from typing import NamedTuple

import numpy as np

from ..decoder import decoder_loglik_backward, decoder_loglik_forward
from ..encoder import encoder_backward, encoder_forward
from ..estimators import minibatch_backward, minibatch_forward, sgvb_b_backward, sgvb_b_forward
from ..gaussian import kl_backward, kl_forward, sample_backward, sample_forward
from .posterior import (decoder_names, theta_kl_backward, theta_kl_forward, theta_sample_backward,
                        theta_sample_forward)

__all__ = ["FullVBCache", "fullvb_bound_forward", "fullvb_bound_backward", "algorithm2_forward",
           "algorithm2_backward", "theta_mu"]


class FullVBCache(NamedTuple):
    names: tuple
    theta: tuple
    encoder: tuple
    sample: tuple
    loglik: tuple
    kl_z: tuple
    estimate: tuple
    minibatch: tuple
    kl_theta: tuple


def theta_mu(model):
    r"""$\mu_\theta$: the ``dec.*`` entries of ``model.params`` (the same arrays)."""
    return {name: model.params[name] for name in decoder_names(model.params)}


def fullvb_bound_forward(model, X, eps, zeta, theta_logvar, N):
    r"""The minibatch estimate $\hat{\mathcal L}(\phi; X^M)$ of the full-VB bound.

    Parameters
    ----------
    model : VAE, Gaussian latent; its ``enc.*`` params are the encoder's, its ``dec.*`` params
        are $\mu_\theta$
    X : ndarray (M, D)
    eps : ndarray (L, M, J), the latent noise $\epsilon$
    zeta : dict name -> ndarray, one draw of $\zeta$ for every ``dec.*`` tensor
    theta_logvar : dict name -> ndarray, $\log\sigma_\theta^2$ for every ``dec.*`` tensor
    N : int, the size of the training set

    Returns
    -------
    estimate : float, $\hat{\mathcal L}(\phi; X^M)$ in nats (for the whole dataset)
    bounds : ndarray (M,), $\tilde{\mathcal L}^B(\tilde\theta, \phi; x^{(i)})$
    cache : FullVBCache
    """
    mu_theta = theta_mu(model)
    theta, theta_cache = theta_sample_forward(mu_theta, theta_logvar, zeta)
    params = {**model.params, **theta}
    mu, logvar, enc_cache = encoder_forward(X, params, len(model.n_hidden), model.activation)
    z, sample_cache = sample_forward(mu, logvar, eps)
    log_px_z, loglik_cache = decoder_loglik_forward(X, z, params, *model._decoder_args())
    kl_z, kl_z_cache = kl_forward(mu, logvar)
    bounds, est_cache = sgvb_b_forward(log_px_z, kl_z)
    data_term, mb_cache = minibatch_forward(bounds, N)
    kl_theta, kl_theta_cache = theta_kl_forward(mu_theta, theta_logvar)
    cache = FullVBCache(tuple(mu_theta), theta_cache, enc_cache, sample_cache, loglik_cache,
                        kl_z_cache, est_cache, mb_cache, kl_theta_cache)
    return data_term - kl_theta, bounds, cache


def fullvb_bound_backward(destimate, cache):
    r"""Backward of :func:`fullvb_bound_forward`.

    The data term's gradient at $\tilde\theta$, $\bar\theta$, reaches $\mu_\theta$ as itself and
    $\text{logvar}_\theta$ as $\tfrac12\bar\theta\sigma_\theta\zeta$
    (:func:`~minivae.fullvb.posterior.theta_sample_backward`); the $\theta$-KL adds
    $-\bar{\mathcal L}\,\mu_\theta$ and $-\bar{\mathcal L}\,\tfrac12(\sigma_\theta^2 - 1)$.

    Parameters
    ----------
    destimate : float, the upstream gradient ($-1/N$ for the per-datapoint loss)

    Returns
    -------
    grads : dict, keyed like ``model.params``: the encoder's gradient and $\mu_\theta$'s (``dec.*``)
    dlogvar : dict name -> ndarray, the gradient for ``theta_logvar``
    """
    dbounds = minibatch_backward(destimate, cache.minibatch)
    dlog_px_z, dkl_z = sgvb_b_backward(dbounds, cache.estimate)
    dz, dtheta = decoder_loglik_backward(dlog_px_z, cache.loglik)
    dmu_z, dlogvar_z = kl_backward(dkl_z, cache.kl_z)
    dmu_s, dlogvar_s = sample_backward(dz, cache.sample)
    grads = encoder_backward(dmu_z + dmu_s, dlogvar_z + dlogvar_s, cache.encoder)
    dmu, dlogvar = theta_sample_backward({name: dtheta[name] for name in cache.names}, cache.theta)
    dmu_kl, dlogvar_kl = theta_kl_backward(-destimate, cache.kl_theta)
    for name in cache.names:
        grads[name] = dmu[name] + dmu_kl[name]
        dlogvar[name] = dlogvar[name] + dlogvar_kl[name]
    return grads, dlogvar


class Algorithm2Cache(NamedTuple):
    L: int
    draws: list


def algorithm2_forward(model, X, eps, zetas, theta_logvar, N):
    r"""Algorithm 2's estimate $\frac1L\sum_{l=1}^L f_\phi(x^{(l)}, \epsilon^{(l)}, \zeta^{(l)})$: row $l$ of
    ``X`` is $x^{(l)}$, with its own noise ``eps[:, l]`` and its own $\zeta^{(l)}$ = ``zetas[l]``.

    Each $f_\phi$ is :func:`fullvb_bound_forward` on one row ($M = 1$), so each has the
    $\theta$-KL once and the average keeps it once.

    Returns
    -------
    estimate : float
    bounds : ndarray (L,), $\tilde{\mathcal L}^B(\tilde\theta^{(l)}, \phi; x^{(l)})$
    cache : Algorithm2Cache
    """
    L = len(X)
    if len(zetas) != L:
        raise ValueError(f"Algorithm 2 needs one zeta per row: {L} rows, {len(zetas)} zetas")
    draws, estimates, bounds = [], [], []
    for l in range(L):
        f, bound, cache = fullvb_bound_forward(model, X[l:l + 1], eps[:, l:l + 1], zetas[l],
                                               theta_logvar, N)
        estimates.append(f)
        bounds.append(bound)
        draws.append(cache)
    return float(np.mean(estimates)), np.concatenate(bounds), Algorithm2Cache(L, draws)


def algorithm2_backward(destimate, cache):
    r"""Backward of :func:`algorithm2_forward`: $g = \frac1L \sum_l \nabla_\phi f_\phi(\cdot^{(l)})$
    (the loop of Algorithm 2), with the upstream gradient ``destimate``.

    Returns
    -------
    grads, dlogvar : as :func:`fullvb_bound_backward`
    """
    total = None
    for draw in cache.draws:
        grads, dlogvar = fullvb_bound_backward(destimate / cache.L, draw)
        if total is None:
            total = grads, dlogvar
            continue
        for acc, new in zip(total, (grads, dlogvar)):
            for name, g in new.items():
                acc[name] += g
    return total
