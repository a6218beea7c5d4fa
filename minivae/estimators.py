r"""The SGVB estimators of the per-datapoint bound (Sec. 2.3) and the minibatch estimator (eq. 8).

The paper maximizes the variational lower bound $\mathcal L(\theta, \phi; x^{(i)})$; this code
minimizes the loss $-\mathcal L$, but the functions here return the bound itself, per datapoint.

Shapes: ``L`` Monte Carlo samples for ``M`` datapoints give per-sample terms ``(L, M)``;
the estimators average over the sample axis and return ``(M,)``.
"""
from typing import NamedTuple

import numpy as np

__all__ = ["ESTIMATORS", "check_estimator", "sgvb_a_forward", "sgvb_a_backward", "sgvb_b_forward",
           "sgvb_b_backward", "minibatch_forward", "minibatch_backward"]

ESTIMATORS = ("A", "B")


class SGVBCache(NamedTuple):
    L: int


def check_estimator(estimator):
    """Return ``"A"`` or ``"B"`` (case-insensitive) or raise ``ValueError``."""
    name = str(estimator).upper()
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose 'A' (eq. 6) or 'B' (eq. 7)")
    return name


def sgvb_a_forward(log_px_z, log_pz, log_qz):
    r"""Generic SGVB estimator $\tilde{\mathcal L}^A$ (eq. 6):
    $\frac1L \sum_l \log p_\theta(x, z^{(l)}) - \log q_\phi(z^{(l)}|x)$, with
    $\log p_\theta(x, z) = \log p_\theta(x|z) + \log p_\theta(z)$.

    Parameters
    ----------
    log_px_z, log_pz, log_qz : ndarray (L, M)

    Returns
    -------
    bound : ndarray (M,)
    cache : SGVBCache
    """
    L = log_px_z.shape[0]
    # exercise: estimator_a begin
    bound = np.mean(log_px_z + log_pz - log_qz, axis=0)
    # exercise: end
    return bound, SGVBCache(L)


def sgvb_a_backward(dbound, cache):
    r"""Backward of :func:`sgvb_a_forward`.

    Returns
    -------
    dlog_px_z, dlog_pz, dlog_qz : ndarray (L, M)
    """
    # exercise: estimator_a begin
    d = np.broadcast_to(dbound / cache.L, (cache.L,) + dbound.shape)
    dlog_px_z, dlog_pz, dlog_qz = d.copy(), d.copy(), -d
    # exercise: end
    return dlog_px_z, dlog_pz, dlog_qz


def sgvb_b_forward(log_px_z, kl):
    r"""SGVB estimator $\tilde{\mathcal L}^B$ (eq. 7) with the KL term in closed form (App. B):
    $-D_{KL}(q_\phi(z|x)\,\|\,p_\theta(z)) + \frac1L \sum_l \log p_\theta(x|z^{(l)})$.

    Parameters
    ----------
    log_px_z : ndarray (L, M)
    kl : ndarray (M,)

    Returns
    -------
    bound : ndarray (M,)
    cache : SGVBCache
    """
    L = log_px_z.shape[0]
    # exercise: estimator_b begin
    bound = np.mean(log_px_z, axis=0) - kl
    # exercise: end
    return bound, SGVBCache(L)


def sgvb_b_backward(dbound, cache):
    r"""Backward of :func:`sgvb_b_forward`.

    Returns
    -------
    dlog_px_z : ndarray (L, M)
    dkl : ndarray (M,)
    """
    # exercise: estimator_b begin
    dlog_px_z = np.broadcast_to(dbound / cache.L, (cache.L,) + dbound.shape).copy()
    dkl = -dbound
    # exercise: end
    return dlog_px_z, dkl


class MinibatchCache(NamedTuple):
    M: int
    N: int


def minibatch_forward(bounds, N):
    r"""The minibatch estimator of the full-dataset bound (eq. 8):
    $\tilde{\mathcal L}^M(\theta, \phi; X^M) = \frac NM \sum_{i=1}^M \tilde{\mathcal L}(\theta, \phi; x^{(i)})$.

    Parameters
    ----------
    bounds : ndarray (M,), per-datapoint estimates
    N : int, the size of the whole dataset

    Returns
    -------
    estimate : float
    cache : MinibatchCache
    """
    M = bounds.shape[0]
    if M == 0:
        raise ValueError("the minibatch is empty")
    # exercise: minibatch begin
    estimate = float(N / M * np.sum(bounds))
    # exercise: end
    return estimate, MinibatchCache(M, N)


def minibatch_backward(dout, cache):
    r"""Backward of :func:`minibatch_forward`: every datapoint's bound gets ``dout * N / M``.

    Returns
    -------
    dbounds : ndarray (M,)
    """
    # exercise: minibatch begin
    dbounds = np.full(cache.M, dout * cache.N / cache.M)
    # exercise: end
    return dbounds
