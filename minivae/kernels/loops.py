"""The Numba backend: single-pass loops over the maths of :mod:`minivae.kernels.scalar`.

Every loop reads its inputs once, evaluates the scalar functions (inlined by Numba) and writes
its outputs in place, so a training step allocates nothing. They are compiled on first use and
cached on disk (``cache=True``). ``NUMBA_DISABLE_JIT=1`` runs them as plain Python.

Shapes: ``A, H, dA, dH (R, K)`` with ``R = L * M`` rows when there are ``L`` samples per
datapoint; the data ``X (M, D)`` is shared by rows ``r`` with ``r % M`` equal.
"""
import numpy as np
from numba import njit

from .scalar import (activation, activation_grad, adagrad_accumulate, adagrad_param, adam_param,
                     bernoulli_terms, gaussian_grad_logvar, gaussian_grad_mean,
                     gaussian_loglik, kl_grad_logvar, kl_term, moment, reparam_grad_logvar,
                     reparameterize, sigmoid)


@njit(cache=True, error_model="numpy")
def bias_activation(A, b, code):
    """In place: ``A[r, k] <- f(A[r, k] + b[k])``."""
    for r in range(A.shape[0]):
        for k in range(A.shape[1]):
            A[r, k] = activation(code, A[r, k] + b[k])


@njit(cache=True, error_model="numpy")
def activation_backward(dH, H, code, dA, db):
    """``dA <- dH * f'`` and ``db <- sum over rows of dA``, in one pass."""
    db[:] = 0.0
    for r in range(dH.shape[0]):
        for k in range(dH.shape[1]):
            d = activation_grad(code, dH[r, k], H[r, k])
            dA[r, k] = d
            db[k] += d


@njit(cache=True, error_model="numpy")
def bernoulli(X, A, scale, dA, ll):
    """Per row ``ll[r] = sum_d log p(x_d | a_d)``; ``dA <- scale * (x - sigmoid(a))``."""
    M = X.shape[0]
    for r in range(A.shape[0]):
        x = X[r % M]
        total = 0.0
        for d in range(A.shape[1]):
            ll_d, g_d = bernoulli_terms(x[d], A[r, d])
            total += ll_d
            dA[r, d] = scale * g_d
        ll[r] = total


@njit(cache=True, error_model="numpy")
def gaussian(X, A_mean, logvar, sigmoid_mean, scale, dA_mean, dlogvar, ll):
    """Gaussian decoder rows: ``ll[r]``, and the scaled gradients for the mean head's
    pre-activation (through the sigmoid when ``sigmoid_mean``) and for ``logvar``."""
    M = X.shape[0]
    for r in range(A_mean.shape[0]):
        x = X[r % M]
        total = 0.0
        for d in range(A_mean.shape[1]):
            mean = sigmoid(A_mean[r, d]) if sigmoid_mean else A_mean[r, d]
            lv = logvar[r, d]
            total += gaussian_loglik(x[d], mean, lv)
            g = scale * gaussian_grad_mean(x[d], mean, lv)
            dA_mean[r, d] = g * mean * (1.0 - mean) if sigmoid_mean else g
            dlogvar[r, d] = scale * gaussian_grad_logvar(x[d], mean, lv)
        ll[r] = total


@njit(cache=True, error_model="numpy")
def reparameterize_kl(mu, logvar, eps, Z, kl):
    """``Z[l*M + i] <- mu[i] + sigma[i] * eps[l, i]`` and ``kl[i] <- D_KL`` of row ``i``."""
    L, M, J = eps.shape
    for i in range(M):
        total = 0.0
        for j in range(J):
            total += kl_term(mu[i, j], logvar[i, j])
            for l in range(L):
                Z[l * M + i, j] = reparameterize(mu[i, j], logvar[i, j], eps[l, i, j])
        kl[i] = total


@njit(cache=True, error_model="numpy")
def reparameterize_kl_backward(dZ, mu, logvar, eps, dkl, dmu, dlogvar):
    """Gradients for ``mu`` and ``logvar`` through the sampler (summed over the ``L`` samples)
    and through the KL term, whose upstream gradient is ``dkl`` for every row."""
    L, M, J = eps.shape
    for i in range(M):
        for j in range(J):
            dm = dkl * mu[i, j]
            dlv = kl_grad_logvar(dkl, logvar[i, j])
            for l in range(L):
                dz = dZ[l * M + i, j]
                dm += dz
                dlv += reparam_grad_logvar(dz, logvar[i, j], eps[l, i, j])
            dmu[i, j] = dm
            dlogvar[i, j] = dlv


