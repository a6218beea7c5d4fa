r"""The affine layer and the multilayer perceptron (App. C) as forward/backward pairs.

Shapes are batch first: inputs ``X (M, D_in)``, weights ``W (D_in, D_out)``, biases ``b (D_out,)``.
An MLP here is a stack of hidden layers, each ``h = f(h_prev @ W + b)``; the output heads
(``mu``, ``logvar``, logits) are plain affine layers that the model adds on top.
"""
from typing import NamedTuple

import numpy as np

from .activations import activation_backward, activation_forward

__all__ = ["AffineCache", "MLPCache", "affine_forward", "affine_backward", "mlp_forward",
           "mlp_backward"]


class AffineCache(NamedTuple):
    """Inputs of :func:`affine_forward` that its backward needs."""
    X: np.ndarray
    W: np.ndarray


class MLPCache(NamedTuple):
    """One ``(AffineCache, ActivationCache)`` pair per hidden layer, input side first."""
    layers: list


def affine_forward(X, W, b):
    r"""$\text{out} = X W + b$.

    Parameters
    ----------
    X : ndarray (M, D_in)
    W : ndarray (D_in, D_out)
    b : ndarray (D_out,)

    Returns
    -------
    out : ndarray (M, D_out)
    cache : AffineCache
    """
    # exercise: affine begin
    out = X @ W + b
    # exercise: end
    return out, AffineCache(X, W)


def affine_backward(dout, cache, param_grads=True):
    r"""Backward of :func:`affine_forward`.

    $dX = \text{dout}\, W^\top$, $dW = X^\top \text{dout}$, $db = \sum_m \text{dout}_m$.

    Returns
    -------
    dX : ndarray (M, D_in)
    dW : ndarray (D_in, D_out), or ``None`` with ``param_grads=False``
    db : ndarray (D_out,), or ``None`` with ``param_grads=False``
    """
    X, W = cache
    # exercise: affine begin
    dX = dout @ W.T
    if not param_grads:  # only the input's gradient, e.g. for HMC in z
        return dX, None, None
    dW = X.T @ dout
    db = dout.sum(axis=0)
    # exercise: end
    return dX, dW, db


def mlp_forward(X, weights, biases, activation):
    r"""Hidden stack of an MLP: $h_0 = X$, $h_k = f(h_{k-1} W_k + b_k)$.

    Parameters
    ----------
    X : ndarray (M, D)
    weights, biases : sequences of ndarray, ``W_k (D_{k-1}, H_k)`` and ``b_k (H_k,)``
    activation : str
        Name of the activation ``f`` (see :mod:`minivae.activations`).

    Returns
    -------
    H : ndarray (M, H_K), the last hidden layer (``X`` itself when there are no layers)
    cache : MLPCache
    """
    layers = []
    h = X
    # exercise: mlp begin
    for W, b in zip(weights, biases, strict=True):
        a, affine_cache = affine_forward(h, W, b)
        h, act_cache = activation_forward(a, activation)
        layers.append((affine_cache, act_cache))
    # exercise: end
    return h, MLPCache(layers)


def mlp_backward(dH, cache, param_grads=True):
    r"""Backward of :func:`mlp_forward`.

    Returns
    -------
    dX : ndarray (M, D)
    dweights, dbiases : lists of ndarray, in the order of the forward's ``weights``/``biases``
        (lists of ``None`` with ``param_grads=False``)
    """
    dweights, dbiases = [], []
    dh = dH
    # exercise: mlp begin
    for affine_cache, act_cache in reversed(cache.layers):
        da = activation_backward(dh, act_cache)
        dh, dW, db = affine_backward(da, affine_cache, param_grads)
        dweights.append(dW)
        dbiases.append(db)
    # exercise: end
    return dh, dweights[::-1], dbiases[::-1]
