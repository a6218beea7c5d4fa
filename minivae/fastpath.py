r"""The fast training step: the VAE's estimator-B loss and gradient, fused and allocation-free.

:meth:`minivae.VAE.loss_and_grads` composes the readable forward/backward pairs; this module
computes the same numbers (to float64 round-off; the tests hold it to ``rtol=1e-12``) for the
training loop, with three changes that are about speed only:

* every elementwise stage is one kernel of :mod:`minivae.kernels` (bias + activation, sampler +
  KL, the decoder's log-likelihood + its gradient, the activation's backward + the bias
  gradient), run by the active backend;
* every array, including the gradients, lives in a workspace allocated once per batch shape,
  and matrix products write into it (``np.matmul(..., out=...)``);
* the gradient with respect to the data ``X`` is never formed;
* on the Numba backend, the two products with the data (``X W_1`` and ``X^T dA_1``) skip the
  zeros of ``X`` when fewer than a quarter of its entries are non-zero (binarized MNIST: 13%).

Only estimator B (eq. 7) is fused; estimator A goes through the model's reference path.
"""
from types import SimpleNamespace

import numpy as np

from . import kernels as K
from .kernels import ACTIVATION_CODES

__all__ = ["FastPath"]


class FastPath:
    """Fused loss, gradient and bound of a :class:`~minivae.VAE` (estimator B).

    The workspace holds references to ``model.params``; the model's arrays must not be
    replaced (assign into them with ``[...] =`` instead).
    """

    def __init__(self, model):
        self.model = model
        self.code = ACTIVATION_CODES[model.activation]
        self.n_layers = len(model.n_hidden)
        self.heads = ("logits",) if model.decoder == "bernoulli" else ("mean", "logvar")
        self._workspaces = {}

    # -- buffers ----------------------------------------------------------------------------
    def _workspace(self, M, L):
        key = (M, L)
        if key not in self._workspaces:
            self._workspaces[key] = self._allocate(M, L)
        return self._workspaces[key]

    def _allocate(self, M, L):
        m, dt, R = self.model, self.model.params["enc.b_mu"].dtype, L * M
        empty = lambda *shape: np.empty(shape, dt)  # noqa: E731
        return SimpleNamespace(
            enc=[empty(M, h) for h in m.n_hidden], denc=[empty(M, h) for h in m.n_hidden],
            dtmp=empty(M, m.n_hidden[-1]),
            mu=empty(M, m.n_latent), logvar=empty(M, m.n_latent), kl=empty(M),
            dmu=empty(M, m.n_latent), dlogvar=empty(M, m.n_latent),
            Z=empty(R, m.n_latent), dZ=empty(R, m.n_latent),
            dec=[empty(R, h) for h in m.n_hidden[::-1]], ddec=[empty(R, h) for h in m.n_hidden[::-1]],
            dec_tmp=empty(R, m.n_hidden[0]),
            out={h: empty(R, m.n_input) for h in self.heads},
            dout={h: empty(R, m.n_input) for h in self.heads},
            ll=empty(R), grads={name: np.empty_like(p) for name, p in m.params.items()})

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
        h = self._mlp(X, "enc", ws.enc, sparse)
        self._affine(h, ("enc", "mu"), ws.mu)
        self._affine(h, ("enc", "logvar"), ws.logvar)
        K.reparameterize_kl(ws.mu, ws.logvar, eps, ws.Z, ws.kl)
        g = self._mlp(ws.Z, "dec", ws.dec)
        for head in self.heads:
            self._affine(g, ("dec", head), ws.out[head])

    def _loglik(self, X, ws, scale):
        if self.model.decoder == "bernoulli":
            K.bernoulli(X, ws.out["logits"], scale, ws.dout["logits"], ws.ll)
        else:
            K.gaussian(X, ws.out["mean"], ws.out["logvar"], self.model.sigmoid_mean, scale,
                       ws.dout["mean"], ws.dout["logvar"], ws.ll)

    def _bound(self, ws, M, L):
        return ws.ll.reshape(L, M).mean(axis=0) - ws.kl

    def bound(self, X, eps):
        r"""Estimator B of the bound per datapoint, ``(M,)``, for ``X (M, D)`` and ``eps (L, M, J)``."""
        L, M = eps.shape[0], X.shape[0]
        ws = self._workspace(M, L)
        self._forward(X, eps, ws, K.data_is_sparse(X))
        self._loglik(X, ws, 0.0)
        return self._bound(ws, M, L)

    # -- backward ---------------------------------------------------------------------------
    def _mlp_backward(self, dH, prefix, inputs, outputs, grad_bufs, dinput, sparse=False):
        """Backward through the hidden stack; writes ``dinput`` unless it is ``None``."""
        P, G = self.model.params, self._grads
        for k in range(len(outputs), 0, -1):
            dA = grad_bufs[k - 1]
            K.activation_backward(dH, outputs[k - 1], self.code, dA, G[f"{prefix}.b{k}"])
            h_prev = outputs[k - 2] if k > 1 else inputs
            K.data_matmul_t(h_prev, dA, G[f"{prefix}.W{k}"], sparse and k == 1)
            if k > 1:
                dH = np.matmul(dA, P[f"{prefix}.W{k}"].T, out=grad_bufs[k - 2])
            elif dinput is not None:
                np.matmul(dA, P[f"{prefix}.W{k}"].T, out=dinput)

    def _heads_backward(self, H, prefix, heads, douts, dH, tmp):
        """Gradients of the affine heads; ``dH <-`` the sum of their input gradients."""
        P, G = self.model.params, self._grads
        for i, head in enumerate(heads):
            np.matmul(H.T, douts[head], out=G[f"{prefix}.W_{head}"])
            np.sum(douts[head], axis=0, out=G[f"{prefix}.b_{head}"])
            np.matmul(douts[head], P[f"{prefix}.W_{head}"].T, out=dH if i == 0 else tmp)
            if i:
                dH += tmp

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
        L, M = eps.shape[0], X.shape[0]
        ws = self._workspace(M, L)
        self._grads = ws.grads
        sparse = K.data_is_sparse(X)
        self._forward(X, eps, ws, sparse)
        self._loglik(X, ws, -1.0 / (M * L))
        loss = -float(np.mean(self._bound(ws, M, L)))
        dec_in = ws.dec[-1] if self.n_layers else ws.Z
        self._heads_backward(dec_in, "dec", self.heads, ws.dout, ws.ddec[-1], ws.dec_tmp)
        self._mlp_backward(ws.ddec[-1], "dec", ws.Z, ws.dec, ws.ddec, ws.dZ)
        K.reparameterize_kl_backward(ws.dZ, ws.mu, ws.logvar, eps, 1.0 / M, ws.dmu, ws.dlogvar)
        d_latent = {"mu": ws.dmu, "logvar": ws.dlogvar}
        self._heads_backward(ws.enc[-1], "enc", ("mu", "logvar"), d_latent, ws.denc[-1], ws.dtmp)
        self._mlp_backward(ws.denc[-1], "enc", X, ws.enc, ws.denc, None, sparse)
        return loss, ws.grads
