"""Shared hypothesis strategies for minivae's tests, and the CI budget helper.

Import them in a test module as ``from strategies import finite_arrays, seeds``
(pytest puts ``tests/`` on ``sys.path``, the directory has no ``__init__.py``).

Two ways to make random inputs for a forward/backward pair:

* arrays drawn by hypothesis (:func:`finite_arrays`, :func:`same_shape_arrays`),
  which shrink to a small failing example; good for elementwise ops;
* a seed (:func:`seeds`) and sizes (:func:`dims`), turned into arrays with
  ``np.random.default_rng(seed)``; good for ops whose inputs must have matching
  shapes (``X (M, D)``, ``W (D, K)``, ``dout (M, K)``) and for ``eps`` noise.

Gradient checks and near-zero gradients: the rounding error of a central
difference is absolute (about ``1e-10 * |loss|`` for ``h = 1e-6``), so an entry
whose true gradient is within about ``1e-3`` of zero can exceed a relative
tolerance of ``1e-7`` although the backward is right. Elementwise ops are
immune; for contractions (matrix products, sums) draw magnitudes bounded away
from zero (:func:`nonzero_floats`) or use a fixed seed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "budget",
    "dims",
    "finite_arrays",
    "floats",
    "hypothesis_profile",
    "in_ci",
    "nonzero_floats",
    "same_shape_arrays",
    "seeds",
    "shapes",
]


# ----------------------------------------------------------------------------
# Environment: CI or not, and how much work to do
# ----------------------------------------------------------------------------


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True if the environment variable ``CI`` is ``"true"`` (any case)."""
    environ = os.environ if environ is None else environ
    return environ.get("CI", "").strip().lower() == "true"


def hypothesis_profile(environ: Mapping[str, str] | None = None) -> str:
    """Name of the hypothesis profile to load: ``$HYPOTHESIS_PROFILE``, else ``"ci"`` or ``"dev"``."""
    environ = os.environ if environ is None else environ
    return environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci(environ) else "dev")


def budget(full: int, ci: int) -> int:
    """Work budget (examples, iterations, entries checked): ``full`` locally, the smaller one in CI.

    Usable at import time, e.g. ``@settings(max_examples=budget(200, 25))``;
    inside a test the ``budget`` fixture of ``conftest.py`` returns this function.
    """
    return min(full, ci) if in_ci() else full


# ----------------------------------------------------------------------------
# Numbers, shapes, arrays
# ----------------------------------------------------------------------------


def floats(min_value: float = -3.0, max_value: float = 3.0) -> st.SearchStrategy[float]:
    """Finite float64 values in ``[min_value, max_value]`` (default ``[-3, 3]``)."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, width=64)


def nonzero_floats(low: float = 0.5, high: float = 2.0) -> st.SearchStrategy[float]:
    """Floats with magnitude in ``[low, high]`` and either sign: bounded away from zero."""
    return st.one_of(floats(low, high), floats(-high, -low))


def dims(max_side: int = 5, min_side: int = 1) -> st.SearchStrategy[int]:
    """One array dimension (a batch size ``M``, a width ``D``) in ``[min_side, max_side]``."""
    return st.integers(min_side, max_side)


def shapes(min_dims: int = 1, max_dims: int = 3, max_side: int = 4, min_side: int = 1):
    """Array shapes with ``min_dims..max_dims`` axes of length ``min_side..max_side``.

    Small by default: a full finite-difference check costs two forwards per entry.
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def finite_arrays(shape, elements: st.SearchStrategy[float] | None = None):
    """float64 arrays of a given shape (a tuple, an int or a strategy) with finite entries.

    Parameters
    ----------
    shape : int, tuple of int, or strategy of those
        E.g. ``(3, 4)`` or ``shapes(max_dims=2)``.
    elements : strategy of float, optional
        Defaults to :func:`floats`, i.e. ``[-3, 3]``.
    """
    return hnp.arrays(np.float64, shape, elements=floats() if elements is None else elements)


