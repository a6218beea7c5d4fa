r"""Engines: what runs a training step and an evaluation, with the same model and the same numbers.

An engine takes a minibatch, its noise and the optimizer state, and returns the loss and the new
state, having updated the model's parameters in place; it also evaluates the bound per datapoint.
Two engines exist, and a run chooses one by name (``Trainer(..., engine=...)``,
``minivae train --engine``):

``"reference"``
    The code a student reads: :meth:`minivae.VAE.loss_and_grads`, which composes the readable
    forward/backward pairs (layers, activations, sampler, KL, likelihoods, estimators), and the
    readable NumPy step of :mod:`minivae.optim`. Nothing else runs, and it imports no Numba: a
    change to any of those functions changes training.
``"fused"``
    The fast wing (:mod:`minivae.fusedengine`): the estimator-B step fused into compiled kernels
    (:mod:`minivae.fastpath`), the update as one kernel over all parameters
    (:mod:`minivae.fusedupdate`). It loads Numba on first use. Estimator A, other latent families
    and optimizers the kernels do not know go through the readable model and optimizer.

Both draw the same random numbers in the same order (the dynamic binarization too), so in float64
the two histories agree to round-off (``tests/test_engines.py``).
"""
import contextlib

import numpy as np

from .datasets.binarize import binarize_rows

__all__ = ["ENGINES", "NonFinite", "ReferenceEngine", "check_engine", "default_engine",
           "make_engine", "use_engine"]

ENGINES = ("fused", "reference")
_default = {"name": "fused"}


def default_engine():
    """The engine a :class:`~minivae.Trainer` or an evaluation uses when given none: ``"fused"``,
    unless :func:`use_engine` says otherwise (the command line's ``--engine`` does)."""
    return _default["name"]


@contextlib.contextmanager
def use_engine(name):
    """Make ``name`` the default engine inside a ``with`` block."""
    before, _default["name"] = _default["name"], check_engine(name)
    try:
        yield
    finally:
        _default["name"] = before


class NonFinite(FloatingPointError):
    """A step's loss or gradient went non-finite; raised before the parameters change.
    ``what`` is ``"loss"`` or ``"gradient"``, ``tensors`` the gradient tensors affected."""

    def __init__(self, what, tensors=()):
        self.what, self.tensors = what, list(tensors)
        super().__init__(what, self.tensors)


def check_engine(name):
    """``name`` if it names an engine, else ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(map(repr, ENGINES))}")
    return name


def make_engine(name, model, optimizer=None):
    """The engine called ``name`` (:data:`ENGINES`; ``None``: :func:`default_engine`) for
    ``model`` and ``optimizer``."""
    if check_engine(default_engine() if name is None else name) == "reference":
        return ReferenceEngine(model, optimizer)
    from .fusedengine import FusedEngine  # the fast wing, and Numba, load on first use
    return FusedEngine(model, optimizer)


class ReferenceEngine:
    """Training and evaluation through the readable forward/backward pairs and optimizer."""
    name = "reference"

    def __init__(self, model, optimizer=None):
        self.model, self.optimizer = model, optimizer

    def binarize(self, X, key, out, rows):
        """``out <-`` a Bernoulli sample of ``X[rows]`` from the 64-bit seed ``key``."""
        return binarize_rows(X, key, out, rows)

    def loss_and_grads(self, X, eps, estimator):
        """The minibatch loss and its gradient (a dict keyed like ``model.params``)."""
        return self.model.loss_and_grads(X, eps, estimator, validate=False)

    def nonfinite(self, grads):
        """The names of the gradient tensors with an inf or NaN entry."""
        return [name for name, g in grads.items() if not np.isfinite(g).all()]

    def update(self, params, grads, state, decay=0.0):
        """One optimizer step on ``params`` (in place) along ``grads + decay * params``."""
        return self.optimizer.update(params, grads, state, decay=decay)

    def checked_update(self, loss, grads, state, decay=0.0):
        """:meth:`update`, after :class:`NonFinite` if the loss or a gradient is not finite."""
        bad = self.nonfinite(grads)
        if not np.isfinite(loss) or bad:
            raise NonFinite("gradient" if np.isfinite(loss) else "loss", bad)
        return self.update(self.model.params, grads, state, decay)

    def step(self, X, eps, estimator, state, decay=0.0):
        """One step of Algorithm 1 on the minibatch ``X`` with noise ``eps``: returns the loss
        and the new optimizer state; the model's parameters change in place."""
        loss, grads = self.loss_and_grads(X, eps, estimator)
        return loss, self.checked_update(loss, grads, state, decay)

    def bound(self, X, eps, estimator):
        r"""$\tilde{\mathcal L}(\theta, \phi; x^{(i)})$ for every row of ``X`` with noise ``eps``."""
        return self.model.elbo(X, eps=eps, estimator=estimator)
