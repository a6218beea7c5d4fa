r"""The fast training step: the VAE's estimator-B loss and gradient, fused and allocation-free.

:meth:`minivae.VAE.loss_and_grads` composes the readable forward/backward pairs; this module
computes the same numbers (to float64 round-off; the tests hold it to ``rtol=1e-12``) for the
training loop, with changes that are about speed only:

* every elementwise stage is one kernel of :mod:`minivae.fused.kernels` (bias + activation, sampler +
  KL, the decoder's log-likelihood + its gradient, the activation's backward + the bias
  gradient), run by the active backend;
* every array, including the gradients, lives in a workspace allocated once per batch shape,
  and matrix products write into it (``np.matmul(..., out=...)``);
* the gradient with respect to the data ``X`` is never formed;
* on the Numba backend, the two products with the data (``X W_1`` and ``X^T dA_1``) skip the
  zeros of ``X`` when fewer than a quarter of its entries are non-zero (binarized MNIST: 13%);
* on the Numba backend with several threads, the minibatch is cut into one shard of rows per
  thread; each thread runs the whole forward and backward pass of its shard with one-threaded
  BLAS, and the shards' gradients are then summed (:meth:`FastPath.n_shards`), or, for the
  trainer, checked on their threads and handed to the optimizer as parts that it adds while it
  updates (:meth:`FastPath.loss_and_grad_parts`); :meth:`FastPath.bound` is sharded the same
  way, each shard writing its rows of the result.

Only estimator B (eq. 7) is fused; estimator A goes through the model's reference path. Only
the decoder kinds in :data:`LOGLIK_KERNELS` are fused (those that declare ``fused = True`` in
:mod:`minivae.decoder`); the fused engine trains any other kind through the readable model.

**A second composition, on purpose.** The elementwise formulas are the teaching modules' own
(:mod:`minivae.fused.kernels.scalar` compiles them), but the order of the steps, the chain rule
through the MLPs and the heads, is written here a second time, fused, beside
:meth:`minivae.VAE.loss_and_grads`. The parity tests hold the two together:
``tests/test_fastpath.py`` (loss and every gradient at ``rtol=1e-12``) and
``tests/test_engines.py`` (hundreds of training steps of the two engines).
"""
import functools
from types import SimpleNamespace

import numpy as np

from .. import flat
from ..decoder import get_decoder
from . import kernels as K
from .backend import get_backend
from .kernels import ACTIVATION_CODES, blas, threads

__all__ = ["FastPath", "GradientParts", "LOGLIK_KERNELS", "MIN_SHARD_ROWS", "covers"]

MIN_SHARD_ROWS = 32
"""The fewest rows a shard of a minibatch gets: below, the work per thread is too small to pay
for the hand-off (a minibatch of fewer than 64 rows is not sharded on two threads)."""


def _bernoulli(X, out, sigmoid_mean, scale, dout, ll):
    K.bernoulli(X, out["logits"], scale, dout["logits"], ll)


def _gaussian(X, out, sigmoid_mean, scale, dout, ll):
    K.gaussian(X, out["mean"], out["logvar"], sigmoid_mean, scale, dout["mean"], dout["logvar"], ll)


LOGLIK_KERNELS = {"bernoulli": _bernoulli, "gaussian": _gaussian}
"""The fused log-likelihood of each decoder kind that has one: ``fn(X, out, sigmoid_mean, scale,
dout, ll)`` writes ``ll[r] = log p(x|z_r)`` and ``dout[head] <- scale * d ll / d out[head]`` (before
the squashed head's sigmoid) from the heads' pre-activations ``out``."""


def covers(model):
    """Whether :class:`FastPath` computes ``model``: the Gaussian latent with prior N(0, I) (a
    closed-form KL) and a decoder kind that declares ``fused`` and has a kernel here."""
    latent, kind = getattr(model, "latent", None), get_decoder(model.decoder)
    if latent is not None and not latent.closed_form_kl:
        return False
    return kind.fused and kind.name in LOGLIK_KERNELS


