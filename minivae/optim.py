r"""Gradient-based optimizers in one shape: ``state = opt.update(params, grads, state)``.

``params`` and ``grads`` are dicts keyed by the full parameter name (``"enc.W1"``, ...);
``update`` changes the arrays of ``params`` in place, to *decrease* the loss (the negative
bound), and returns ``state``, a dict keyed by the same names whose values are dicts of
per-parameter arrays (accumulators, moments, step counts). Pass ``state=None`` on the first
call. The state holds only arrays, so a checkpoint can store it in ``.npz``.

``update(..., decay=c)`` steps on ``grads + c * params``: the trainer folds the weight prior's
gradient ($\theta / N$) into the update this way.

This is the readable optimizer, plain NumPy, one tensor at a time: the reference engine runs
it. The fused engine (:mod:`minivae.fused.update`) applies the same steps with compiled kernels
over all parameters at once; both evaluate the elementwise formulas at the bottom of this file.
"""
import inspect

import numpy as np

from . import flat
from .validation import check_nonnegative_float, check_positive_float

__all__ = ["Adagrad", "SGD", "Adam", "OPTIMIZERS", "make_optimizer"]

OPTIMIZERS = {}
"""Every optimizer by name. A subclass of the optimizers' base class that sets ``name`` adds
itself when it is defined; then ``make_optimizer``, checkpoints and ``minivae train --optimizer``
know it. A new optimizer is that one class: ``name``, ``_init_slot`` (its state per tensor) and
``step`` (``tests/test_optim.py`` trains and resumes RMSprop this way)."""


class _Optimizer:
    name = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls) and cls.name:
            OPTIMIZERS[cls.name] = cls
    one_call = True
    """Whether the fused engine may run one step over all parameters at once: every state slot
    has its parameter's shape and the step treats each entry alike."""

    def __init__(self, lr):
        self.lr = check_positive_float("the step size lr", lr)

    def config(self):
        """Constructor arguments plus ``name``, JSON-ready."""
        return {"name": self.name, **{k: v for k, v in vars(self).items()}}

    def init_state(self, params):
        """A fresh state for ``params``; each slot's arrays are views of one buffer
        (:mod:`minivae.flat`) when :attr:`one_call`, so the fused engine can update them at once."""
        state = {name: self._init_slot(p) for name, p in params.items()}
        return pack_state(state, params) if self.one_call else state

    def update(self, params, grads, state=None, decay=0.0):
        """Take one step on every entry of ``params`` (in place) along ``grads + decay * params``;
        return the new ``state``."""
        if state is None:
            state = self.init_state(params)
        if params.keys() != grads.keys():
            raise ValueError(f"grads keys differ from params keys: {sorted(params.keys() ^ grads.keys())}")
        for name, theta in params.items():
            g = grads[name] + decay * theta if decay else grads[name]
            self.step(theta, g, state[name])
        return state

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def pack_state(state, params):
    """``state`` with each slot's arrays copied into views of one buffer, in ``params``' order."""
    names = list(params)
    for slot in state[names[0]] if names else ():
        views = flat.pack({name: state[name][slot] for name in names}, params[names[0]].dtype)
        for name in names:
            state[name][slot] = views[name]
    return state


class SGD(_Optimizer):
    r"""Plain stochastic gradient descent, $\theta \leftarrow \theta - \eta g$."""
    name = "sgd"

    def __init__(self, lr=0.01):
        super().__init__(lr)

    def _init_slot(self, p):
        return {}

    def step(self, theta, g, slots):
        """One step on the tensor ``theta``, in place."""
        theta -= self.lr * g


