"""The Numba backend: single-pass loops over the maths of :mod:`minivae.fused.kernels.scalar`.

Every loop reads its inputs once, evaluates the scalar functions (inlined by Numba) and writes
its outputs in place. They are compiled on first use and cached on disk, with a stamp that
covers every source file of :mod:`minivae.fused.kernels` (:mod:`~minivae.fused.kernels.diskcache`), so an
edit to ``scalar.py`` or ``vecmath.py`` recompiles them.
``NUMBA_DISABLE_JIT=1`` runs them as plain Python.

**Transcendental functions.** ``exp``, ``log1p`` and ``tanh`` go through
:mod:`minivae.fused.kernels.vecmath` (glibc's SIMD libmvec) a row at a time: a loop first writes the
function's argument for a whole row into a buffer, the buffer is transformed in one SIMD sweep,
and a second loop combines it with the ``*_from`` functions of :mod:`~minivae.fused.kernels.scalar`
(for example ``bernoulli_terms_from(x, a, e, log1p(e))``), which are the very formulas the
NumPy backend evaluates.

**Threads.** The loops that do real work take a range ``lo, hi`` of the axis they can be split
along and touch only that part of their outputs: rows for the row-wise kernels and the sparse
products, flat indices for the optimizer updates, columns for ``activation_backward`` (so that
every bias gradient is still summed over all rows, in order). :mod:`minivae.fused.kernels.threads`
runs contiguous ranges on several threads at once; the loops are compiled with ``nogil=True``
for that. ``(0, n)`` is the whole array, and no result depends on how the range is split.
The transcendental loops allocate one scratch row per call.

Shapes: ``A, H, dA, dH (R, K)`` with ``R = L * M`` rows when there are ``L`` samples per
datapoint; the data ``X (M, D)`` is shared by rows ``r`` with ``r % M`` equal.
"""
import numpy as np
from numba import njit

from . import vecmath as V
from .diskcache import cached
from .scalar import (SIGMOID, SOFTPLUS, TANH, activation, activation_grad, adagrad_accumulate,
                     adagrad_param, adam_param, bernoulli_draw, bernoulli_terms_from,
                     gaussian_grad_logvar_from, gaussian_grad_mean_from, gaussian_loglik_from,
                     log_precision, precision_log_cap, kl_grad_logvar, kl_term, moment,
                     reparam_grad_logvar, reparameterize, sigmoid_from, softplus_from_log1p)

_JIT = {"error_model": "numpy", "nogil": True}


def _kernel(fn):
    """``fn`` compiled by Numba, cached on disk by :func:`~minivae.fused.kernels.diskcache.cached`."""
    return cached(njit(**_JIT)(fn))


@_kernel
def _row_sum(v):
    """``sum(v)`` in float64 with eight running sums (a single chain of additions would run at
    the latency of one addition per element)."""
    n = v.size
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    i = 0
    while i + 8 <= n:
        s0 += v[i]
        s1 += v[i + 1]
        s2 += v[i + 2]
        s3 += v[i + 3]
        s4 += v[i + 4]
        s5 += v[i + 5]
        s6 += v[i + 6]
        s7 += v[i + 7]
        i += 8
    for j in range(i, n):
        s0 += v[j]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


# -- bias + activation -------------------------------------------------------------------------
@_kernel
def bias_activation(A, b, code, lo, hi):
    """In place, rows ``lo:hi``: ``A[r, k] <- f(A[r, k] + b[k])``.

    tanh, sigmoid and softplus take their ``tanh`` / ``exp`` / ``log1p`` a row at a time from
    :mod:`~minivae.fused.kernels.vecmath` and finish with :func:`~minivae.fused.kernels.scalar.sigmoid_from`
    and :func:`~minivae.fused.kernels.scalar.softplus_from_log1p`, the formulas of
    :func:`~minivae.fused.kernels.scalar.activation`."""
    K = A.shape[1]
    e = np.empty(K, A.dtype)
    for r in range(lo, hi):
        a = A[r]
        if code == TANH:
            for k in range(K):
                a[k] += b[k]
            V.tanh_inplace(a)
        elif code == SIGMOID or code == SOFTPLUS:
            for k in range(K):
                a[k] += b[k]
                e[k] = -np.abs(a[k])
            V.exp_inplace(e)
            if code == SIGMOID:
                for k in range(K):
                    a[k] = sigmoid_from(a[k], e[k])
            else:
                V.log1p_inplace(e)
                for k in range(K):
                    a[k] = softplus_from_log1p(a[k], e[k])
        else:
            for k in range(K):
                a[k] = activation(code, a[k] + b[k])


