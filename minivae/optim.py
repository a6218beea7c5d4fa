r"""Gradient-based optimizers in one shape: ``state = opt.update(params, grads, state)``.

``params`` and ``grads`` are dicts keyed by the full parameter name (``"enc.W1"``, ...);
``update`` changes the arrays of ``params`` in place, to *decrease* the loss (the negative
bound), and returns ``state``, a dict keyed by the same names whose values are dicts of
per-parameter arrays (accumulators, moments, step counts). Pass ``state=None`` on the first
call. The state holds only arrays, so a checkpoint can store it in ``.npz``.

``update(..., decay=c)`` steps on ``grads + c * params`` without forming that sum: the trainer
folds the weight prior's gradient ($\theta / N$) into the update this way. Each update is one
in-place kernel per tensor (:mod:`minivae.kernels`), on the active backend; when the parameters,
the gradients and every state slot each tile one flat buffer (:mod:`minivae.flat`: the model, the
fast path and :meth:`~_Optimizer.init_state` allocate them so), Adagrad and SGD make that one call
over all parameters at once.
"""
import inspect

import numpy as np

from . import flat, kernels
from .validation import check_nonnegative_float, check_positive_float

__all__ = ["Adagrad", "SGD", "Adam", "OPTIMIZERS", "make_optimizer"]


def _flat_view(a, name):
    """``a`` as a 1-D view that an in-place kernel can write through."""
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous array to be updated in place")
    return a.reshape(-1)


class _Optimizer:
    name = ""
    one_call = True
    """Whether one :meth:`_step` may run over all parameters at once: every state slot has its
    parameter's shape and the step treats each entry alike."""

    def __init__(self, lr):
        self.lr = check_positive_float("the step size lr", lr)

    def config(self):
        """Constructor arguments plus ``name``, JSON-ready."""
        return {"name": self.name, **{k: v for k, v in vars(self).items()}}

    def init_state(self, params):
        """A fresh state for ``params``."""
        state = {name: self._init_slot(p) for name, p in params.items()}
        return self._packed(state, params) if self.one_call else state

    def _packed(self, state, params):
        """``state`` with each slot's arrays copied into views of one buffer, in ``params``' order."""
        names = list(params)
        for slot in state[names[0]] if names else ():
            views = flat.pack({name: state[name][slot] for name in names}, params[names[0]].dtype)
            for name in names:
                state[name][slot] = views[name]
        return state

    def _slot_spans(self, state, names, size):
        slots = {slot: flat.span(state[n][slot] for n in names) for slot in state[names[0]]}
        return None if any(s is None or s.size != size for s in slots.values()) else slots

    def _flat_slots(self, state, params, size):
        """``(state, slots)``, each slot as one span over all tensors; a state built elsewhere (a
        loaded checkpoint) is packed once. ``slots`` is ``None`` if they still do not tile."""
        names = list(params)
        slots = self._slot_spans(state, names, size)
        if slots is None:
            state = self._packed(state, params)
            slots = self._slot_spans(state, names, size)
        return state, slots

    def _update_flat(self, params, grads, state, decay):
        """One :meth:`_step` over all tensors when the parameters and gradients each tile one
        buffer (:func:`minivae.flat.span`); returns the state, or ``None`` if they do not."""
        names = list(params)
        p, g = flat.span(params[n] for n in names), flat.span(grads[n] for n in names)
        if p is None or g is None or g.size != p.size:
            return None
        state, slots = self._flat_slots(state, params, p.size)
        if slots is None:
            return None
        self._step(p, g, slots, decay)
        return state

    _step_sum = None  # (p, parts, slots, decay): one step along the sum of the parts

    def update_sum(self, params, parts, state=None, decay=0.0):
        """:meth:`update` along the sum of ``parts``, flat arrays over all parameters in
        ``params``' order (:class:`minivae.fastpath.GradientParts`), added as the step runs and
        never stored. Returns the new state; or ``None``, having changed nothing, when this
        optimizer or these arrays do not allow it (then sum the parts and call :meth:`update`)."""
        names = list(params)
        p = flat.span(params[n] for n in names) if self._step_sum and names else None
        if p is None or any(part.shape != p.shape for part in parts):
            return None
        state, slots = self._flat_slots(self.init_state(params) if state is None else state,
                                        params, p.size)
        if slots is None:
            return None
        self._step_sum(p, parts, slots, float(decay))
        return state

    def update(self, params, grads, state=None, decay=0.0):
        """Take one step on every entry of ``params`` (in place) along ``grads + decay * params``;
        return the new ``state`` (its arrays may be new ones: keep the returned dict)."""
        if state is None:
            state = self.init_state(params)
        if params.keys() != grads.keys():
            raise ValueError(f"grads keys differ from params keys: {sorted(params.keys() ^ grads.keys())}")
        if self.one_call and params:
            done = self._update_flat(params, grads, state, float(decay))
            if done is not None:
                return done
        for name, p in params.items():
            slots = {slot: _flat_view(a, f"state[{name!r}][{slot!r}]") for slot, a in state[name].items()}
            self._step(_flat_view(p, name), np.ravel(grads[name]), slots, float(decay))
        return state

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class SGD(_Optimizer):
    r"""Plain stochastic gradient descent, $\theta \leftarrow \theta - \eta g$."""
    name = "sgd"

    def __init__(self, lr=0.01):
        super().__init__(lr)

    def _init_slot(self, p):
        return {}

    def _step(self, p, g, slot, decay):
        kernels.sgd(p, g, self.lr, decay)


