r"""Finite-difference gradient checks: the test every hand-written backward must pass.

Every gradient in ``minivae`` is written by hand next to its forward. This module
checks such a gradient against *central differences*,

$$
\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h},
$$

whose truncation error is $O(h^2)$ (one order better than the one-sided
difference), and compares the two with the relative error

$$
\operatorname{rel}(a, b) = \max_i \frac{|a_i - b_i|}{\max(|a_i| + |b_i|,\ \text{floor})}.
$$

Conventions
-----------
* **Closures, not arguments.** The function under test takes *no* arguments:
  ``f()`` reads the array ``x`` through its closure (typically a parameter of a
  model). The check perturbs ``x`` **in place**, one entry at a time, and
  restores every entry to its original bits afterwards, also when ``f`` raises.
  A closure over a *copy* of ``x`` has a numerical gradient of exactly zero,
  which the check reports as a failure.
* **float64 only.** With ``h = 1e-6`` a float32 perturbation is lost in
  rounding, so every checked array must be ``float64``.
* **Vector-Jacobian products.** An array-valued ``f() -> out`` is checked through
  the scalar ``sum(out * dout)`` for a random upstream gradient ``dout``: its
  gradient is exactly what a ``*_backward(dout, cache)`` function returns.
* **NaN fails.** Any non-finite entry makes :func:`rel_error` return ``nan``,
  and every check here treats ``nan`` as a failure (``not err <= tol``).

Tolerance ladder (float64, ``h`` about 1e-6, floor 1e-8; see ``docs/design.md``, "Tests"):
one op or layer VJP with a random upstream ``<= 1e-7``; every parameter tensor
of the full ELBO ``<= 1e-6``; anything with a kink (ReLU) ``<= 1e-4``, away
from the kink.

Where the error comes from
--------------------------
The estimate above has two errors: truncation, about $h^2 |f'''| / 6$, and
rounding, about $\varepsilon_\text{mach} |f| / h \approx 10^{-10} |f|$ for
$h = 10^{-6}$. Rounding grows with the *size of the loss*, not with the size of
the derivative, so an entry whose true derivative is close to zero can show a
large *relative* error although the backward is right. Keep checked losses
small (a few small tensors, upstream gradients of order one) and read a single
bad entry next to its neighbours before blaming the backward.
:func:`numerical_vjp` avoids most of the rounding by differencing the outputs
before reducing them (``sum((out_plus - out_minus) * dout)``), so that entries
not touched by the perturbation cancel exactly.

For a whole loss, such as the negative ELBO, the rounding cannot be avoided, and
some gradient entries are a millionth of the loss: at ``h = 1e-6`` their
elementwise relative error reaches 1e-5 although the backward is right. There
use ``order=4``, the five-point stencil $\frac43 D(h) - \frac13 D(2h)$ where
$D(h)$ is the central difference: its truncation error is $O(h^4)$, so a much
larger step, ``h = 1e-3``, keeps truncation near $10^{-12}$ and cuts rounding
a thousandfold. :func:`minivae.modelcheck.check_model_gradients` does this.

Examples
--------
>>> import numpy as np
>>> x = np.array([0.5, -1.0, 2.0])
>>> f = lambda: np.sum(np.sin(x))
>>> rel_error(numerical_gradient(f, x), np.cos(x)) < 1e-7
True
>>> W = np.arange(6.0).reshape(2, 3) / 10
>>> X = np.ones((4, 2))
>>> dout = np.full((4, 3), 0.5)
>>> errors = check_vjp(lambda: X @ W, {"X": X, "W": W}, dout,
...                    {"X": dout @ W.T, "W": X.T @ dout})
>>> sorted(errors)
['W', 'X']
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = [
    "GradCheckReport",
    "GradCheckRow",
    "check_params",
    "check_vjp",
    "numerical_gradient",
    "numerical_vjp",
    "rel_error",
    "sparse_check",
]


# ----------------------------------------------------------------------------
# Relative error
# ----------------------------------------------------------------------------


def rel_error(a, b, floor: float = 1e-8) -> float:
    r"""Largest entrywise relative error between two arrays of the same shape.

    .. math:: \max_i |a_i - b_i| / \max(|a_i| + |b_i|, \text{floor})

    Parameters
    ----------
    a, b : array_like of float, same shape (any, including scalars)
        Typically a numerical and an analytic gradient. No broadcasting.
    floor : float, default 1e-8
        Lower bound on the denominator, so that two entries that are both
        (close to) zero compare by absolute error, scaled by ``1 / floor``.

    Returns
    -------
    float
        In ``[0, 1]`` for finite inputs; ``0.0`` for identical or empty arrays;
        ``nan`` if any entry of either array is not finite.

    Raises
    ------
    ValueError
        If the shapes differ or ``floor`` is not positive.

    Examples
    --------
    >>> rel_error(1.0, 3.0)
    0.5
    >>> rel_error([0.0, 2.0], [0.0, 2.0])
    0.0
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if not floor > 0:
        raise ValueError(f"rel_error: floor must be positive, got {floor!r}")
    if a.size == 0:
        return 0.0
    denominator = np.maximum(np.abs(a) + np.abs(b), floor)
    with np.errstate(invalid="ignore"):  # inf - inf and inf / inf give nan: wanted
        return float(np.max(np.abs(a - b) / denominator))