@_kernel
def activation_backward(dH, H, code, dA, db, lo, hi):
    """Columns ``lo:hi``: ``dA <- dH * f'`` and ``db <- sum over rows of dA``, in one pass."""
    db = db[lo:hi]  # 1-D slices indexed from 0: no negative-index checks in the inner loop
    db[:] = 0.0
    for r in range(dH.shape[0]):
        dh, h, da = dH[r][lo:hi], H[r][lo:hi], dA[r][lo:hi]
        if code == TANH:  # the constant code lets the float32 loop vectorize (3.5x faster)
            for k in range(db.size):
                d = activation_grad(TANH, dh[k], h[k])
                da[k] = d
                db[k] += d
        else:
            for k in range(db.size):
                d = activation_grad(code, dh[k], h[k])
                da[k] = d
                db[k] += d


# -- decoders ----------------------------------------------------------------------------------
@_kernel
def bernoulli(X, A, scale, dA, ll, lo, hi):
    """Rows ``lo:hi``: ``ll[r] = sum_d log p(x_d | a_d)``; ``dA <- scale * (x - sigmoid(a))``.

    Per row: ``e = exp(-|a|)`` in one SIMD sweep (in ``dA``'s row, which it becomes), then
    ``log1p(e)``, then :func:`~minivae.fused.kernels.scalar.bernoulli_terms_from` per pixel."""
    M, D = X.shape[0], A.shape[1]
    l = np.empty(D, A.dtype)  # noqa: E741 - log1p(e), then the per-pixel log-likelihoods
    for r in range(lo, hi):
        x, a, e = X[r % M], A[r], dA[r]
        for d in range(D):
            e[d] = -np.abs(a[d])
        V.exp_inplace(e)
        for d in range(D):
            l[d] = e[d]
        V.log1p_inplace(l)
        for d in range(D):
            ll_d, g_d = bernoulli_terms_from(x[d], a[d], e[d], l[d])
            l[d] = ll_d
            e[d] = scale * g_d
        ll[r] = _row_sum(l)


@_kernel
def gaussian(X, A_mean, logvar, sigmoid_mean, scale, dA_mean, dlogvar, ll, lo, hi):
    """Gaussian decoder, rows ``lo:hi``: ``ll[r]``, and the scaled gradients for the mean head's
    pre-activation (through the sigmoid when ``sigmoid_mean``) and for ``logvar``.

    Per row, ``dA_mean``'s row first holds the mean (via ``exp(-|a|)`` and
    :func:`~minivae.fused.kernels.scalar.sigmoid_from`) and ``dlogvar``'s row ``w = exp(-logvar)``
    (capped, :func:`~minivae.fused.kernels.scalar.log_precision`), each from one SIMD sweep; the
    ``gaussian_*_from`` functions then overwrite them in place."""
    M, D = X.shape[0], A_mean.shape[1]
    cap = precision_log_cap(A_mean)
    terms = np.empty(D, A_mean.dtype)
    for r in range(lo, hi):
        x, a, lv, m, w = X[r % M], A_mean[r], logvar[r], dA_mean[r], dlogvar[r]
        if sigmoid_mean:
            for d in range(D):
                m[d] = -np.abs(a[d])
            V.exp_inplace(m)
            for d in range(D):
                m[d] = sigmoid_from(a[d], m[d])
        else:
            for d in range(D):
                m[d] = a[d]
        for d in range(D):
            w[d] = log_precision(lv[d], cap)
        V.exp_inplace(w)
        for d in range(D):
            mean, wd = m[d], w[d]
            terms[d] = gaussian_loglik_from(x[d], mean, lv[d], wd)
            g = scale * gaussian_grad_mean_from(x[d], mean, wd)
            m[d] = g * mean * (1.0 - mean) if sigmoid_mean else g
            w[d] = scale * gaussian_grad_logvar_from(x[d], mean, wd)
        ll[r] = _row_sum(terms)


# -- sampler and KL (J = 20 columns: not worth splitting) --------------------------------------
@_kernel
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


@_kernel
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


# -- optimizers (flat arrays; the slices make the loops start at 0, so they vectorize) ---------
@_kernel
def adagrad(p, parts, G, lr, delta, decay, tiny, lo, hi):
    """In place over ``lo:hi``: ``g' = g + decay * p``, ``G += g'^2``,
    ``p -= lr g'/(sqrt G + delta)`` flushed to 0 below ``tiny``, where
    ``g = parts[0] + parts[1] + ...`` (a tuple of flat arrays, added in that order, so ``g`` is
    bit for bit what :func:`add_into` leaves; one part for a plain update) is never stored. The
    parts are indexed with an unsigned offset: it needs no wraparound check, so the loop
    vectorizes."""
    p, G = p[lo:hi], G[lo:hi]
    offset = np.uint64(lo)
    for k in range(p.size):
        i = np.uint64(k) + offset
        g = parts[0][i]
        for j in range(1, len(parts)):
            g += parts[j][i]
        gk = g + decay * p[k]
        G[k] = adagrad_accumulate(G[k], gk)
        p[k] = adagrad_param(p[k], gk, G[k], lr, delta, tiny)