class Adagrad(_Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer 2011) with one global step size $\eta$, as the paper uses it.

    Per entry, $G \leftarrow G + g^2$, then $\theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \delta)$.
    The accumulator $G$ starts at ``initial_accumulator`` (default 0, as in PyTorch's Adagrad), so
    the first step moves every entry by about $\eta$ in the direction of $-\text{sign}(g)$; $\delta$
    (default 1e-10) only guards entries whose gradient has always been exactly zero.
    The paper picks $\eta$ from {0.01, 0.02, 0.1} (Sec. 5).
    """
    name = "adagrad"

    def __init__(self, lr=0.02, delta=1e-10, initial_accumulator=0.0):
        super().__init__(lr)
        self.delta = check_nonnegative_float("delta", delta)
        self.initial_accumulator = check_nonnegative_float("initial_accumulator",
                                                           initial_accumulator)

    def _init_slot(self, p):
        return {"sum_sq": np.full_like(p, self.initial_accumulator)}

    def _step(self, p, g, slot, decay):
        kernels.adagrad(p, g, slot["sum_sq"], self.lr, self.delta, decay)

    def _step_sum(self, p, parts, slot, decay):
        kernels.adagrad_sum(p, parts, slot["sum_sq"], self.lr, self.delta, decay)


class Adam(_Optimizer):
    r"""Adam (Kingma & Ba 2015) with bias-corrected moments:
    $m \leftarrow \beta_1 m + (1-\beta_1) g$, $v \leftarrow \beta_2 v + (1-\beta_2) g^2$,
    $\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$ with
    $\hat m = m/(1-\beta_1^t)$, $\hat v = v/(1-\beta_2^t)$."""
    name = "adam"
    one_call = False  # the step count t is one scalar per tensor

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__(lr)
        self.beta1 = check_nonnegative_float("beta1", beta1, below=1.0)
        self.beta2 = check_nonnegative_float("beta2", beta2, below=1.0)
        self.epsilon = check_nonnegative_float("epsilon", epsilon)

    def _init_slot(self, p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p), "t": np.zeros((), dtype=np.int64)}

    def _step(self, p, g, slot, decay):
        slot["t"] += 1
        t = int(slot["t"][0])
        kernels.adam(p, g, slot["m"], slot["v"], self.lr, self.beta1, self.beta2, self.epsilon,
                     1.0 - self.beta1 ** t, 1.0 - self.beta2 ** t, decay)


OPTIMIZERS = {cls.name: cls for cls in (Adagrad, SGD, Adam)}


def make_optimizer(name="adagrad", **kwargs):
    """Build an optimizer by name (``adagrad``, ``sgd``, ``adam``) with its keyword arguments."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    known = list(inspect.signature(cls).parameters)
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise TypeError(f"optimizer {name!r} has no argument {', '.join(map(repr, unknown))}; "
                        f"it takes {', '.join(known)}")
    return cls(**kwargs)
