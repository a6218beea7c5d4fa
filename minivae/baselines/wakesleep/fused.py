r"""The fused wake-sleep step: the numbers of :mod:`minivae.baselines.wakesleep.phases`, fast.

:class:`WakeSleepPath` computes both phases' losses and gradients (to float64 round-off; the
tests hold it to ``rtol=1e-12``) with the kernels, workspaces and sharding of
:class:`minivae.fused.fastpath.FastPath`. Per shard of the minibatch's rows:

::

    wake:   encoder(X) -> mu, logvar;  z = mu + sigma * eps           (FastPath's forward)
            decoder(z), log p(x|z) with its gradient scaled -1/(LM)
            decoder backward into the dec.* gradients; none into z, so no encoder backward
    sleep:  decoder(z') into the same buffers; x' = dream_from(outputs, noise)
            encoder(x') -> mu', logvar';  log q(z'|x') and its gradient scaled -1/M
            encoder backward into the enc.* gradients

The two phases write disjoint halves of one flat gradient buffer (:mod:`minivae.flat`), so the
optimizer updates all parameters in one call, as for AEVB.

**Formulas written once.** The elementwise formulas are the teaching modules' own: the kernels
evaluate those of :mod:`minivae.likelihoods`, :mod:`minivae.gaussian` and
:mod:`minivae.activations` (:mod:`minivae.fused.kernels.scalar`), and the sleep phase's
$\log q$ and its gradient, the dream sampler and $\log p(z)$ are the readable functions
themselves (:func:`minivae.gaussian.log_q_forward`, :func:`minivae.baselines.wakesleep.dream.dream_from`),
whose ``(M, J)`` and ``(M, D)`` arrays cost little next to the matrix products. What this module
writes a second time is the composition of the phases (:mod:`minivae.baselines.wakesleep.phases`); the
parity tests (``tests/test_wakesleep_fused.py``) hold the two to round-off.

The randomness is an argument, as in the phases: ``eps`` for the wake phase, ``Z`` and
``noise`` for the dreams (:func:`minivae.baselines.wakesleep.draw_dream_noise`).
"""
import numpy as np

from ...activations import sigmoid
from ...fused import kernels as K
from ...fused.fastpath import FastPath, GradientParts
from ...gaussian import log_q_backward, log_q_forward, log_standard_normal_forward
from .dream import dream_from

__all__ = ["WakeSleepPath", "WakeSleepResult"]


class WakeSleepResult:
    r"""One fused wake-sleep evaluation of a minibatch of ``M`` datapoints and ``M`` dreams.

    Attributes
    ----------
    wake_loss : float, $-\frac1{LM}\sum \log p_\theta(x, z)$ (:func:`~.phases.wake_loss_and_grads`)
    sleep_loss : float, $-\frac1M\sum \log q_\phi(z'|x')$ (:func:`~.phases.sleep_loss_and_grads`)
    bound : float, the mean of estimator B over the minibatch at this ``eps``
    parts : :class:`minivae.fused.fastpath.GradientParts`, the gradient of both losses (wake for
        ``dec.*``, sleep for ``enc.*``)
    """

    def __init__(self, wake_loss, sleep_loss, bound, parts):
        self.wake_loss, self.sleep_loss, self.bound, self.parts = wake_loss, sleep_loss, bound, parts

    def finite(self):
        """Whether both losses are finite."""
        return bool(np.isfinite(self.wake_loss) and np.isfinite(self.sleep_loss))