# ----------------------------------------------------------------------------
# Central differences
# ----------------------------------------------------------------------------


def _check_array(x, name: str = "x") -> None:
    """Raise unless ``x`` is a writable float64 ndarray that can be perturbed in place."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (perturbed in place), got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"{name} must be float64 for gradient checks, got {x.dtype}")
    if not x.flags.writeable:
        raise ValueError(f"{name} is read-only; the check perturbs it in place")


def _check_step(h: float) -> None:
    """Raise unless the step ``h`` is a positive finite number."""
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"step h must be positive and finite, got {h!r}")


def _as_scalar(value) -> float:
    """Return ``value`` as a float; raise TypeError unless it is a scalar (0-d)."""
    array = np.asarray(value)
    if array.ndim != 0:
        raise TypeError(f"f() must return a scalar, got an array of shape {array.shape}")
    return float(array)


def _perturbed_pair(evaluate: Callable, x: np.ndarray, index: tuple, h: float):
    """Evaluate at ``x[index] + h`` and ``x[index] - h``, then restore ``x[index]``.

    Returns ``(value_plus, value_minus, step)`` where ``step`` is the step
    actually taken, ``(x_i + h) - (x_i - h)`` in floating point: dividing by it
    rather than by ``2 * h`` removes the error of rounding ``x_i +- h``.
    The original entry is written back from a saved copy, never recomputed, so
    ``x`` is restored bit for bit, also when ``evaluate`` raises.
    """
    original = x[index]  # a numpy scalar: a copy, not a view
    plus, minus = original + h, original - h
    step = plus - minus
    if step == 0:
        raise ValueError(f"step h={h!r} is lost in rounding at x{list(index)} = {original!r}")
    try:
        x[index] = plus
        value_plus = evaluate()
        x[index] = minus
        value_minus = evaluate()
    finally:
        x[index] = original
    return value_plus, value_minus, step


def _central(f: Callable, x: np.ndarray, index: tuple, h: float) -> float:
    f_plus, f_minus, step = _perturbed_pair(lambda: _as_scalar(f()), x, index, h)
    return (f_plus - f_minus) / step


def _check_order(order: int) -> None:
    if order not in (2, 4):
        raise ValueError(f"order must be 2 (central difference) or 4 (five-point stencil), got {order!r}")


def _partial_derivative(f: Callable, x: np.ndarray, index: tuple, h: float, order: int = 2) -> float:
    """Estimate ``d f() / d x[index]`` for a scalar ``f``.

    ``order=2`` is the central difference $D(h)$; ``order=4`` is the five-point stencil
    $\\frac43 D(h) - \\frac13 D(2h)$ (Richardson extrapolation), truncation error $O(h^4)$.
    """
    d = _central(f, x, index, h)
    return d if order == 2 else (4.0 * d - _central(f, x, index, 2.0 * h)) / 3.0


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6,
                       order: int = 2) -> np.ndarray:
    r"""Gradient of a scalar function by central differences, one entry at a time.

    Costs ``2 * x.size`` calls of ``f``.

    Parameters
    ----------
    f : callable, ``f() -> float``
        Takes no arguments and reads ``x`` (for instance through a closure).
        Must return a scalar: a Python float, numpy scalar or 0-d array.
    x : ndarray of float64, shape (any)
        The live array ``f`` reads. Perturbed **in place** and restored bit for
        bit afterwards, also if ``f`` raises. A view (e.g. ``W[:, 0]``) works
        and perturbs its base array.
    h : float, default 1e-6
        Step of the central difference.
    order : 2 or 4, default 2
        2: central difference, ``2 * x.size`` calls of ``f``; 4: five-point stencil
        (see "Where the error comes from"), twice as many calls.

    Returns
    -------
    ndarray of float64, shape ``x.shape``
        $\partial f / \partial x$.

    Raises
    ------
    TypeError
        If ``f`` returns a non-scalar, or ``x`` is not a float64 ndarray.

    Examples
    --------
    >>> x = np.array([1.0, 2.0])
    >>> np.round(numerical_gradient(lambda: np.sum(x ** 2), x), 6)
    array([2., 4.])
    """
    _check_array(x)
    _check_step(h)
    _check_order(order)
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        grad[index] = _partial_derivative(f, x, index, h, order)
    return grad


def _output_copy(value, shape: tuple) -> np.ndarray:
    """Copy ``f()``'s output as float64 (it may alias ``x``) and check its shape."""
    out = np.array(value, dtype=np.float64, copy=True)
    if out.shape != shape:
        raise ValueError(f"f() returned shape {out.shape} but dout has shape {shape}")
    return out


