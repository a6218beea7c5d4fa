r"""The parameter prior $p(\theta, \phi) = \mathcal N(0, I)$ over every parameter.

The paper's experiments (Sec. 5) add "a small weight decay term corresponding to a prior
$p(\theta) = \mathcal N(0, I)$", i.e. they find an approximate MAP estimate of the parameters.
Algorithm 1 then maximizes $\tilde{\mathcal L}^M + \log p(\theta, \phi)$; per datapoint of a
training set of size $N$, the prior term is $\frac1N \log p(\theta, \phi)$, which is how
:mod:`minivae.training.trainer` scales it.
"""
from typing import NamedTuple

import numpy as np

from .gaussian import LOG_2PI

__all__ = ["PriorCache", "log_prior_forward", "log_prior_backward"]


class PriorCache(NamedTuple):
    params: dict


def log_prior_forward(params):
    r"""$\log \mathcal N(\theta; 0, I) = -\tfrac12 \sum_k (\log 2\pi + \theta_k^2)$ over every entry
    of every array.

    Parameters
    ----------
    params : dict name -> ndarray

    Returns
    -------
    log_prior : float
    cache : PriorCache
    """
    # exercise: weight_prior begin
    total = sum(float(np.sum(p * p)) + p.size * LOG_2PI for p in params.values())
    log_prior = -0.5 * total
    # exercise: end
    return log_prior, PriorCache(params)


def log_prior_backward(dout, cache):
    r"""Backward of :func:`log_prior_forward`: $\partial/\partial\theta = -\theta$.

    Returns
    -------
    dparams : dict name -> ndarray, the keys of ``params``
    """
    # exercise: weight_prior begin
    dparams = {name: -dout * p for name, p in cache.params.items()}
    # exercise: end
    return dparams
