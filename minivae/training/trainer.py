r"""Algorithm 1 of the paper: minibatch AEVB.

::

    θ, φ ← initialize
    repeat
        X^M ← random minibatch of M datapoints
        ε ← L·M samples of p(ε) = N(0, I)
        g ← ∇_{θ,φ} [ L̃^M(θ, φ; X^M, ε) + log p(θ, φ) ]      (eqs. 7-8 and the weight prior)
        θ, φ ← update with Adagrad using g
    until convergence

Per step the code minimizes, per datapoint, $-\frac1M\sum_i \tilde{\mathcal L}(x^{(i)}) - \frac1N \log
p(\theta, \phi)$: eq. (8) divided by the training-set size $N$, so that the weight prior
$\mathcal N(0, I)$ is scaled per datapoint. Minibatches are drawn by shuffling the training set
each epoch and taking ``M`` rows at a time (a last partial batch is dropped).
"""
import inspect
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..datasets import binarize_fixed, check_binarization
from ..decoder import get_decoder
from ..engine import NonFinite
from ..estimators import check_estimator
from ..optim import Adagrad
from ..validation import check_bool, check_count, check_positive_int, check_seed
from .engines import check_engine, default_engine, make_engine
from .evaluation import mean_bound

__all__ = ["Record", "Callback", "Diverged", "Trainer", "TRAINERS", "train"]

TRAINERS = {}
"""Every training algorithm by name (``Trainer.algorithm``): ``"aevb"`` here; a subclass of
:class:`Trainer` that names its own ``algorithm`` adds itself when it is defined (wake-sleep and
MCEM when :mod:`minivae.baselines.wakesleep` and :mod:`minivae.baselines.mcem` are imported). A checkpoint records
the name, and :func:`minivae.training.checkpoint.restore_trainer` rebuilds the class from it."""


@dataclass
class Record:
    """One evaluation: training samples seen, bounds per datapoint (nats), seconds since the start."""
    samples: int
    train_bound: float
    test_bound: float | None
    wall_time: float


class Diverged(FloatingPointError):
    """Training stopped because something went non-finite, before anything non-finite reached
    the model's parameters, the history or the callbacks (so no checkpoint holds it).

    Attributes
    ----------
    samples : int, training samples seen when it happened
    what : list of str, what went non-finite: ``"loss"``, ``"gradient"``, or ``"train bound"``
        and/or ``"test bound"`` of an evaluation
    tensors : list of str, the gradient tensors with a non-finite entry
    lr : float, the optimizer's step size
    last_good : int or None, samples at the last evaluation (where a checkpointing callback
        last saved)
    directory : the run directory, when a caller sets it, to name in the resume hint
    """

    def __init__(self, samples, what, lr, last_good=None, tensors=()):
        self.samples, self.what, self.lr, self.last_good = samples, list(what), lr, last_good
        self.tensors, self.directory = list(tensors), None
        super().__init__(samples, self.what, lr, last_good, self.tensors)

    def __str__(self):
        tensors = f" (tensors: {', '.join(self.tensors)})" if self.tensors else ""
        text = (f"non-finite {' and '.join(self.what)} after {self.samples:,} samples{tensors}: "
                f"training stopped")
        smaller = "a smaller step size" if self.lr is None else f"a smaller step size than lr={self.lr}"
        if self.last_good is None:
            return f"{text} before its first evaluation; start again with {smaller}"
        run = "DIR" if self.directory is None else str(self.directory)
        hint = "" if self.lr is None else f", e.g. minivae train --resume {run} --lr {self.lr / 10:g}"
        return (f"{text}; the last evaluation (and checkpoint) was at {self.last_good:,} samples: "
                f"resume from there with {smaller}{hint}")


class Callback:
    """Hooks into :meth:`Trainer.run`; subclass and override what you need.

    Set ``trainer.stop = True`` from a hook to end the run after the current step.
    """

    def on_step(self, trainer, bound):
        """After every step, with the minibatch's mean bound."""

    def on_eval(self, trainer, record):
        """After every evaluation, with its :class:`Record`."""

    def on_end(self, trainer):
        """When :meth:`Trainer.run` returns."""


