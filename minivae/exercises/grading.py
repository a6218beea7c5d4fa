r"""The grader's tools: comparisons whose failure says which tensor, which entries, by how much,
and what to look at.

A check is a function of the student's module that returns nothing or raises
:class:`CheckFailed` with a message a student can act on. Its *kind* says what sort of evidence
it is (:data:`KINDS`): a finite-difference **gradient** check (the backward against the forward,
with a random upstream gradient), a **known-answer** test (the forward against numbers worked
out by hand), a **distribution** test (moments and Monte Carlo estimates against closed forms),
or a **training** curve (a short run against the package's own). A gradient check only compares
a backward with its own forward: a forward that is consistently wrong passes it.
"""
from typing import Callable, NamedTuple

import numpy as np

from ..gradcheck import numerical_vjp

__all__ = ["KINDS", "Check", "CheckFailed", "compare", "gradient_check", "mean_check"]

KINDS = ("gradient", "known-answer", "distribution", "training")


class CheckFailed(AssertionError):
    """A check's verdict, with its readable message."""


class Check(NamedTuple):
    """One check of a task: ``run(module)`` raises :class:`CheckFailed` when it fails."""
    kind: str
    what: str
    run: Callable


def _entry(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if len(index) else "value"


def compare(what, yours, expected, rtol=1e-7, floor=1e-8, hint=""):
    """Raise :class:`CheckFailed` unless ``yours`` matches ``expected`` entry by entry: the
    relative error $|a - b| / \\max(|a| + |b|, \\text{floor})$ at most ``rtol`` everywhere.

    The message names ``what``, the shapes if they differ, else how many entries are off, the
    worst three with both values, the largest relative error, and ``hint``."""
    hint = f"\n      hint: {hint}" if hint else ""
    if yours is None:
        raise CheckFailed(f"{what} is None, expected an array of shape {np.shape(expected)}{hint}")
    try:
        a = np.asarray(yours, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} is a {type(yours).__name__}, expected numbers{hint}") from None
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise CheckFailed(f"{what} has shape {a.shape}, expected {b.shape}{hint}")
    bad_values = ~np.isfinite(a) & np.isfinite(b)
    if bad_values.any():
        idx = np.argwhere(bad_values)[:3]
        listed = "; ".join(f"{_entry(i)}: yours {a[tuple(i)]}, expected {b[tuple(i)]:.6g}" for i in idx)
        raise CheckFailed(f"{what}: {int(bad_values.sum())} of {a.size} entries are not finite "
                          f"({listed}){hint}")
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)
    err = np.where(np.isfinite(a) & np.isfinite(b), err, np.where(a == b, 0.0, np.inf))
    off = err > rtol
    if not off.any():
        return
    order = np.argsort(-err, axis=None)[:min(3, int(off.sum()))]
    listed = "; ".join(f"{_entry(np.unravel_index(k, a.shape))}: yours {a.flat[k]:.6g}, "
                       f"expected {b.flat[k]:.6g}" for k in order)
    raise CheckFailed(f"{what}: {int(off.sum())} of {a.size} entries differ, relative error up to "
                      f"{err.max():.1e} (tolerance {rtol:.0e}); worst: {listed}{hint}")


def gradient_check(name, forward, inputs, backward, rng, tol=1e-6, hints=None):
    """Finite differences against a backward, for a random upstream gradient.

    Parameters
    ----------
    name : str, what is checked (``"sample_forward/sample_backward"``)
    forward : callable ``forward() -> out`` that reads the arrays of ``inputs``
    inputs : dict name -> float64 array, perturbed in place one entry at a time
    backward : callable ``backward(dout) -> dict name -> gradient``
    rng : the generator of the upstream gradient ``dout``, drawn from N(0, 1) in ``out``'s shape
    hints : dict name -> str, shown when that input's gradient is wrong
    """
    out = np.asarray(forward())
    dout = rng.standard_normal(out.shape)
    yours = backward(dout if out.shape else float(dout))
    for key, x in inputs.items():
        expected = numerical_vjp(forward, x, dout)
        compare(f"{name}: the gradient with respect to {key}", yours.get(key), expected, rtol=tol,
                hint=(hints or {}).get(key, f"compare your formula for d{key} with the docstring"))


def mean_check(what, samples, expected, hint="", sigmas=5.0, label="expected"):
    """A Monte Carlo mean of ``samples`` (along axis 0) within ``sigmas`` standard errors of
    ``expected`` (called ``label`` in the message), entry by entry."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0) / np.sqrt(len(samples))
    expected = np.broadcast_to(np.asarray(expected, dtype=np.float64), mean.shape)
    if not np.all(np.isfinite(mean)):
        raise CheckFailed(f"{what}: the Monte Carlo estimate is not finite"
                          + (f"\n      hint: {hint}" if hint else ""))
    z = np.abs(mean - expected) / np.maximum(se, 1e-12 * np.maximum(np.abs(expected), 1.0))
    if np.all(z <= sigmas):
        return
    k = int(np.argmax(z))
    where = f" at {_entry(np.unravel_index(k, mean.shape))}" if mean.ndim else ""
    raise CheckFailed(f"{what}: the Monte Carlo estimate over {len(samples):,} samples is "
                      f"{mean.flat[k]:.6g}{where}, {label} {expected.flat[k]:.6g} (off by "
                      f"{z.flat[k]:.0f} standard errors, more than {sigmas:g})"
                      + (f"\n      hint: {hint}" if hint else ""))