@_kernel
def adam(p, g, m, v, lr, beta1, beta2, epsilon, correction1, correction2, decay, lo, hi):
    """In place over ``lo:hi``: Adam's moments and step, with ``g' = g + decay * p``."""
    p, g, m, v = p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
    for k in range(p.size):
        gk = g[k] + decay * p[k]
        m[k] = moment(m[k], gk, beta1)
        v[k] = moment(v[k], gk * gk, beta2)
        p[k] = adam_param(p[k], m[k], v[k], lr, epsilon, correction1, correction2)


@_kernel
def sgd(p, g, lr, decay, lo, hi):
    """In place over ``lo:hi``: ``p -= lr * (g + decay * p)``."""
    p, g = p[lo:hi], g[lo:hi]
    for k in range(p.size):
        p[k] -= lr * (g[k] + decay * p[k])


@_kernel
def add_into(out, a, lo, hi):
    """In place over ``lo:hi``: ``out += a`` (summing the gradients of a sharded step)."""
    out, a = out[lo:hi], a[lo:hi]
    for k in range(out.size):
        out[k] += a[k]


@_kernel
def bounded_probe(a, limit):
    """True when every entry of flat ``a`` is at most ``limit`` in magnitude. An inf (with a
    finite ``limit``) and a NaN (every comparison with it is false) both fail. The failures are
    or-ed together rather than counted or summed: the loop then vectorizes without fast-math,
    and runs as fast as a plain pass over ``a`` (docs/performance.md)."""
    bad = False
    for k in range(a.size):
        bad |= not (np.abs(a[k]) <= limit)
    return not bad


# -- products with sparse data -----------------------------------------------------------------
@_kernel
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


@_kernel
def sparse_matmul(X, W, out, lo, hi):
    """Rows ``lo:hi`` of ``out <- X @ W``, skipping the zeros of ``X`` (binarized MNIST is about
    87% zeros). ``X`` may be a transposed view: ``sparse_matmul(X.T, dA, out, 0, n)`` computes
    ``X.T @ dA``."""
    idx = np.empty(X.shape[1], np.int64)
    x = np.empty(X.shape[1], X.dtype)
    for i in range(lo, hi):
        n = 0
        for p in range(X.shape[1]):  # gather the non-zeros without a branch to mispredict
            v = X[i, p]
            idx[n], x[n] = p, v
            n += v != 0.0
        out[i, :] = 0.0
        _add_rows(out[i], x, W, idx, n)


@_kernel
def binarize(X, rows, key, out, lo, hi):
    """Rows ``lo:hi`` of ``out <-`` a Bernoulli sample of grey values ``X[rows]``: entry ``i``
    (row-major in ``out``) is :func:`~minivae.fused.kernels.scalar.bernoulli_draw` ``(x_i, key, i)``.
    Reading the rows of ``X`` where they lie saves copying a minibatch out of the training set
    first."""
    D = X.shape[1]
    for r in range(lo, hi):
        x, o = X[rows[r]], out[r]
        first = np.uint64(r * D)
        for d in range(D):
            o[d] = 1.0 if bernoulli_draw(x[d], key, first + np.uint64(d)) else 0.0


def warm_up(dtype=np.float64):
    """Compile (or load from the disk cache) every loop for arrays of ``dtype``."""
    one = np.ones((2, 3), dtype)
    b, ll, flat = np.ones(3, dtype), np.ones(2, dtype), np.ones(4, dtype)
    eps = np.ones((1, 2, 3), dtype)
    bias_activation(one.copy(), b, 1, 0, 2)
    activation_backward(one, one, 1, one.copy(), b.copy(), 0, 3)
    bernoulli(one, one, 1.0, one.copy(), ll, 0, 2)
    gaussian(one, one, one, True, 1.0, one.copy(), one.copy(), ll, 0, 2)
    reparameterize_kl(one, one, eps, one.copy(), ll)
    reparameterize_kl_backward(one, one, one, eps, 1.0, one.copy(), one.copy())
    t = np.dtype(dtype).type  # the optimizers take their scalars in the arrays' precision
    tiny = t(np.finfo(dtype).tiny)
    adagrad(flat.copy(), (flat,), flat.copy(), t(0.1), t(1e-10), t(0.0), tiny, 0, 4)
    adagrad(flat.copy(), (flat, flat), flat.copy(), t(0.1), t(1e-10), t(0.0), tiny, 0, 4)
    adam(flat.copy(), flat, flat.copy(), flat.copy(),
         *(t(v) for v in (0.1, 0.9, 0.99, 1e-8, 0.1, 0.01, 0.0)), 0, 4)
    sgd(flat.copy(), flat, t(0.1), t(0.0), 0, 4)
    add_into(flat.copy(), flat, 0, 4)
    bounded_probe(flat, t(1.0))
    binarize(one, np.arange(2), np.uint64(1), one.copy(), 0, 2)
    sparse_matmul(one, one.T.copy(), np.ones((2, 2), dtype), 0, 2)
    sparse_matmul(one.T, one, np.ones((3, 3), dtype), 0, 3)
