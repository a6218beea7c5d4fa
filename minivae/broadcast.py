"""Undo NumPy broadcasting in backward passes.

With ``L`` samples per datapoint, ``eps`` and ``z`` have shape ``(L, M, J)`` while ``mu`` and
``logvar`` have shape ``(M, J)``: the forward broadcasts over the leading sample axis, so the
backward must sum the gradient over it.
"""
import numpy as np

__all__ = ["sum_to_shape"]


def sum_to_shape(g, shape):
    """Sum ``g`` over the leading axes it has beyond ``shape``.

    Parameters
    ----------
    g : ndarray, shape ``(..., *shape)``
    shape : tuple of int

    Returns
    -------
    ndarray of shape ``shape``
    """
    extra = g.ndim - len(shape)
    if extra < 0 or g.shape[extra:] != tuple(shape):
        raise ValueError(f"cannot reduce gradient of shape {g.shape} to {tuple(shape)}")
    return g.sum(axis=tuple(range(extra))) if extra else g