class Adagrad(_Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer 2011) with one global step size $\eta$, as the paper uses it.

    Per entry, $G \leftarrow G + g^2$, then $\theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \delta)$.
    The accumulator $G$ starts at ``initial_accumulator`` (default 0, as in PyTorch's Adagrad), so
    the first step moves every entry by about $\eta$ in the direction of $-\text{sign}(g)$; $\delta$
    (default 1e-10) only guards entries whose gradient has always been exactly zero. A result
    below the dtype's smallest normal number is set to 0 (:func:`flush_subnormal`).
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

    def step(self, theta, g, slots):
        """One step on the tensor ``theta``, in place (:func:`adagrad_step`)."""
        adagrad_step(theta, g, slots["sum_sq"], self.lr, self.delta)


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

    def corrections(self, slots):
        r"""Count this step in ``slots["t"]`` and return the bias corrections $(1-\beta_1^t, 1-\beta_2^t)$."""
        slots["t"][...] += 1
        t = int(slots["t"])
        return 1.0 - self.beta1 ** t, 1.0 - self.beta2 ** t

    def step(self, theta, g, slots):
        """One step on the tensor ``theta``, in place."""
        c1, c2 = self.corrections(slots)
        adam_step(theta, g, slots["m"], slots["v"], self.lr, self.beta1, self.beta2, self.epsilon, c1, c2)


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


# -- Elementwise formulas, shared with the fused engine -------------------------------------
# Plain NumPy, on scalars or arrays. minivae.fused.kernels.scalar registers each of these functions
# with Numba, so the compiled loops evaluate these very lines: they are written once.


def adagrad_step(theta, g, G, lr, delta):
    r"""One Adagrad step on one tensor, in place: first $G \leftarrow G + g^2$, then
    $\theta \leftarrow \theta - \eta\, g / (\sqrt{G} + \delta)$ with the *updated* $G$ (Duchi et al.
    2011; the paper's optimizer, Sec. 5).

    Parameters
    ----------
    theta : ndarray, the parameter tensor, changed in place
    g : ndarray, the shape of ``theta``, the gradient of the loss (to decrease)
    G : ndarray, the shape of ``theta``, the running sum of squared gradients, changed in place
    lr : float, the global step size $\eta$
    delta : float, $\delta$, guards entries whose gradient has always been zero

    Returns
    -------
    None: ``theta`` and ``G`` change in place (``G[...] = ...``, ``theta[...] = ...``)
    """
    # exercise: adagrad begin
    G[...] = adagrad_accumulate(G, g)
    theta[...] = adagrad_param(theta, g, G, lr, delta, np.finfo(theta.dtype).tiny)
    # exercise: end


def adagrad_accumulate(G, g):
    """Adagrad's accumulator after one more gradient: $G + g^2$."""
    return G + g * g


def adagrad_param(p, g, G, lr, delta, tiny):
    r"""Adagrad's step with the updated accumulator, $\theta - \eta\, g / (\sqrt G + \delta)$,
    flushed to 0 below ``tiny`` (:func:`flush_subnormal`)."""
    return flush_subnormal(p - lr * g / (np.sqrt(G) + delta), tiny)


def flush_subnormal(x, tiny):
    r"""$x$, or 0 where $|x| <$ ``tiny``, the dtype's smallest normal number.

    Under Adagrad with the weight prior, the weights of pixels that are never on shrink
    geometrically until they are subnormal; there their prior gradient $\theta/N$ underflows,
    so they stay subnormal for good (4.4% of the paper's model in float32 after 8,000 steps), and
    arithmetic on subnormal numbers is slow on x86 (the float32 update took 1.1 ms instead of
    0.37 ms; docs/performance.md). A weight below ``tiny`` has no effect on the model."""
    return x * (np.abs(x) >= tiny)


def moment(m, g, beta):
    r"""Exponential moving average $\beta m + (1 - \beta) g$ (Adam's first and second moments)."""
    return beta * m + (1.0 - beta) * g


def adam_step(theta, g, m, v, lr, beta1, beta2, epsilon, correction1, correction2):
    r"""One Adam step on one tensor, in place: the moments $m, v$ take in $g$ and $g^2$
    (:func:`moment`), then $\theta$ steps with them (:func:`adam_param`). ``correction1`` and
    ``correction2`` are $1 - \beta_1^t$ and $1 - \beta_2^t$ for this step's $t$."""
    m[...] = moment(m, g, beta1)
    v[...] = moment(v, g * g, beta2)
    theta[...] = adam_param(theta, m, v, lr, epsilon, correction1, correction2)


def adam_param(p, m, v, lr, epsilon, correction1, correction2):
    r"""Adam's step $\theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$, $\hat m = m / c_1$, $\hat v = v / c_2$."""
    return p - lr * (m / correction1) / (np.sqrt(v / correction2) + epsilon)
