"""Dicts of arrays that are views of one flat buffer, and finding that buffer again.

An optimizer update (:mod:`minivae.optim`) and the trainer's finiteness check work on every
parameter tensor in turn. When the tensors of a dict are views that tile one 1-D buffer, in
order and without gaps, one kernel call over that buffer does the same work as one call per
tensor, and spares the per-call overhead (the paper's MNIST model has 10 tensors; the update
went from about 0.30 to 0.20 ms in float32 on two threads, docs/performance.md).
:class:`minivae.VAE` allocates its parameters this way, :class:`minivae.fused.fastpath.FastPath` its
gradients, and the optimizers their accumulators. Everything still works, one tensor at a time,
with dicts of separate arrays.
"""
import numpy as np

__all__ = ["allocate", "pack", "span"]


def allocate(shapes, dtype):
    """A dict of uninitialised arrays with the given ``{name: shape}``, views of one new buffer."""
    sizes = {name: int(np.prod(shape, dtype=np.int64)) for name, shape in shapes.items()}
    buffer = np.empty(sum(sizes.values()), dtype)
    views, start = {}, 0
    for name, shape in shapes.items():
        views[name] = buffer[start:start + sizes[name]].reshape(shape)
        start += sizes[name]
    return views


def pack(arrays, dtype=None):
    """The arrays of the dict ``arrays`` copied into views of one new buffer (same keys, shapes)."""
    if dtype is None:
        dtype = np.result_type(*arrays.values())
    views = allocate({name: np.shape(a) for name, a in arrays.items()}, dtype)
    for name, a in arrays.items():
        views[name][...] = a
    return views


def _address(a):
    return a.__array_interface__["data"][0]


def _find(arrays):
    base = arrays[0].base if arrays else None
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    start = end = _address(arrays[0])
    for a in arrays:
        if a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous \
                or _address(a) != end:
            return None
        end += a.nbytes
    offset = (start - _address(base)) // base.itemsize
    return base[offset:offset + (end - start) // base.itemsize]


_cache = {}
_CACHE_SIZE = 16


def span(arrays):
    """The 1-D view that the arrays, in the order given, tile without gaps, or ``None``.

    Each array must be a C-contiguous view of the same 1-D buffer, starting where the one before
    it ends. The span is a view of that buffer: an in-place kernel on it changes the arrays.
    The answer is remembered for the last few sequences of arrays (which it keeps alive), so
    asking again each training step costs a few microseconds.
    """
    arrays = tuple(arrays)
    key = tuple(map(id, arrays))
    hit = _cache.get(key)
    if hit is not None:  # the cache holds the arrays, so equal ids mean the same arrays
        return hit[1]
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()  # (one atomic call: safe with trainers in several threads)
    found = _find(arrays)
    _cache[key] = (arrays, found)
    return found