class _FunctionCallback(Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_eval(self, trainer, record):
        self.fn(trainer, record)


def _check_model(model):
    """``TypeError`` unless ``model`` looks like a :class:`~minivae.VAE` (params, decoder, loss)."""
    if not all(hasattr(model, a) for a in ("params", "decoder", "n_input", "loss_and_grads")):
        raise TypeError(f"model must be a minivae.VAE (or a model with params, decoder, n_input "
                        f"and loss_and_grads), got {type(model).__name__}")


def _check_callbacks(callbacks):
    """``callbacks`` as a list of :class:`Callback`; a function must take ``(trainer, record)``.

    Raises ``TypeError`` naming the offending entry, so that a wrong callback fails here and
    not at the first evaluation."""
    if isinstance(callbacks, Callback) or callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise TypeError(f"callbacks must be a list, got {callbacks!r}; pass [callback]")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(f"callbacks must be a list of Callback objects or functions "
                        f"f(trainer, record), got {callbacks!r}") from None
    checked = []
    for i, c in enumerate(callbacks):
        if isinstance(c, Callback):
            checked.append(c)
            continue
        if not callable(c):
            raise TypeError(f"callbacks[{i}] must be a Callback or a function f(trainer, record), "
                            f"got {c!r}")
        try:
            inspect.signature(c).bind(None, None)
        except TypeError:
            raise TypeError(f"callbacks[{i}] ({getattr(c, '__name__', c)!r}) cannot be called as "
                            f"f(trainer, record)") from None
        except ValueError:  # no signature to inspect (some builtins): take it as it is
            pass
        checked.append(_FunctionCallback(c))
    return checked


class Trainer:
    r"""Trains a :class:`~minivae.VAE` with Algorithm 1 and keeps everything needed to resume.

    Parameters
    ----------
    model : VAE
    X_train : ndarray (N, D)
        Grey values in [0, 1] for a decoder of binary data, the Bernoulli (binarized here as
        ``binarization`` says), any finite values for a Gaussian one (the decoder kind's
        ``binary``, :mod:`minivae.decoder`).
    X_test : ndarray (N_test, D), optional
    optimizer : default ``Adagrad(lr=0.02)``
    batch_size : int, $M$ (paper: 100)
    L : int, samples of $\epsilon$ per datapoint (paper: 1)
    estimator : ``"B"`` (eq. 7, paper) or ``"A"`` (eq. 6)
    weight_prior : bool, add $\frac1N \log\mathcal N(\theta, \phi; 0, I)$ (paper: yes)
    binarization : ``"dynamic"`` (default for a Bernoulli decoder), ``"fixed"`` or ``"none"``
        (the only choice for a decoder of real data, such as the Gaussian). Evaluation always
        scores a fixed, seeded binarization of the test set and of the training subset unless
        this is ``"none"``.
    seed : int, optional
        Seeds minibatch order, noise and dynamic binarization; the same seed gives the
        same history bit for bit.
    eval_train_size : int
        The train bound is computed on this many training rows, a fixed random subset.
    eval_L : int, samples per datapoint when evaluating
    callbacks : list of :class:`Callback` or functions ``f(trainer, record)``
    engine : ``"fused"`` (compiled kernels, fast) or ``"reference"`` (the readable
        forward/backward pairs and optimizer, nothing else; no Numba); see :mod:`minivae.training.engines`.
        In float64 the two give the same history to round-off. Default:
        :func:`minivae.training.engines.default_engine`, ``"fused"`` unless set otherwise.

    Notes
    -----
    A training algorithm other than Algorithm 1 subclasses this class and sets
    :attr:`algorithm`; if it keeps state of its own, it saves it through :meth:`extra_arrays`
    and :meth:`restore_extra`, and :meth:`config` lists its settings (see :mod:`minivae.baselines.mcem`).
    """

    algorithm = "aevb"
    """The name a checkpoint records for this update rule (a key of :data:`TRAINERS`)."""

    gaussian_latents_only = False
    r"""Whether this algorithm is written for the paper's latent, a Gaussian $q_\phi(z|x)$ with
    the prior $\mathcal N(0, I)$ (wake-sleep and MCEM are); then another family is refused."""

    decoders = None
    """The decoder kinds this algorithm can train (wake-sleep: those it can dream from), or
    ``None``: every registered kind (:mod:`minivae.decoder`)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "algorithm" not in vars(cls):
            return
        known = TRAINERS.get(cls.algorithm)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"{cls.__qualname__}: algorithm {cls.algorithm!r} is taken by "
                             f"{known.__qualname__}; choose another name")
        TRAINERS[cls.algorithm] = cls

    def __init__(self, model, X_train, X_test=None, optimizer=None, batch_size=100, L=1,
                 estimator="B", weight_prior=True, binarization=None, seed=None,
                 eval_train_size=10_000, eval_L=1, callbacks=(), engine=None):
        _check_model(model)
        self._check_latent(model)
        kind = get_decoder(model.decoder)
        if self.decoders is not None and kind.name not in self.decoders:
            raise ValueError(f"{self.algorithm} trains the decoders {', '.join(self.decoders)} "
                             f"only; this model's is {kind.name}: train it with AEVB")
        if binarization is None:
            binarization = "dynamic" if kind.binary else "none"
        if check_binarization(binarization) != "none" and not kind.binary:
            raise ValueError(f"binarization applies to a decoder of binary data (bernoulli) only, "
                             f"not to {kind.name}; use 'none'")
        self.model = model
        self.dtype = next(iter(model.params.values())).dtype
        self.X_train = kind.check_data(X_train, model.n_input, "X_train", self.dtype)
        self.X_test = None if X_test is None else kind.check_data(X_test, model.n_input,
                                                                  "X_test", self.dtype)
        self.optimizer = Adagrad(lr=0.02) if optimizer is None else optimizer
        if not callable(getattr(self.optimizer, "update", None)):
            raise TypeError(f"optimizer must have an update(params, grads, state) method, got "
                            f"{optimizer!r}; build one with minivae.optim.make_optimizer(name)")
        self.batch_size = min(check_positive_int("batch_size", batch_size), len(self.X_train))
        self.L = check_positive_int("L", L)
        self.estimator = check_estimator(estimator)
        self.weight_prior = check_bool("weight_prior", weight_prior)
        self.binarization = binarization
        self.seed = check_seed("seed", seed)
        self.eval_L = check_positive_int("eval_L", eval_L)
        self.callbacks = _check_callbacks(callbacks)
        self.engine = check_engine(default_engine() if engine is None else engine)
        self._engine = make_engine(self.engine, model, self.optimizer)
        self.rng = np.random.default_rng(seed)
        self.opt_state = None
        self.samples = 0
        self.wall_time = 0.0
        self.history = []
        self.perm = np.zeros(0, dtype=np.int64)
        self.pos = 0
        self.stop = False
        self.eval_train_size = check_positive_int("eval_train_size", eval_train_size)
        self._prepare_eval_sets()
        self._batch = np.empty((self.batch_size, model.n_input), self.dtype)

    @property
    def optimizer(self):
        """The optimizer; assigning another one hands it to the engine too."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer):
        self._optimizer = optimizer
        if "_engine" in vars(self):
            self._engine.optimizer = optimizer

    def _check_latent(self, model):
        latent = getattr(model, "latent", None)
        if self.gaussian_latents_only and latent is not None and not latent.closed_form_kl:
            raise ValueError(f"{self.algorithm} is written for the paper's Gaussian latent with "
                             f"prior N(0, I); this model's is {model.family_name} with prior "
                             f"scale {model.prior_scale:g}: train it with AEVB")

    def _prepare_eval_sets(self):
        if self.binarization == "fixed":
            self.X_train = self._fixed(self.X_train)
        n = len(self.X_train)
        subset = np.sort(np.random.default_rng(0).permutation(n)[:min(self.eval_train_size, n)])
        self._eval_train = self.X_train[subset]
        if self.binarization == "dynamic":
            self._eval_train = self._fixed(self._eval_train)
        self._eval_test = None if self.X_test is None else self._fixed(self.X_test)

    def _fixed(self, X):
        """``X`` binarized with the fixed seed, in the model's dtype (unchanged for ``"none"``)."""
        return X if self.binarization == "none" else binarize_fixed(X).astype(self.dtype)

    def config(self):
        """Training settings, JSON-ready (what a checkpoint stores)."""
        return {"batch_size": self.batch_size, "L": self.L, "estimator": self.estimator,
                "weight_prior": self.weight_prior, "binarization": self.binarization,
                "seed": self.seed, "eval_L": self.eval_L, "eval_train_size": self.eval_train_size,
                "n_train": len(self.X_train), "engine": self.engine}

    def extra_arrays(self):
        """The arrays of this algorithm's own state, by name, that a checkpoint saves (as
        ``extra/<name>``) beside the model, optimizer and progress; none for Algorithm 1."""
        return {}

    def restore_extra(self, arrays):
        """Set the state :meth:`extra_arrays` saved, from ``arrays`` (each checked against this
        trainer's own: same names, shapes, dtypes, finite)."""

    def optimized_params(self):
        """The parameters the optimizer updates (and has state for): all of them here."""
        return self.model.params

    # -- one step of Algorithm 1 ------------------------------------------------------------
    def _next_batch(self):
        if self.pos + self.batch_size > len(self.perm):
            self.perm = self.rng.permutation(len(self.X_train))
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        if self.binarization != "dynamic":
            return np.take(self.X_train, idx, axis=0, out=self._batch)
        self._engine.binarize(self.X_train, self.rng.integers(2**64, dtype=np.uint64), self._batch, idx)
        return self._batch

    def step(self):
        r"""One minibatch update; returns the minibatch's mean bound (nats per datapoint).

        The weight prior's gradient, $\theta/N$ per datapoint, is folded into the optimizer's
        in-place update (``decay``) rather than added to the gradient arrays.
        """
        model = self.model
        X = self._next_batch()
        eps = model.draw_eps(self.rng, (self.L, len(X), model.n_latent))
        try:
            loss, self.opt_state = self._engine.step(X, eps, self.estimator, self.opt_state,
                                                     self._prior_decay())
        except NonFinite as bad:
            raise self._diverged([bad.what], bad.tensors) from None
        self.samples += len(X)
        return -loss

    def _prior_decay(self):
        r"""The weight prior's gradient per parameter, $\theta / N$, as the optimizers' ``decay``."""
        return 1.0 / len(self.X_train) if self.weight_prior else 0.0

    def _update(self, params, grads, decay=0.0):
        """One optimizer step on ``params`` along ``grads + decay * params``, run by this
        trainer's engine (the baselines' steps call it after their own finiteness checks)."""
        self.opt_state = self._engine.update(params, grads, self.opt_state, decay)

    def _nonfinite(self, grads):
        """The names of the gradient tensors with an inf or NaN entry."""
        return self._engine.nonfinite(grads)

    def _diverged(self, what, tensors=()):
        last = self.history[-1].samples if self.history else None
        return Diverged(self.samples, what, getattr(self.optimizer, "lr", None), last, tensors)

    # -- evaluation and the loop ------------------------------------------------------------
    def evaluate(self):
        """Append and return a :class:`Record` of the current train and test bound per datapoint."""
        kwargs = {"L": self.eval_L, "estimator": self.estimator, "engine": self._engine}
        seed = 0 if self.seed is None else self.seed
        train = mean_bound(self.model, self._eval_train, rng=np.random.default_rng([seed, 1]), **kwargs)
        test = None if self._eval_test is None else mean_bound(
            self.model, self._eval_test, rng=np.random.default_rng([seed, 2]), **kwargs)
        return self._record(train, test)

    def _record(self, train, test):
        """Append a :class:`Record` of these bounds and hand it to the callbacks; a non-finite
        bound raises :class:`Diverged` first, so that no callback saves it."""
        bad = [f"{split} bound" for split, b in (("train", train), ("test", test))
               if b is not None and not np.isfinite(b)]
        if bad:
            raise self._diverged(bad)
        record = Record(self.samples, float(train), None if test is None else float(test),
                        self.wall_time)
        self.history.append(record)
        for c in self.callbacks:
            c.on_eval(self, record)
        return record

    def run(self, samples, eval_every=None, evaluate_at_end=True):
        """Train until ``samples`` training samples have been seen in total (across resumes).

        Parameters
        ----------
        samples : int, the total budget of training samples (paper's Fig. 2 x-axis); a float
            equal to a whole number (``2e5``) is accepted, ``1.7`` is refused
        eval_every : int, evaluate after every this many samples (default: a twentieth of the
            budget); there is always an evaluation at the start, and at the end unless
            ``evaluate_at_end`` is false (to save a checkpoint between evaluations).

        Returns
        -------
        list of :class:`Record`, the whole history
        """
        samples = check_count("samples", samples)
        eval_every = (max(samples // 20, self.batch_size) if eval_every is None
                      else check_count("eval_every", eval_every, minimum=1))
        self.stop = False
        start = time.perf_counter() - self.wall_time
        if not self.history:
            self.evaluate()
        next_eval = (self.samples // eval_every + 1) * eval_every
        while self.samples < samples and not self.stop:
            bound = self.step()
            self.wall_time = time.perf_counter() - start
            for c in self.callbacks:
                c.on_step(self, bound)
            if self.samples >= next_eval:
                self.evaluate()
                next_eval = (self.samples // eval_every + 1) * eval_every
        if evaluate_at_end and self.history[-1].samples != self.samples:
            self.evaluate()
        for c in self.callbacks:
            c.on_end(self)
        return self.history

    def history_dicts(self):
        """The history as a list of plain dicts (what ``history.json`` holds)."""
        return [asdict(r) for r in self.history]


TRAINERS[Trainer.algorithm] = Trainer


def train(model, X_train, X_test=None, samples=1_000_000, eval_every=None, **kwargs):
    """Run Algorithm 1 on ``model`` for ``samples`` training samples; return the :class:`Trainer`.

    Keyword arguments go to :class:`Trainer`; ``trainer.history`` holds the records.
    """
    trainer = Trainer(model, X_train, X_test, **kwargs)
    trainer.run(samples, eval_every=eval_every)
    return trainer
