r"""The fused engine's optimizer step: the steps of :mod:`minivae.optim`, run by compiled kernels.

:meth:`minivae.optim.Adagrad.update` (and SGD's, Adam's) is the readable version, one NumPy
expression per tensor. Here the same step runs as one in-place kernel (:mod:`minivae.fused.kernels`)
over all parameters at once, when the parameters, the gradients and every state slot each tile
one flat buffer (:mod:`minivae.flat`: the model, the fast path and ``init_state`` allocate them
so), and otherwise one kernel per tensor. The kernels evaluate the elementwise formulas of
:mod:`minivae.optim` (``adagrad_param``, ``moment``, ...), so the formulas are written once;
``tests/test_engines.py`` holds the two versions to round-off.

:func:`update_sum` steps along the sum of the fast path's per-thread gradient parts without
storing the sum (:class:`minivae.fused.fastpath.GradientParts`).
"""
import numpy as np

from .. import flat
from ..optim import SGD, Adagrad, Adam, pack_state
from . import kernels

__all__ = ["update", "update_sum", "supports"]


def _sgd(opt, p, g, slots, decay):
    kernels.sgd(p, g, opt.lr, decay)


def _adagrad(opt, p, g, slots, decay):
    kernels.adagrad(p, g, slots["sum_sq"], opt.lr, opt.delta, decay)


def _adam(opt, p, g, slots, decay):
    slots["t"] += 1
    t = int(slots["t"][0])
    kernels.adam(p, g, slots["m"], slots["v"], opt.lr, opt.beta1, opt.beta2, opt.epsilon,
                 1.0 - opt.beta1 ** t, 1.0 - opt.beta2 ** t, decay)


def _adagrad_sum(opt, p, parts, slots, decay):
    kernels.adagrad_sum(p, parts, slots["sum_sq"], opt.lr, opt.delta, decay)


_STEPS = {SGD: _sgd, Adagrad: _adagrad, Adam: _adam}
_STEP_SUMS = {Adagrad: _adagrad_sum}


def supports(optimizer):
    """Whether the kernels know ``optimizer``'s step (else the fused engine runs its ``update``)."""
    return type(optimizer) in _STEPS


def _flat_view(a, name):
    """``a`` as a 1-D view that an in-place kernel can write through."""
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous array to be updated in place")
    return a.reshape(-1)


def _slot_spans(state, names, size):
    slots = {slot: flat.span(state[n][slot] for n in names) for slot in state[names[0]]}
    return None if any(s is None or s.size != size for s in slots.values()) else slots


def _flat_slots(state, params, size):
    """``(state, slots)``, each slot as one span over all tensors; a state built elsewhere (a
    loaded checkpoint) is packed once. ``slots`` is ``None`` if they still do not tile."""
    names = list(params)
    slots = _slot_spans(state, names, size)
    if slots is None:
        state = pack_state(state, params)
        slots = _slot_spans(state, names, size)
    return state, slots


def _update_flat(opt, params, grads, state, decay):
    """One step over all tensors when the parameters and gradients each tile one buffer
    (:func:`minivae.flat.span`); returns the state, or ``None`` if they do not."""
    names = list(params)
    p, g = flat.span(params[n] for n in names), flat.span(grads[n] for n in names)
    if p is None or g is None or g.size != p.size:
        return None
    state, slots = _flat_slots(state, params, p.size)
    if slots is None:
        return None
    _STEPS[type(opt)](opt, p, g, slots, decay)
    return state


def update(opt, params, grads, state=None, decay=0.0):
    """``opt.update(params, grads, state, decay)`` with the kernels: the same step, the same
    state, in place. An optimizer the kernels do not know runs its own ``update``."""
    if not supports(opt):
        return opt.update(params, grads, state, decay=decay)
    if state is None:
        state = opt.init_state(params)
    if params.keys() != grads.keys():
        raise ValueError(f"grads keys differ from params keys: {sorted(params.keys() ^ grads.keys())}")
    if opt.one_call and params:
        done = _update_flat(opt, params, grads, state, float(decay))
        if done is not None:
            return done
    for name, p in params.items():
        slots = {slot: _flat_view(a, f"state[{name!r}][{slot!r}]") for slot, a in state[name].items()}
        _STEPS[type(opt)](opt, _flat_view(p, name), np.ravel(grads[name]), slots, float(decay))
    return state


def update_sum(opt, params, parts, state=None, decay=0.0):
    """:func:`update` along the sum of ``parts``, flat arrays over all parameters in ``params``'
    order, added as the step runs and never stored. Returns the new state; or ``None``, having
    changed nothing, when this optimizer or these arrays do not allow it (then sum the parts and
    call :func:`update`)."""
    names = list(params)
    step_sum = _STEP_SUMS.get(type(opt))
    p = flat.span(params[n] for n in names) if step_sum and names else None
    if p is None or any(part.shape != p.shape for part in parts):
        return None
    state, slots = _flat_slots(opt.init_state(params) if state is None else state, params, p.size)
    if slots is None:
        return None
    step_sum(opt, p, parts, slots, float(decay))
    return state
