r"""The reference engine: one training step and the bound, composed of the readable code.

An engine takes a minibatch, its noise and the optimizer state, and returns the loss and the new
state, having updated the model's parameters in place; it also evaluates the bound per datapoint.
This one runs :meth:`minivae.VAE.loss_and_grads`, which composes the readable forward/backward
pairs (layers, activations, sampler, KL, likelihoods, estimators), and the readable NumPy step of
:mod:`minivae.optim`. Nothing else runs, and it imports no Numba: a change to any of those
functions changes training (``tests/test_engines.py`` plants bugs to show it).

The fused engine (:mod:`minivae.fused.engine`) has the same interface and draws the same random
numbers in the same order, so in float64 the two histories agree to round-off; a run picks one
by name (:mod:`minivae.training.engines`).
"""
import numpy as np

from .datasets.binarize import binarize_rows
from .prior import log_prior_backward, log_prior_forward

__all__ = ["NonFinite", "ReferenceEngine"]

class NonFinite(FloatingPointError):
    """A step's loss or gradient went non-finite; raised before the parameters change.
    ``what`` is ``"loss"`` or ``"gradient"``, ``tensors`` the gradient tensors affected."""

    def __init__(self, what, tensors=()):
        self.what, self.tensors = what, list(tensors)
        super().__init__(what, self.tensors)


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
        r"""One optimizer step on ``params`` (in place) along ``grads + decay * params``: with
        ``decay`` $= 1/N$, the gradient of the loss minus $\frac1N \log p(\theta, \phi)$, the weight
        prior's gradient from :mod:`minivae.prior`."""
        if decay:
            _, cache = log_prior_forward(params)
            dprior = log_prior_backward(-decay, cache)
            grads = {name: g + dprior[name] for name, g in grads.items()}
        return self.optimizer.update(params, grads, state)

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