def numerical_vjp(f: Callable[[], np.ndarray], x: np.ndarray, dout, h: float = 1e-6) -> np.ndarray:
    r"""Vector-Jacobian product by central differences: the gradient of ``sum(f() * dout)``.

    .. math:: \Big(\frac{\partial\, \sum_k \mathrm{out}_k\, \mathrm{dout}_k}{\partial x}\Big)_i
              \approx \sum_k \frac{\mathrm{out}_k(x + h e_i) - \mathrm{out}_k(x - h e_i)}{2h}\,
              \mathrm{dout}_k

    The outputs are differenced *before* the reduction, so outputs that do not
    depend on ``x_i`` cancel exactly instead of adding rounding error.
    This is the number a ``*_backward(dout, cache)`` function must return.

    Parameters
    ----------
    f : callable, ``f() -> ndarray``
        Takes no arguments, reads ``x``; returns an array of shape ``dout.shape``.
        The output is copied, so returning a view of ``x`` is fine.
    x : ndarray of float64, shape (any)
        Perturbed in place and restored bit for bit (see :func:`numerical_gradient`).
    dout : array_like of float, shape ``out.shape``
        Upstream gradient; use a random one so that no entry of the VJP is
        zero by construction.
    h : float, default 1e-6
        Step of the central difference.

    Returns
    -------
    ndarray of float64, shape ``x.shape``

    Raises
    ------
    ValueError
        If ``f()`` does not return an array of shape ``dout.shape``.
    """
    _check_array(x)
    _check_step(h)
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros(x.shape, dtype=np.float64)
    evaluate = lambda: _output_copy(f(), dout.shape)  # noqa: E731
    for index in np.ndindex(x.shape):
        out_plus, out_minus, step = _perturbed_pair(evaluate, x, index, h)
        grad[index] = np.sum((out_plus - out_minus) * dout) / step
    return grad


# ----------------------------------------------------------------------------
# Checks: numerical against analytic
# ----------------------------------------------------------------------------


def _check_same_keys(reference: Mapping, other: Mapping, ref_name: str, other_name: str) -> None:
    """Raise ValueError naming the keys missing from / extra in ``other``."""
    missing = [k for k in reference if k not in other]
    extra = [k for k in other if k not in reference]
    if missing or extra:
        raise ValueError(
            f"{other_name} must have exactly the keys of {ref_name}; "
            f"missing from {other_name}: {missing}; extra in {other_name}: {extra}"
        )


def _as_gradient(analytic, x: np.ndarray, name: str) -> np.ndarray:
    """``analytic`` as float64, after checking that it has the shape of ``x``."""
    grad = np.asarray(analytic, dtype=np.float64)
    if grad.shape != x.shape:
        raise ValueError(f"gradient for {name!r} has shape {grad.shape}, expected {x.shape}")
    return grad


def _failed(error: float, tol: float) -> bool:
    """True if ``error`` exceeds ``tol``; nan always fails."""
    return not error <= tol


def _worst(errors: Mapping[str, float]) -> str:
    """Name with the largest error, nan counting as the largest."""
    return max(errors, key=lambda name: np.inf if np.isnan(errors[name]) else errors[name])


def _raise_if_failed(errors: Mapping[str, float], tol: float, what: str) -> None:
    """AssertionError naming the worst entry of ``errors`` if any exceeds ``tol``."""
    failed = {name: err for name, err in errors.items() if _failed(err, tol)}
    if not failed:
        return
    worst = _worst(failed)
    listing = ", ".join(f"{name}={err:.2e}" for name, err in errors.items())
    raise AssertionError(
        f"{what} failed for {len(failed)} of {len(errors)} inputs; worst is {worst!r} "
        f"with rel. error {failed[worst]:.2e} > tol {tol:.1e} (all: {listing})"
    )


