r"""The fused engine: the reference engine's step and bound, run by compiled kernels.

Same interface and same random numbers as :class:`minivae.engine.ReferenceEngine`; the changes
are about speed only. The estimator-B loss, gradient and bound of the Gaussian-latent VAE go
through :class:`minivae.fused.fastpath.FastPath`; the update through :mod:`minivae.fused.update`, which
adds the fast path's per-thread gradient parts as it steps; the dynamic binarization and the
finiteness check through :mod:`minivae.fused.kernels`. Whatever the fast path does not cover
(estimator A, other latent families, decoder kinds without fused kernels) runs the readable
model, updated by the kernels.
"""
import numpy as np

from .. import flat
from ..engine import NonFinite, ReferenceEngine
from . import kernels, update
from .fastpath import FastPath, covers

__all__ = ["FusedEngine", "fast_path"]


def fast_path(model):
    """The model's :class:`FastPath`, built once and kept on the model (its workspaces hold
    views of ``model.params``); ``None`` for a model it does not cover
    (:func:`minivae.fused.fastpath.covers`): a latent family other than the Gaussian with prior
    N(0, I) (:mod:`minivae.latent`), which has no closed-form KL, or a decoder kind without fused
    kernels (:mod:`minivae.decoder`)."""
    if not covers(model):
        return None
    path = model.__dict__.get("_fast_path")
    if path is None:
        path = model.__dict__["_fast_path"] = FastPath(model)
    return path


class FusedEngine(ReferenceEngine):
    """Training and evaluation through the fused kernels (see the module docstring)."""
    name = "fused"

    def __init__(self, model, optimizer=None):
        super().__init__(model, optimizer)
        self.path = fast_path(model)

    def binarize(self, X, key, out, rows):
        return kernels.binarize(X, key, out, rows)

    def nonfinite(self, grads):
        whole = flat.span(grads.values())  # one pass when the gradients share a buffer
        if whole is not None and kernels.all_finite(whole):
            return []
        return [name for name, g in grads.items() if not kernels.all_finite(g)]

    def update(self, params, grads, state, decay=0.0):
        return update.update(self.optimizer, params, grads, state, decay)

    def update_sum(self, parts, state, decay=0.0):
        """The update along the sum of the fast path's gradient ``parts``, or ``None``
        (:func:`minivae.fused.update.update_sum`)."""
        return update.update_sum(self.optimizer, self.model.params, parts, state, decay)

    def step(self, X, eps, estimator, state, decay=0.0):
        if estimator != "B" or self.path is None:
            return super().step(X, eps, estimator, state, decay)
        loss, parts = self.path.loss_and_grad_parts(X, eps)
        if parts.checked and np.isfinite(loss):  # the parts were checked on their threads
            new = self.update_sum(parts.parts, state, decay)
            if new is not None:
                return loss, new
        return loss, self.checked_update(loss, parts.summed(), state, decay)

    def bound(self, X, eps, estimator):
        if estimator != "B" or self.path is None:
            return super().bound(X, eps, estimator)
        return self.path.bound(X, eps).copy()