@njit(cache=True, error_model="numpy")
def adagrad(p, g, G, lr, delta, decay):
    """In place over flat arrays: ``g' = g + decay * p``, ``G += g'^2``, ``p -= lr g'/(sqrt G + delta)``."""
    for k in range(p.size):
        gk = g[k] + decay * p[k]
        G[k] = adagrad_accumulate(G[k], gk)
        p[k] = adagrad_param(p[k], gk, G[k], lr, delta)


@njit(cache=True, error_model="numpy")
def adam(p, g, m, v, lr, beta1, beta2, epsilon, correction1, correction2, decay):
    """In place over flat arrays: Adam's moments and step, with ``g' = g + decay * p``."""
    for k in range(p.size):
        gk = g[k] + decay * p[k]
        m[k] = moment(m[k], gk, beta1)
        v[k] = moment(v[k], gk * gk, beta2)
        p[k] = adam_param(p[k], m[k], v[k], lr, epsilon, correction1, correction2)


@njit(cache=True, error_model="numpy")
def sgd(p, g, lr, decay):
    """In place over flat arrays: ``p -= lr * (g + decay * p)``."""
    for k in range(p.size):
        p[k] -= lr * (g[k] + decay * p[k])


@njit(cache=True, error_model="numpy")
def _add_rows(out_row, x, rows, idx, n):
    """``out_row += sum_t x[t] * rows[idx[t]]`` for ``t < n``, four rows per pass over ``out_row``."""
    t = 0
    while t + 4 <= n:
        r0, r1, r2, r3 = rows[idx[t]], rows[idx[t + 1]], rows[idx[t + 2]], rows[idx[t + 3]]
        x0, x1, x2, x3 = x[t], x[t + 1], x[t + 2], x[t + 3]
        for k in range(out_row.size):
            out_row[k] += x0 * r0[k] + x1 * r1[k] + x2 * r2[k] + x3 * r3[k]
        t += 4
    while t < n:
        r0, x0 = rows[idx[t]], x[t]
        for k in range(out_row.size):
            out_row[k] += x0 * r0[k]
        t += 1


@njit(cache=True, error_model="numpy")
def sparse_matmul(X, W, out):
    """``out <- X @ W``, skipping the zeros of ``X`` (binarized MNIST is about 87% zeros).
    ``X`` may be a transposed view: ``sparse_matmul(X.T, dA, out)`` computes ``X.T @ dA``."""
    idx = np.empty(X.shape[1], np.int64)
    x = np.empty(X.shape[1], X.dtype)
    out[:] = 0.0
    for i in range(X.shape[0]):
        n = 0
        for p in range(X.shape[1]):
            if X[i, p] != 0.0:
                idx[n], x[n] = p, X[i, p]
                n += 1
        _add_rows(out[i], x, W, idx, n)


@njit(cache=True, error_model="numpy")
def binarize(X, U, out):
    """``out <- (U < X)``: a Bernoulli sample of grey values ``X`` from uniforms ``U``."""
    for r in range(X.shape[0]):
        for d in range(X.shape[1]):
            out[r, d] = 1.0 if U[r, d] < X[r, d] else 0.0


def warm_up(dtype=np.float64):
    """Compile (or load from the disk cache) every loop for arrays of ``dtype``."""
    one = np.ones((2, 3), dtype)
    b, ll, flat = np.ones(3, dtype), np.ones(2, dtype), np.ones(4, dtype)
    eps = np.ones((1, 2, 3), dtype)
    bias_activation(one.copy(), b, 1)
    activation_backward(one, one, 1, one.copy(), b.copy())
    bernoulli(one, one, 1.0, one.copy(), ll)
    gaussian(one, one, one, True, 1.0, one.copy(), one.copy(), ll)
    reparameterize_kl(one, one, eps, one.copy(), ll)
    reparameterize_kl_backward(one, one, one, eps, 1.0, one.copy(), one.copy())
    adagrad(flat.copy(), flat, flat.copy(), 0.1, 1e-10, 0.0)
    adam(flat.copy(), flat, flat.copy(), flat.copy(), 0.1, 0.9, 0.99, 1e-8, 0.1, 0.01, 0.0)
    sgd(flat.copy(), flat, 0.1, 0.0)
    binarize(one, one, one.copy())
    sparse_matmul(one, one.T.copy(), np.ones((2, 2), dtype))
    sparse_matmul(one.T, one, np.ones((3, 3), dtype))