class FastPath:
    """Fused loss, gradient and bound of a :class:`~minivae.VAE` (estimator B).

    The workspace holds references to ``model.params``; the model's arrays must not be
    replaced (assign into them with ``[...] =`` instead).
    """

    def __init__(self, model):
        if not model.latent.closed_form_kl:
            raise ValueError(f"the fused FastPath computes the gaussian latent family with prior "
                             f"N(0, I) and estimator B only; this model's family is "
                             f"{model.family_name} with prior scale {model.prior_scale:g}: use "
                             f"estimator A, which runs model.loss_and_grads")
        kind = get_decoder(model.decoder)
        if not (kind.fused and kind.name in LOGLIK_KERNELS):
            raise ValueError(f"the fused FastPath has no kernels for the {kind.name!r} decoder "
                             f"(it fuses {', '.join(sorted(LOGLIK_KERNELS))}); the fused engine "
                             f"trains it through model.loss_and_grads")
        self.model = model
        self.code = ACTIVATION_CODES[model.activation]
        self.n_layers = len(model.n_hidden)
        self.heads = kind.heads
        self._loglik_kernel = LOGLIK_KERNELS[kind.name]
        self._workspaces = {}

    # -- buffers ----------------------------------------------------------------------------
    def _workspace(self, M, L, shard=0):
        key = (M, L, shard)
        if key not in self._workspaces:
            self._workspaces[key] = self._allocate(M, L)
        return self._workspaces[key]

    def _allocate(self, M, L):
        m, dt, R = self.model, self.model.dtype, L * M
        empty = lambda *shape: np.empty(shape, dt)  # noqa: E731
        return SimpleNamespace(
            enc=[empty(M, h) for h in m.n_hidden], denc=[empty(M, h) for h in m.n_hidden],
            dtmp=empty(M, m.n_hidden[-1]),
            mu=empty(M, m.n_latent), logvar=empty(M, m.n_latent), kl=empty(M),
            dmu=empty(M, m.n_latent), dlogvar=empty(M, m.n_latent),
            Z=empty(R, m.n_latent), dZ=empty(R, m.n_latent),
            dec=[empty(R, h) for h in m.n_hidden[::-1]], ddec=[empty(R, h) for h in m.n_hidden[::-1]],
            dec_tmp=empty(m.n_hidden[0], R) if self._dinput_by_transpose() else empty(R, m.n_hidden[0]),
            out={h: empty(R, m.n_input) for h in self.heads},
            dout={h: empty(R, m.n_input) for h in self.heads},
            ll=empty(R), **self._flat_grads(dt))

    def _flat_grads(self, dt):
        """The gradient arrays as views of one flat buffer (:mod:`minivae.flat`): the shards'
        gradients are summed, checked and used by the optimizer in one pass each."""
        grads = flat.allocate({name: p.shape for name, p in self.model.params.items()}, dt)
        return {"flat_grads": flat.span(grads.values()), "grads": grads}

    # -- forward ----------------------------------------------------------------------------
    def _mlp(self, H_in, prefix, buffers, sparse=False):
        """Hidden stack; ``sparse`` lets the first product skip the zeros of its input."""
        P, h = self.model.params, H_in
        for k, H in enumerate(buffers, start=1):
            K.data_matmul(h, P[f"{prefix}.W{k}"], H, sparse and k == 1)
            K.bias_activation(H, P[f"{prefix}.b{k}"], self.code)
            h = H
        return h

    def _affine(self, H, name, out):
        P = self.model.params
        np.matmul(H, P[f"{name[0]}.W_{name[1]}"], out=out)
        out += P[f"{name[0]}.b_{name[1]}"]

    def _forward(self, X, eps, ws, sparse):
        """Encoder, sampler, KL and decoder; leaves every intermediate in ``ws``."""
        self._encode(X, ws, sparse)
        K.reparameterize_kl(ws.mu, ws.logvar, eps, ws.Z, ws.kl)
        self._decode(ws.Z, ws.dec, ws.out)

    def _encode(self, X, ws, sparse):
        """Encoder: hidden layers into ``ws.enc``, the heads into ``ws.mu`` and ``ws.logvar``."""
        h = self._mlp(X, "enc", ws.enc, sparse)
        self._affine(h, ("enc", "mu"), ws.mu)
        self._affine(h, ("enc", "logvar"), ws.logvar)

    def _decode(self, Z, hidden, out):
        """Decoder: hidden layers into the buffers ``hidden``, each head into ``out[head]``
        (before the Gaussian mean's optional sigmoid)."""
        g = self._mlp(Z, "dec", hidden)
        for head in self.heads:
            self._affine(g, ("dec", head), out[head])

    def _loglik(self, X, ws, scale):
        self._loglik_kernel(X, ws.out, self.model.sigmoid_mean, scale, ws.dout, ws.ll)

    def _bound(self, ws, M, L):
        return ws.ll.reshape(L, M).mean(axis=0) - ws.kl

    def bound(self, X, eps):
        r"""Estimator B of the bound per datapoint, ``(M,)``, for ``X (M, D)`` and ``eps (L, M, J)``;
        sharded over threads as the training step is (:meth:`_each_shard`)."""
        L, M = eps.shape[0], X.shape[0]
        sparse = K.data_is_sparse(X)
        bounds = np.empty(M, self.model.dtype)

        def shard(i, rows, ws):
            self._forward(X[rows], eps[:, rows], ws, sparse)
            self._loglik(X[rows], ws, 0.0)
            bounds[rows] = self._bound(ws, rows.stop - rows.start, L)

        self._each_shard(self.n_shards(M), M, L, shard)
        return bounds

    # -- backward ---------------------------------------------------------------------------
    def _mlp_backward(self, G, dH, prefix, inputs, outputs, grad_bufs, dinput, sparse=False):
        """Backward through the hidden stack into gradients ``G``; writes ``dinput`` unless it is
        ``None``."""
        P = self.model.params
        for k in range(len(outputs), 0, -1):
            dA = grad_bufs[k - 1]
            K.activation_backward(dH, outputs[k - 1], self.code, dA, G[f"{prefix}.b{k}"])
            h_prev = outputs[k - 2] if k > 1 else inputs
            K.data_matmul_t(h_prev, dA, G[f"{prefix}.W{k}"], sparse and k == 1)
            if k > 1:
                dH = np.matmul(dA, P[f"{prefix}.W{k}"].T, out=grad_bufs[k - 2])
            elif dinput is not None:
                np.matmul(dA, P[f"{prefix}.W{k}"].T, out=dinput)

    def _heads_backward(self, G, H, prefix, heads, douts, dH, tmp, transposed=False):
        """Gradients of the affine heads into ``G``; ``dH <-`` the sum of their input gradients.
        ``tmp`` has ``dH``'s shape, or with ``transposed`` (:meth:`_dinput_by_transpose`) its
        transpose's."""
        P = self.model.params
        for i, head in enumerate(heads):
            np.matmul(H.T, douts[head], out=G[f"{prefix}.W_{head}"])
            np.sum(douts[head], axis=0, out=G[f"{prefix}.b_{head}"])
            W = P[f"{prefix}.W_{head}"]
            if transposed:
                np.matmul(W, douts[head].T, out=tmp)
                np.add(dH, tmp.T, out=dH) if i else np.copyto(dH, tmp.T)
            else:
                np.matmul(douts[head], W.T, out=tmp if i else dH)
                if i:
                    dH += tmp

    def _dinput_by_transpose(self):
        """Whether the decoder heads' input gradient ``dout @ W.T`` is formed as ``(W @ dout.T).T``:
        in float32, where OpenBLAS's product with a transposed right-hand side ran at 61 GFLOP/s
        against 87 for the other layout, (50, 784) x (784, 500) on one core; in float64 it did not
        (docs/performance.md)."""
        return self.model.dtype == np.float32

    def loss_and_grads(self, X, eps):
        r"""The loss $-\frac1M\sum_i \tilde{\mathcal L}^B(x^{(i)})$ and its gradient.

        Parameters
        ----------
        X : ndarray (M, D), the model's dtype, already validated
        eps : ndarray (L, M, J), the model's dtype

        Returns
        -------
        loss : float
        grads : dict with the keys of ``model.params``; the arrays belong to the workspace and
            are overwritten by the next call
        """
        loss, parts = self._run(X, eps, check=False)
        return loss, parts.summed()

    def loss_and_grad_parts(self, X, eps):
        """:meth:`loss_and_grads` with the gradient left as the shards' parts
        (:class:`GradientParts`), each checked on its shard's thread, so that an optimizer can
        add them as it updates (:meth:`minivae.optim.Adagrad.update_sum`)."""
        return self._run(X, eps, check=True)

    def _run(self, X, eps, check):
        L, M = eps.shape[0], X.shape[0]
        sparse = K.data_is_sparse(X)
        k = self.n_shards(M)
        totals, fine = [0.0] * k, [False] * k
        limit = np.finfo(self.model.dtype).max / k  # k such parts sum finitely

        def shard(i, rows, ws):
            totals[i] = self._shard(X[rows], eps[:, rows], M, ws, sparse)
            fine[i] = check and k > 1 and K.bounded(ws.flat_grads, limit)

        wss = self._each_shard(k, M, L, shard)
        parts = GradientParts([ws.flat_grads for ws in wss], wss[0].grads, checked=all(fine))
        return -sum(totals) / M, parts

    def _each_shard(self, k, M, L, fn):
        """``fn(i, rows, ws)`` for each of ``k`` shards (:meth:`n_shards`): a slice ``rows`` of
        the minibatch's ``M`` rows and the shard's workspace ``ws``; with several shards, each on
        a thread of its own with one-threaded BLAS. Returns the workspaces, in shard order."""
        cuts = [i * M // k for i in range(k + 1)]
        jobs = [(i, slice(cuts[i], cuts[i + 1]), self._workspace(cuts[i + 1] - cuts[i], L, i))
                for i in range(k)]
        if k == 1:
            fn(*jobs[0])
        else:
            with blas.single_threaded():
                threads.run_each([functools.partial(fn, *job) for job in jobs])
        return [ws for _, _, ws in jobs]

    def n_shards(self, M):
        """How many shards a minibatch of ``M`` rows is cut into: one per thread on the Numba
        backend when OpenBLAS's threads can be set (:mod:`minivae.fused.kernels.blas`) and every shard
        keeps at least ``MIN_SHARD_ROWS`` rows; else 1."""
        if get_backend() != "numba" or not blas.available():
            return 1
        return max(1, min(threads.get_threads(), M // MIN_SHARD_ROWS))

    def _shard(self, X, eps, M, ws, sparse):
        """Forward and backward over the rows ``X`` of a minibatch of ``M`` rows into ``ws``;
        returns the sum of their bounds. ``ws.grads`` is this shard's share of the gradient."""
        L, m = eps.shape[0], X.shape[0]
        self._forward(X, eps, ws, sparse)
        self._loglik(X, ws, -1.0 / (M * L))
        total = float(np.sum(self._bound(ws, m, L)))
        self._decoder_backward(ws, ws.dZ)
        K.reparameterize_kl_backward(ws.dZ, ws.mu, ws.logvar, eps, 1.0 / M, ws.dmu, ws.dlogvar)
        self._encoder_backward(X, ws, sparse)
        return total

    def _decoder_backward(self, ws, dZ):
        """From the output gradients ``ws.dout`` into the ``dec.*`` gradients of ``ws.grads``;
        writes the gradient for ``ws.Z`` into ``dZ`` unless it is ``None``."""
        dec_in = ws.dec[-1] if self.n_layers else ws.Z
        self._heads_backward(ws.grads, dec_in, "dec", self.heads, ws.dout, ws.ddec[-1], ws.dec_tmp,
                             self._dinput_by_transpose())
        self._mlp_backward(ws.grads, ws.ddec[-1], "dec", ws.Z, ws.dec, ws.ddec, dZ)

    def _encoder_backward(self, X, ws, sparse):
        """From ``ws.dmu`` and ``ws.dlogvar`` into the ``enc.*`` gradients of ``ws.grads``."""
        d_latent = {"mu": ws.dmu, "logvar": ws.dlogvar}
        self._heads_backward(ws.grads, ws.enc[-1], "enc", ("mu", "logvar"), d_latent, ws.denc[-1],
                             ws.dtmp)
        self._mlp_backward(ws.grads, ws.denc[-1], "enc", X, ws.enc, ws.denc, None, sparse)


class GradientParts:
    """The gradient of a (sharded) step as flat arrays that sum to it, one per shard.

    Each part runs over all parameters in ``model.params``' order (:mod:`minivae.flat`).
    ``checked`` is true when every part was found finite on its shard's thread, and at most
    ``finfo.max / len(parts)`` in magnitude, so that their sum is finite too; a caller may then
    skip its own check of the summed gradient."""

    def __init__(self, parts, grads, checked=False):
        self.parts, self.checked, self._grads = list(parts), bool(checked), grads

    def summed(self):
        """The gradient as a dict keyed like ``model.params``: the other parts are added into
        the first (:func:`minivae.fused.kernels.add_into`, once), whose views the dict holds."""
        for part in self.parts[1:]:
            K.add_into(self.parts[0], part)
        self.parts = self.parts[:1]
        return self._grads