def same_shape_arrays(n: int, shape=None, elements: st.SearchStrategy[float] | None = None):
    """Tuples of ``n`` float64 arrays sharing one shape, e.g. ``(x, dout)`` for an elementwise op.

    ``shape`` is a tuple or a strategy of tuples (default :func:`shapes`).
    """
    shape_strategy = shapes() if shape is None else shape
    if not isinstance(shape_strategy, st.SearchStrategy):
        shape_strategy = st.just(shape_strategy)
    return shape_strategy.flatmap(lambda s: st.tuples(*[finite_arrays(s, elements) for _ in range(n)]))


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``np.random.default_rng(seed)`` (a failing seed is printed and reproducible)."""
    return st.integers(min_value=0, max_value=2**32 - 1)


# ----------------------------------------------------------------------------
# Inputs whose true vector-Jacobian product is bounded away from zero
# ----------------------------------------------------------------------------
#
# A gradient check at the ladder's 1e-7 fails spuriously on an entry whose true
# VJP is close to zero (see the module docstring). For ops that sum over an axis
# (the feature axis of a log-density, the sample axis L of a broadcast, the batch
# axis of a weight gradient) random signs make such cancellations common: with
# plain Gaussian inputs about one depth-2 MLP check in five fails at 1e-7 although
# the backward is right. The strategies below draw magnitudes bounded away from
# zero and give the signs a structure that keeps every term of each such sum of
# one sign, so that every entry of the VJP is bounded away from zero. Signs still
# vary between entries, so sign and transpose errors in a backward are caught.


def magnitudes(shape, low: float = 0.5, high: float = 2.0):
    """Positive float64 arrays with entries in ``[low, high]``."""
    return finite_arrays(shape, floats(low, high))


def signed_arrays(shape, low: float = 0.5, high: float = 2.0):
    """float64 arrays whose entries have magnitude in ``[low, high]`` and either sign."""
    return finite_arrays(shape, nonzero_floats(low, high))


def sign_arrays(shape):
    """float64 arrays of ``-1.0`` and ``+1.0``."""
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))


@st.composite
def log_normal_inputs(draw, broadcast: str = "none", max_L: int = 3, max_M: int = 4, max_J: int = 4):
    r"""``(x, mean, logvar, dout)`` for a VJP check of a diagonal Gaussian log-density.

    Parameters
    ----------
    broadcast : ``"none"``, ``"x"`` or ``"params"``
        Which arguments carry a leading sample axis ``L``: none (all ``(M, J)``,
        ``dout (M,)``); ``"x"``, as in :math:`\log q(z|x)` with ``z (L, M, J)`` against
        ``mu, logvar (M, J)``; ``"params"``, as in the Gaussian decoder with ``x (M, D)``
        against ``mean, logvar (L, M, D)``. ``dout`` has the broadcast shape minus its
        last axis.

    Every entry of the VJP is bounded away from zero: ``|x - mean|`` and
    ``r = (x - mean)^2 / var`` are drawn, with ``r`` in ``[0.15, 0.6]`` or ``[1.6, 3]`` so that
    ``d/dlogvar = (r - 1) / 2`` is too; the sign of ``x - mean``, the side of ``r`` and the
    sign of ``dout`` are shared along the sample axis, which the backward sums over.
    """
    if broadcast not in ("none", "x", "params"):
        raise ValueError(f"broadcast must be 'none', 'x' or 'params', got {broadcast!r}")
    L = 1 if broadcast == "none" else draw(dims(max_L))
    M, J = draw(dims(max_M)), draw(dims(max_J))
    small, big = (M, J), (L, M, J)
    diff_sign = draw(sign_arrays(small))
    above = draw(hnp.arrays(np.bool_, small))
    ratio = np.where(above, draw(magnitudes(big, 1.6, 3.0)), draw(magnitudes(big, 0.15, 0.6)))
    logvar = draw(finite_arrays(big if broadcast == "params" else small, floats(-1.0, 1.0)))
    diff = diff_sign * np.sqrt(ratio * np.exp(logvar))  # (L, M, J)
    dout = draw(sign_arrays((M,))) * draw(magnitudes((L, M)))
    if broadcast == "none":
        mean = draw(finite_arrays(small))
        return mean + diff[0], mean, logvar, dout[0]
    if broadcast == "x":
        mean = draw(finite_arrays(small))
        return mean + diff, mean, logvar, dout
    x = draw(finite_arrays(small, floats(0.0, 1.0)))
    return x, x - diff, logvar, dout


__all__ += ["log_normal_inputs", "magnitudes", "sign_arrays", "signed_arrays"]
