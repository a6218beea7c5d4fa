"""The hot path's kernels, one call each, on the active backend (:mod:`minivae.fused.backend`).

Each function below has one meaning and two executions: with the ``numpy`` backend it
evaluates the functions of :mod:`minivae.fused.kernels.scalar` on whole arrays; with ``numba`` it
calls the compiled single-pass loop of :mod:`minivae.fused.kernels.loops`, which evaluates the same
functions element by element. Outputs are written into arrays the caller owns; scalars are
passed as Python floats.

On the Numba backend the loops that do enough work are split into contiguous ranges over
:func:`get_threads` threads (:mod:`minivae.fused.kernels.threads`); no result depends on the split.

Kernels dominated by ``exp``, ``log1p`` and ``tanh`` (``TRANSCENDENTAL``) need SIMD versions of
those functions to beat NumPy's ufuncs. The compiled loops get them from glibc's libmvec
(:mod:`minivae.fused.kernels.vecmath`); where libmvec is missing, or with ``MINIVAE_VECTOR_MATH=0``,
those kernels run the NumPy evaluation on the Numba backend too, because scalar libm calls made
a compiled bias + tanh 30x and the Bernoulli kernel 4-7x slower than NumPy (docs/performance.md).
:func:`force_compiled_loops` runs every compiled loop regardless, for the tests.
"""
import numpy as np

from ...datasets.binarize import binarize_rows
from ...optim import adagrad_step, adam_step
from ..backend import get_backend
from . import blas, diskcache, loops, threads, vecmath
from . import scalar as S
from .scalar import ACTIVATION_CODES

__all__ = ["ACTIVATION_CODES", "bias_activation", "activation_backward", "bernoulli", "gaussian",
           "reparameterize_kl", "reparameterize_kl_backward", "adagrad", "adagrad_sum", "adam", "sgd",
           "add_into", "all_finite", "bounded", "binarize", "warm_up", "force_compiled_loops",
           "TRANSCENDENTAL", "data_is_sparse", "data_matmul", "data_matmul_t", "describe", "get_threads", "set_threads"]

get_threads, set_threads = threads.get_threads, threads.set_threads


TRANSCENDENTAL = frozenset({"bias_activation", "bernoulli", "gaussian"})
"""Kernels whose compiled loops need SIMD ``exp`` / ``log1p`` / ``tanh`` (see above): compiled
when :func:`minivae.fused.kernels.vecmath.enabled`, else evaluated by NumPy on both backends."""

_force_loops = {"on": False}


def _numba(kernel=None):
    if get_backend() != "numba":
        return False
    if kernel not in TRANSCENDENTAL or _force_loops["on"]:
        return True
    return vecmath.enabled()


def describe():
    """How the Numba backend runs: threads, and the implementation of the transcendental kernels."""
    line = f"Numba kernels on up to {threads.get_threads()} thread(s); {vecmath.describe()}"
    return line if diskcache.ENABLED else f"{line}; {diskcache.describe()}"


def force_compiled_loops(on=True):
    """Make the Numba backend run its compiled loop for every kernel, transcendental ones
    included (for tests and for measuring them)."""
    _force_loops["on"] = bool(on)


