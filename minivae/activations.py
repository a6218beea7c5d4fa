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

__all__ = ["ACTIVATIONS", "ActivationCache", "activation_forward", "activation_backward",
           "sigmoid", "softplus", "check_activation", "sigmoid_from", "softplus_from",
           "softplus_from_log1p", "tanh_derivative", "sigmoid_derivative"]


# -- Elementwise formulas, shared with the fused engine -------------------------------------
# Plain NumPy, on scalars or arrays. minivae.fused.kernels.scalar registers each of these functions
# with Numba, so the compiled loops evaluate these very lines: they are written once.


def sigmoid_from(a, e):
    r"""$\sigma(a)$ given $e = e^{-|a|}$: with $r = 1/(1+e)$, $r$ for $a \ge 0$ and $e r$ for $a < 0$."""
    r = 1.0 / (1.0 + e)
    return (a >= 0) * r + (a < 0) * (e * r)  # one term is exactly zero: no cancellation


def softplus_from_log1p(a, l):
    r"""$\log(1 + e^a) = \max(a, 0) + \log(1 + e^{-|a|})$ given $l = \log(1 + e^{-|a|})$."""
    return np.maximum(a, 0.0) + l


def softplus_from(a, e):
    r"""$\log(1 + e^a)$ given $e = e^{-|a|}$ (:func:`softplus_from_log1p`)."""
    return softplus_from_log1p(a, np.log1p(e))


def sigmoid(a):
    r"""$\sigma(a) = 1/(1 + e^{-a})$ in two branches that never overflow (:func:`sigmoid_from`).

    Parameters
    ----------
    a : ndarray, any shape (or a float)

    Returns
    -------
    ndarray, the shape of ``a``, in (0, 1); exactly 0 or 1 only where that is the rounded value,
    never inf or NaN (for a = -1000 the naive $e^{a}/(1+e^{a})$ is fine, for a = 1000 it is inf/inf)
    """
    # exercise: activations begin
    return sigmoid_from(a, np.exp(-np.abs(a)))
    # exercise: end


def softplus(a):
    r"""$\log(1 + e^a)$, finite for every finite $a$ (:func:`softplus_from`)."""
    return softplus_from(a, np.exp(-np.abs(a)))


class ActivationCache(NamedTuple):
    """What an activation's backward needs: its name, input ``a`` and output ``h``."""
    name: str
    a: np.ndarray
    h: np.ndarray


def tanh_derivative(a, h):
    r"""$\tanh'(a) = 1 - \tanh^2(a)$, written with the output $h = \tanh(a)$ that the forward
    already computed (the cache keeps it): $1 - h^2$.

    Parameters
    ----------
    a : ndarray, any shape, the pre-activation
    h : ndarray, the shape of ``a``, $\tanh(a)$

    Returns
    -------
    ndarray, the shape of ``a``
    """
    # exercise: activations begin
    return 1.0 - h * h
    # exercise: end


def sigmoid_derivative(a, h):
    r"""$\sigma'(a) = \sigma(a)(1 - \sigma(a)) = h(1 - h)$, from the output $h = \sigma(a)$.

    Returns
    -------
    ndarray, the shape of ``a``
    """
    # exercise: activations begin
    return h * (1.0 - h)
    # exercise: end


def _table() -> dict[str, tuple[Callable, Callable]]:
    """name -> (f(a), f'(a) written as a function of (a, h)). Built when called, so that the
    functions above are looked up by name each time (an exercise run substitutes its own)."""
    return {
        "identity": (lambda a: a.copy(), lambda a, h: np.ones_like(a)),
        "tanh": (np.tanh, tanh_derivative),
        "sigmoid": (sigmoid, sigmoid_derivative),
        "softplus": (softplus, lambda a, h: sigmoid(a)),
        "relu": (lambda a: np.maximum(a, 0.0), lambda a, h: (a > 0).astype(a.dtype)),
    }


ACTIVATIONS = tuple(_table())


def check_activation(name):
    """Raise ``ValueError`` unless ``name`` is one of :data:`ACTIVATIONS`."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
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
    f, _ = _table()[check_activation(name)]
    h = f(a)
    return h, ActivationCache(name, a, h)


def activation_backward(dh, cache):
    r"""Backward of :func:`activation_forward`: $\partial\ell/\partial a = \partial\ell/\partial h \cdot f'(a)$.

    ReLU's derivative at exactly 0 is taken as 0.
    """
    _, fprime = _table()[cache.name]
    return dh * fprime(cache.a, cache.h)

