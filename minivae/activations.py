r"""Elementwise activations as forward/backward pairs.

Every activation maps a pre-activation ``a`` to ``h = f(a)`` (any shape, float64) and its
backward turns an upstream gradient ``dh`` into ``da = dh * f'(a)``. The derivative is
written in terms of whichever of ``a`` or ``h`` is cheaper and more stable, which is why
the cache keeps both.

The paper's MLPs (App. C) use tanh hidden units; the Frey Face decoder puts a sigmoid on
its mean head (App. C.2).
"""
from typing import Callable, NamedTuple

import numpy as np

from .kernels.scalar import sigmoid, softplus  # the hot path's own formulas, written once

__all__ = ["ACTIVATIONS", "ActivationCache", "activation_forward", "activation_backward",
           "sigmoid", "softplus", "check_activation"]


class ActivationCache(NamedTuple):
    """What an activation's backward needs: its name, input ``a`` and output ``h``."""
    name: str
    a: np.ndarray
    h: np.ndarray


# name -> (f(a), f'(a) written as a function of (a, h))
_TABLE: dict[str, tuple[Callable, Callable]] = {
    "identity": (lambda a: a.copy(), lambda a, h: np.ones_like(a)),
    "tanh": (np.tanh, lambda a, h: 1.0 - h * h),
    "sigmoid": (sigmoid, lambda a, h: h * (1.0 - h)),
    "softplus": (softplus, lambda a, h: sigmoid(a)),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, h: (a > 0).astype(a.dtype)),
}
ACTIVATIONS = tuple(_TABLE)


def check_activation(name):
    """Raise ``ValueError`` unless ``name`` is one of :data:`ACTIVATIONS`."""
    if not isinstance(name, str) or name not in _TABLE:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return name


def activation_forward(a, name):
    r"""Apply the activation ``name`` elementwise.

    Parameters
    ----------
    a : ndarray, any shape, float
        Pre-activations.
    name : str
        One of ``identity``, ``tanh``, ``sigmoid``, ``softplus``, ``relu``.

    Returns
    -------
    h : ndarray, same shape as ``a``
    cache : ActivationCache
    """
    f, _ = _TABLE[check_activation(name)]
    h = f(a)
    return h, ActivationCache(name, a, h)


def activation_backward(dh, cache):
    r"""Backward of :func:`activation_forward`: $\partial\ell/\partial a = \partial\ell/\partial h \cdot f'(a)$.

    ReLU's derivative at exactly 0 is taken as 0.
    """
    _, fprime = _TABLE[cache.name]
    return dh * fprime(cache.a, cache.h)