def check_vjp(
    f: Callable[[], np.ndarray],
    inputs: Mapping[str, np.ndarray],
    dout,
    analytic: Mapping[str, np.ndarray],
    h: float = 1e-6,
    tol: float = 1e-7,
    raise_on_fail: bool = True,
) -> dict[str, float]:
    """Check analytic VJPs of ``f`` with respect to several inputs.

    Parameters
    ----------
    f : callable, ``f() -> ndarray`` of shape ``dout.shape``
        Reads every array in ``inputs`` (through a closure).
    inputs : dict of str -> ndarray of float64
        The live arrays ``f`` reads, by name. Each is perturbed in place and
        restored bit for bit.
    dout : array_like of float, shape of ``f()``
        Upstream gradient.
    analytic : dict of str -> array_like, same keys and shapes as ``inputs``
        The gradients to check, e.g. the outputs of a ``*_backward(dout, cache)``.
    h : float, default 1e-6
        Step of the central difference.
    tol : float, default 1e-7
        Largest accepted :func:`rel_error` per input (the ladder's single-op rung).
    raise_on_fail : bool, default True
        If False, only return the errors.

    Returns
    -------
    dict of str -> float
        :func:`rel_error` per input, in the order of ``inputs``.

    Raises
    ------
    AssertionError
        If ``raise_on_fail`` and any error exceeds ``tol`` (or is nan); the
        message names the worst input and lists all errors.
    ValueError
        If the keys of ``analytic`` differ from those of ``inputs``, or a shape differs.
    """
    _check_same_keys(inputs, analytic, "inputs", "analytic")
    errors = {}
    for name, x in inputs.items():
        expected = _as_gradient(analytic[name], x, name)
        errors[name] = rel_error(numerical_vjp(f, x, dout, h), expected)
    if raise_on_fail:
        _raise_if_failed(errors, tol, what="VJP check")
    return errors


def _n_entries(n_checks: int, size: int) -> int:
    """Number of entries a sparse check looks at: ``n_checks`` capped at ``size``."""
    n_checks = operator.index(n_checks)
    if n_checks < 1:
        raise ValueError(f"n_checks must be at least 1, got {n_checks}")
    return min(n_checks, size)


def sparse_check(
    f: Callable[[], float],
    x: np.ndarray,
    analytic,
    n_checks: int = 20,
    rng: np.random.Generator | int | None = None,
    h: float = 1e-6,
    order: int = 2,
) -> float:
    """Check a few random entries of the gradient of a scalar ``f`` with respect to ``x``.

    For large tensors (a 784 x 400 weight matrix) a full check costs one
    forward pass per entry and per sign; a random sample of entries catches a
    wrong backward just as surely unless the error is confined to a few entries.

    Parameters
    ----------
    f : callable, ``f() -> float``
        Scalar function reading ``x``.
    x : ndarray of float64, shape (any)
        Perturbed in place and restored bit for bit.
    analytic : array_like of float, shape ``x.shape``
        The gradient to check.
    n_checks : int, default 20
        Number of entries, drawn without replacement; capped at ``x.size``, so
        ``n_checks >= x.size`` checks every entry.
    rng : numpy.random.Generator, int or None
        Source of the entries (a seed makes the check reproducible).
    h : float, default 1e-6
        Step of the central difference.
    order : 2 or 4, default 2
        Central difference or five-point stencil, as in :func:`numerical_gradient`.

    Returns
    -------
    float
        :func:`rel_error` between the numerical and analytic values of the
        checked entries (``0.0`` if ``x`` is empty).
    """
    _check_array(x)
    _check_step(h)
    _check_order(order)
    expected = _as_gradient(analytic, x, "analytic").reshape(-1)
    n = _n_entries(n_checks, x.size)
    flat = np.random.default_rng(rng).choice(x.size, size=n, replace=False)
    numeric = [_partial_derivative(f, x, np.unravel_index(i, x.shape), h, order) for i in flat]
    return rel_error(np.array(numeric, dtype=np.float64), expected[flat])


# ----------------------------------------------------------------------------
# Report over the parameter tensors of a model
# ----------------------------------------------------------------------------


class GradCheckRow(NamedTuple):
    """Result of checking one parameter tensor."""

    name: str
    shape: tuple
    n_checked: int
    rel_error: float
    tol: float
    passed: bool


_HEADER = ("name", "shape", "entries checked", "rel. error", "tol", "result")
_RIGHT_ALIGNED = {2, 3, 4}  # numeric columns


