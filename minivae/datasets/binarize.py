r"""Turn grey values in $[0, 1]$ into binary data for the Bernoulli decoder.

The Bernoulli decoder of the paper (App. C.1) models each pixel as a coin
with $P(x_d = 1) = y_d$. Three ways to feed it grey-valued MNIST are in use:

``"dynamic"``
    Draw a fresh Bernoulli sample $b_d \sim \mathrm{Bernoulli}(x_d)$ of every
    minibatch each time it is used. The trainer draws one 64-bit key per
    minibatch from its generator and binarizes with the fused kernel
    :func:`minivae.fused.kernels.binarize` (a counter-based SplitMix64 stream, 0.03
    against 0.15 ms for NumPy's uniforms at M = 100); :func:`binarize` does the
    same job with a generator's uniforms. The model never sees the same binary
    image twice, which acts as data augmentation. **The default for training.**
``"fixed"``
    Binarize once with a fixed seed (:func:`binarize_fixed`,
    :data:`FIXED_BINARIZATION_SEED`), so that every evaluation scores the very
    same binary images. **The default for test sets.**
``"none"``
    Use the grey values themselves as Bernoulli targets. The cross-entropy
    $x \log y + (1 - x)\log(1 - y)$ is still defined, but it is not the
    log-likelihood of a discrete distribution, so bounds computed this way
    are not comparable with bounds on binarized data.
"""
from __future__ import annotations

import numpy as np

BINARIZATIONS = ("dynamic", "fixed", "none")
"""Valid binarization modes, see the module docstring."""

FIXED_BINARIZATION_SEED = 123
"""Default seed of :func:`binarize_fixed`."""


def check_binarization(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`BINARIZATIONS`, else raise ValueError listing them."""
    if not isinstance(mode, str) or mode not in BINARIZATIONS:
        raise ValueError(f"unknown binarization {mode!r}; valid options are "
                         f"{', '.join(map(repr, BINARIZATIONS))}")
    return mode


def _check_probabilities(X) -> np.ndarray:
    """``X`` as a float64 array, after checking it is finite and inside [0, 1]."""
    X = np.asarray(X, dtype=np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError("binarize: X contains NaN or infinite values")
    if X.size and (X.min() < 0.0 or X.max() > 1.0):
        raise ValueError(f"binarize: X must lie in [0, 1], got values in "
                         f"[{X.min():g}, {X.max():g}]")
    return X


def binarize(X, rng: np.random.Generator) -> np.ndarray:
    r"""Sample binary data with $P(b = 1) = X$, elementwise.

    $b = [u < X]$ with $u \sim \mathcal{U}[0, 1)$ drawn from ``rng``, so a
    pixel of 0 is always 0 and a pixel of 1 is always 1.

    Parameters
    ----------
    X : array_like, float, shape (M, D) (any shape works)
        Probabilities, finite and inside [0, 1], e.g. grey values from
        :func:`~minivae.datasets.load_mnist`.
    rng : numpy.random.Generator
        Source of the uniforms; it is advanced by ``X.size`` draws.

    Returns
    -------
    numpy.ndarray, float64, same shape as X
        Entries 0.0 or 1.0.

    Raises
    ------
    ValueError
        If ``X`` has NaN, infinite or out-of-range values.
    TypeError
        If ``rng`` is not a :class:`numpy.random.Generator`.
    """
    X = _check_probabilities(X)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return (rng.random(X.shape) < X).astype(np.float64)


def binarize_fixed(X, seed: int = FIXED_BINARIZATION_SEED) -> np.ndarray:
    r"""One reproducible binarization of ``X``: ``binarize(X, default_rng(seed))``.

    The same ``X`` and ``seed`` always give the same result. Binarize a whole
    evaluation set in one call and slice afterwards: binarizing a subset on
    its own draws different uniforms, hence different bits.

    Parameters
    ----------
    X : array_like, float, shape (M, D)
        Probabilities, finite and inside [0, 1].
    seed : int
        Seed for :func:`numpy.random.default_rng`; default
        :data:`FIXED_BINARIZATION_SEED` (123).

    Returns
    -------
    numpy.ndarray, float64, shape (M, D)
        Entries 0.0 or 1.0.
    """
    return binarize(X, np.random.default_rng(seed))


# -- Elementwise formulas, shared with the fused engine -------------------------------------
# Plain NumPy, on scalars or arrays. minivae.fused.kernels.scalar registers each of these functions
# with Numba, so the compiled loops evaluate these very lines: they are written once.

# Dynamic binarization: a counter-based stream, so that any row range can be drawn on its own.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_ONE, _S11, _S27, _S30, _S31 = (np.uint64(s) for s in (1, 11, 27, 30, 31))


def splitmix64(z):
    """SplitMix64's output function (Steele, Lea and Flood, 2014): a bijection of 64-bit words.
    Applied to ``key + i * gamma`` for i = 1, 2, ... it gives the SplitMix64 stream of seed
    ``key``; all arithmetic wraps modulo 2**64 (uint64 throughout)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def bernoulli_draw(x, key, i):
    """Whether draw ``i`` (uint64, from 0) of seed ``key`` (uint64) comes up 1 with probability
    ``x``: output ``i + 1`` of SplitMix64, cut to a 53-bit uniform ``u`` in [0, 1), and
    ``u < x``."""
    return (splitmix64(key + (i + _ONE) * _GAMMA) >> _S11) * 2.0 ** -53 < x


def binarize_rows(X, key, out, rows=None):
    """``out <-`` a Bernoulli sample of the grey values ``X[rows]`` (all rows by default), drawn
    from the 64-bit seed ``key``: entry ``i`` of ``out`` in row-major order is 1 when the
    ``i``-th uniform of the seed's SplitMix64 stream is below its grey value
    (:func:`bernoulli_draw`). The fused engine's ``minivae.fused.kernels.binarize`` draws the same bits."""
    key, D = np.uint64(key), X.shape[1]
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    step = max(1, 25_000 // max(D, 1))  # rows at a time: small temporaries, 2.3x faster than all
    for lo in range(0, len(rows), step):
        x = X[rows[lo:lo + step]]
        i = np.arange(lo * D, lo * D + x.size, dtype=np.uint64).reshape(x.shape)
        np.copyto(out[lo:lo + step], bernoulli_draw(x, key, i), casting="unsafe")
    return out