class WakeSleepPath(FastPath):
    """Fused wake and sleep phases of a :class:`~minivae.VAE` (Gaussian $q$ and prior).

    The workspace holds references to ``model.params``; the model's arrays must not be
    replaced (assign into them with ``[...] =`` instead).
    """

    def _allocate(self, M, L):
        ws = super()._allocate(M, L)
        ws.X_dream = np.empty((M, self.model.n_input), self.model.dtype)
        return ws

    def run(self, X, eps, Z, noise):
        r"""Both phases on a minibatch; returns a :class:`WakeSleepResult`.

        Parameters
        ----------
        X : ndarray (M, D), the model's dtype, already validated
        eps : ndarray (L, M, J), the model's dtype: $z = \mu + \sigma\odot\epsilon$ for the wake phase
        Z : ndarray (M, J), the dreams' latents, drawn from $p(z)$
        noise : ndarray (M, D), the dreams' pixel noise (:func:`~.dream.draw_dream_noise`)

        The gradient arrays belong to the workspace and are overwritten by the next call.
        """
        L, M = eps.shape[0], X.shape[0]
        if Z.shape != (M, self.model.n_latent) or noise.shape != X.shape:
            raise ValueError(f"Z and noise must have shapes ({M}, {self.model.n_latent}) and "
                             f"{X.shape}, got {Z.shape} and {noise.shape}")
        dt = self.model.dtype
        Z, noise = Z.astype(dt, copy=False), noise.astype(dt, copy=False)
        sparse = K.data_is_sparse(X)
        k = self.n_shards(M)
        sums, fine = [(0.0, 0.0, 0.0)] * k, [False] * k
        limit = np.finfo(dt).max / k  # k such parts sum finitely

        def shard(i, rows, ws):
            sums[i] = self._wake(X[rows], eps[:, rows], M, ws, sparse) + \
                (self._sleep(Z[rows], noise[rows], M, ws),)
            fine[i] = k > 1 and K.bounded(ws.flat_grads, limit)

        wss = self._each_shard(k, M, L, shard)
        log_joint, bound, log_qz = (sum(s[j] for s in sums) for j in range(3))
        parts = GradientParts([ws.flat_grads for ws in wss], wss[0].grads, checked=all(fine))
        return WakeSleepResult(-log_joint / (L * M), -log_qz / M, bound / M, parts)

    def dreams(self, M, L=1, shard=0):
        """The dreams of the last :meth:`run` (of a minibatch of ``M`` rows, one shard), for tests."""
        return self._workspace(M, L, shard).X_dream

    def _wake(self, X, eps, M, ws, sparse):
        r"""The wake phase on the rows ``X`` of a minibatch of ``M``: the ``dec.*`` gradients into
        ``ws.grads``; returns the sums of $\log p(x, z)$ and of estimator B over these rows."""
        L, m = eps.shape[0], X.shape[0]
        self._forward(X, eps, ws, sparse)
        self._loglik(X, ws, -1.0 / (M * L))
        bound = float(np.sum(self._bound(ws, m, L)))
        log_pz, _ = log_standard_normal_forward(ws.Z)
        log_joint = float(np.sum(ws.ll)) + float(np.sum(log_pz))
        self._decoder_backward(ws, None)
        return log_joint, bound

    def _sleep(self, Z, noise, M, ws):
        r"""The sleep phase on the dreams of ``Z`` and ``noise`` (rows of ``M``): the ``enc.*``
        gradients into ``ws.grads``; returns the sum of $\log q(z'|x')$ over these dreams."""
        X_dream = self._dream(Z, noise, ws)
        sparse = K.data_is_sparse(X_dream)
        self._encode(X_dream, ws, sparse)
        log_qz, cache = log_q_forward(Z, ws.mu, ws.logvar)
        _, dmu, dlogvar = log_q_backward(np.full(log_qz.shape, -1.0 / M), cache)
        np.copyto(ws.dmu, dmu)
        np.copyto(ws.dlogvar, dlogvar)
        self._encoder_backward(X_dream, ws, sparse)
        return float(np.sum(log_qz))

    def _dream(self, Z, noise, ws):
        r"""$x' \sim p_\theta(x|z')$ into ``ws.X_dream``, through the decoder's first ``len(Z)``
        rows of buffers (the wake phase is done with them)."""
        m = len(Z)
        out = {head: a[:m] for head, a in ws.out.items()}
        self._decode(Z, [H[:m] for H in ws.dec], out)
        if self.model.decoder == "gaussian" and self.model.sigmoid_mean:
            out["mean"] = sigmoid(out["mean"])
        return dream_from(out, noise, out=ws.X_dream)