def _cells(row: GradCheckRow) -> tuple[str, ...]:
    """The table cells of one row, as strings."""
    result = "ok" if row.passed else "FAIL"
    return (row.name, str(row.shape), str(row.n_checked), f"{row.rel_error:.2e}", f"{row.tol:.1e}", result)


def _format_table(lines: list[tuple[str, ...]]) -> list[str]:
    """Align columns: text to the left, numbers to the right, two spaces apart."""
    widths = [max(len(line[col]) for line in lines) for col in range(len(_HEADER))]

    def fmt(line):
        cells = (c.rjust(w) if i in _RIGHT_ALIGNED else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [fmt(lines[0]), rule] + [fmt(line) for line in lines[1:]]


@dataclass
class GradCheckReport:
    """Per-tensor results of :func:`check_params`, printable as a table.

    Attributes
    ----------
    rows : list of GradCheckRow
        One row per parameter tensor: ``(name, shape, n_checked, rel_error, tol, passed)``.

    Examples
    --------
    >>> report = GradCheckReport([GradCheckRow("W", (2, 3), 6, 1e-9, 1e-6, True)])
    >>> report.passed
    True
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
    name  shape   entries checked  rel. error      tol  result
    ----  ------  ---------------  ----------  -------  ------
    W     (2, 3)                6    1.00e-09  1.0e-06  ok
    PASSED: all 1 tensors within tolerance (largest rel. error 1.00e-09, 'W')
    """

    rows: list[GradCheckRow] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True if every row passed."""
        return all(row.passed for row in self.rows)

    def _summary(self) -> str:
        """The final line: verdict, and the tensors to look at first."""
        if not self.rows:
            return "no tensors checked"
        errors = {row.name: row.rel_error for row in self.rows}
        worst = _worst(errors)
        if self.passed:
            return (
                f"PASSED: all {len(self.rows)} tensors within tolerance "
                f"(largest rel. error {errors[worst]:.2e}, {worst!r})"
            )
        failed = [row.name for row in self.rows if not row.passed]
        return f"FAILED: {len(failed)} of {len(self.rows)} tensors exceed tolerance: {', '.join(failed)}"

    def __str__(self) -> str:
        table = _format_table([_HEADER] + [_cells(row) for row in self.rows])
        return "\n".join(table + [self._summary()])


def _check_tensor(f, name, x, grad, n_checks, rng, h, tol, order) -> GradCheckRow:
    """Sparse-check one parameter tensor and return its report row."""
    _check_array(x, name=f"params[{name!r}]")
    error = sparse_check(f, x, _as_gradient(grad, x, name), n_checks=n_checks, rng=rng, h=h,
                         order=order)
    n_checked = _n_entries(n_checks, x.size)
    return GradCheckRow(name, tuple(x.shape), n_checked, error, tol, not _failed(error, tol))


def check_params(
    f: Callable[[], float],
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    n_checks: int = 20,
    rng: np.random.Generator | int | None = None,
    h: float = 1e-6,
    tol: float = 1e-6,
    order: int = 2,
) -> GradCheckReport:
    """Sparse-check the gradient of a scalar loss for every parameter tensor.

    Parameters
    ----------
    f : callable, ``f() -> float``
        The loss (e.g. the negative ELBO of a minibatch with fixed ``eps``),
        reading the live arrays of ``params``.
    params : dict of str -> ndarray of float64
        Parameter tensors by name; each is perturbed in place and restored.
    grads : dict of str -> array_like
        Analytic gradients, exactly the keys of ``params``, same shapes.
    n_checks : int, default 20
        Entries checked per tensor (capped at its size).
    rng : numpy.random.Generator, int or None
        Source of the checked entries, shared by all tensors.
    h : float, default 1e-6
        Step of the central difference.
    tol : float, default 1e-6
        Largest accepted error per tensor (the ladder's full-ELBO rung).
    order : 2 or 4, default 2
        Central difference or five-point stencil (use 4 with ``h=1e-3`` for a whole loss).

    Returns
    -------
    GradCheckReport
        ``print`` it for a table; ``assert report.passed, report`` in a test.

    Raises
    ------
    ValueError
        If ``params`` is empty, or ``grads`` lacks a key of ``params`` or has an
        extra one (the message names them), or a shape differs.
    """
    _check_same_keys(params, grads, "params", "grads")
    if not params:
        raise ValueError("params is empty: nothing to check")
    rng = np.random.default_rng(rng)
    rows = [_check_tensor(f, name, params[name], grads[name], n_checks, rng, h, tol, order)
            for name in params]
    return GradCheckReport(rows)