def _rows(X, R):
    """``X (M, D)`` repeated to ``R = L * M`` rows, as the loops index it (row ``r`` uses ``r % M``)."""
    return X if R == len(X) else np.tile(X, (R // len(X), 1))


def bias_activation(A, b, code):
    """In place: ``A <- f(A + b)``; ``A (R, K)``, ``b (K,)``, ``code`` from ``ACTIVATION_CODES``."""
    # tanh with one thread in all: NumPy's AVX-512 tanh beats libmvec's AVX2 one (42 vs 56 us,
    # float32 (100, 500)). With more, the compiled loop wins: split over threads, or inside a
    # shard of the training step, where each NumPy call takes the GIL back from the other
    # shard's thread: per shard 93 us beside another shard against 78 for the loop (49 and 56
    # alone; measured when NumPy's path was add, tanh and a copy); whole float32 steps 3.06
    # against 3.03 ms.
    if _numba("bias_activation") and (code != S.TANH or _force_loops["on"]
                                      or threads.get_threads() > 1):
        return threads.run(loops.bias_activation, (A, b, code), A.shape[0], A.shape[1])
    A += b
    if code == S.TANH:  # in place: no temporary of A's size on the training step's path
        np.tanh(A, out=A)
    else:
        A[...] = S.activation(code, A)


def activation_backward(dH, H, code, dA, db):
    """``dA <- dH * f'(a)`` from the outputs ``H``, and ``db <- dA`` summed over rows."""
    if _numba():  # split by columns: each db[k] is still summed over all rows in order
        return threads.run(loops.activation_backward, (dH, H, code, dA, db), dH.shape[1], dH.shape[0])
    dA[...] = S.activation_grad(code, dH, H)
    np.sum(dA, axis=0, out=db)


def bernoulli(X, A, scale, dA, ll):
    """Bernoulli decoder from logits ``A (R, D)``: ``ll[r] = log p(x|z_r)``, ``dA <- scale * (x - sigmoid(A))``."""
    if _numba("bernoulli"):
        # exp, log1p and the rest: about twice the cost per element of a tanh or an update
        return threads.run(loops.bernoulli, (X, A, scale, dA, ll), A.shape[0], 2 * A.shape[1])
    ll_terms, grad = S.bernoulli_terms(_rows(X, len(A)), A)
    np.sum(ll_terms, axis=1, out=ll)
    np.multiply(grad, scale, out=dA)


def gaussian(X, A_mean, logvar, sigmoid_mean, scale, dA_mean, dlogvar, ll):
    """Gaussian decoder: ``ll[r]`` and scaled gradients for the mean head (before its optional
    sigmoid) and the log-variance head."""
    if _numba("gaussian"):
        args = (X, A_mean, logvar, sigmoid_mean, scale, dA_mean, dlogvar, ll)
        return threads.run(loops.gaussian, args, A_mean.shape[0], 2 * A_mean.shape[1])
    Xr = _rows(X, len(A_mean))
    mean = S.sigmoid(A_mean) if sigmoid_mean else A_mean
    w = S.precision(logvar)  # once for the value and both gradients
    np.sum(S.gaussian_loglik_from(Xr, mean, logvar, w), axis=1, out=ll)
    g = scale * S.gaussian_grad_mean_from(Xr, mean, w)
    dA_mean[...] = g * mean * (1.0 - mean) if sigmoid_mean else g
    dlogvar[...] = scale * S.gaussian_grad_logvar_from(Xr, mean, w)


def reparameterize_kl(mu, logvar, eps, Z, kl):
    """``Z (L*M, J) <- mu + sigma * eps`` for ``eps (L, M, J)``; ``kl (M,) <- D_KL(q || N(0, I))``."""
    if _numba():
        return loops.reparameterize_kl(mu, logvar, eps, Z, kl)
    Z[...] = S.reparameterize(mu, logvar, eps).reshape(Z.shape)
    np.sum(S.kl_term(mu, logvar), axis=1, out=kl)


def reparameterize_kl_backward(dZ, mu, logvar, eps, dkl, dmu, dlogvar):
    """Gradients for ``mu`` and ``logvar`` through the sampler and the KL term (upstream ``dkl``)."""
    if _numba():
        return loops.reparameterize_kl_backward(dZ, mu, logvar, eps, dkl, dmu, dlogvar)
    dZ3 = dZ.reshape(eps.shape)
    dmu[...] = dkl * mu + dZ3.sum(axis=0)
    dlogvar[...] = S.kl_grad_logvar(dkl, logvar) + S.reparam_grad_logvar(dZ3, logvar, eps).sum(axis=0)


def adagrad(p, g, G, lr, delta, decay):
    """In place over flat arrays: Adagrad on ``g + decay * p`` (``decay`` folds in the weight prior)."""
    adagrad_sum(p, (g,), G, lr, delta, decay)


def adagrad_sum(p, parts, G, lr, delta, decay):
    """:func:`adagrad` along the sum of the flat arrays ``parts`` (added in order, as
    :func:`add_into` would), without storing the sum."""
    if _numba():  # scalars in the arrays' precision, as NumPy uses them: float32 stays float32
        t, tiny = p.dtype.type, np.finfo(p.dtype).tiny
        return threads.run(loops.adagrad, (p, tuple(parts), G, t(lr), t(delta), t(decay), t(tiny)),
                           p.size, 1)
    g = parts[0]
    for part in parts[1:]:
        g = g + part
    adagrad_step(p, g + decay * p if decay else g, G, lr, delta)  # the readable step itself


def adam(p, g, m, v, lr, beta1, beta2, epsilon, correction1, correction2, decay):
    """In place over flat arrays: Adam on ``g + decay * p``."""
    if _numba():
        t = p.dtype.type
        return threads.run(loops.adam, (p, g, m, v, t(lr), t(beta1), t(beta2), t(epsilon),
                                        t(correction1), t(correction2), t(decay)), p.size, 1)
    adam_step(p, g + decay * p if decay else g, m, v, lr, beta1, beta2, epsilon, correction1, correction2)


def sgd(p, g, lr, decay):
    """In place over flat arrays: ``p -= lr * (g + decay * p)``."""
    if _numba():
        t = p.dtype.type
        return threads.run(loops.sgd, (p, g, t(lr), t(decay)), p.size, 1)
    p -= lr * (g + decay * p)


def add_into(out, a):
    """In place over flat arrays: ``out += a``."""
    if _numba():
        return threads.run(loops.add_into, (out, a), out.size, 1)
    out += a


def all_finite(a):
    """Whether every entry of the C-contiguous array ``a`` is finite."""
    return bounded(a, np.finfo(a.dtype).max)


def bounded(a, limit):
    """Whether every entry of the C-contiguous array ``a`` is finite and at most ``limit`` in
    magnitude."""
    if a.size == 0:
        return True
    if _numba():
        return bool(loops.bounded_probe(a.reshape(-1), a.dtype.type(limit)))
    return bool(np.isfinite(a).all() and np.abs(a).max() <= limit)


def binarize(X, key, out, rows=None):
    """``out <-`` a Bernoulli sample of the grey values ``X (M, D)``, or of the rows ``X[rows]``,
    drawn from the 64-bit seed ``key``: entry ``i`` of ``out`` in row-major order is 1 when the
    ``i``-th uniform of the seed's SplitMix64 stream is below its grey value
    (:func:`minivae.datasets.binarize.bernoulli_draw`). The same ``key`` gives the same bits on
    both backends, on any number of threads, and in the reference engine
    (:func:`minivae.datasets.binarize.binarize_rows`, which is the NumPy backend's evaluation)."""
    if not _numba():
        return binarize_rows(X, key, out, rows)
    key = np.uint64(key)
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    return threads.run(loops.binarize, (X, rows, key, out), len(rows), X.shape[1])


SPARSE_DENSITY = 0.25
"""Below this fraction of non-zeros, products with the data skip its zeros (Numba backend)."""


def data_is_sparse(X):
    """True when the Numba backend should use :func:`data_matmul`'s sparse loops for ``X``:
    judged on its first eighth of rows (a minibatch's rows are shuffled), as counting all of a
    (100, 784) minibatch took 35 us a step (every eighth row, a strided view, 17 us; the first
    rows 5 us). Either loop computes the product; the choice is about speed."""
    if not _numba():
        return False
    sample = X[:max(1, len(X) // 8)]
    return np.count_nonzero(sample) < SPARSE_DENSITY * sample.size


def _sparse_matmul(X, W, out):
    # about an eighth of X's entries are non-zero: work per row ~ X.shape[1] * W.shape[1] / 8
    threads.run(loops.sparse_matmul, (X, W, out), X.shape[0], X.shape[1] * W.shape[1] // 8)


def data_matmul(X, W, out, sparse):
    """``out <- X @ W``; with ``sparse`` (from :func:`data_is_sparse`) the loop skips zeros of ``X``."""
    if sparse:
        return _sparse_matmul(X, W, out)
    np.matmul(X, W, out=out)


def data_matmul_t(X, dA, out, sparse):
    """``out <- X.T @ dA``; with ``sparse`` the loop skips zeros of ``X``."""
    if sparse:
        return _sparse_matmul(X.T, dA, out)
    np.matmul(X.T, dA, out=out)


def warm_up(dtype=np.float64):
    """Compile the Numba loops for ``dtype`` now (or load them from the disk cache)."""
    if _numba():
        loops.warm_up(dtype)
