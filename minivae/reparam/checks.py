"""Parameter, noise and support checks shared by the families: bad input becomes a clear ``ValueError``.

A :class:`Constraint` pairs a test with the words a message uses for it. Checks name the family,
the argument and the first offending entry, e.g.
``exponential: parameter 'rate' must be > 0, got -1.0 at index (2,)``.
"""
from typing import Callable, NamedTuple

import numpy as np

from ..validation import as_float_array

__all__ = ["Constraint", "REAL", "POSITIVE", "OPEN_UNIT", "check_param_dict", "check_values",
           "check_support", "check_integer_shape", "check_even_shape"]


class Constraint(NamedTuple):
    """``text`` completes "must be ...", ``holds(array) -> bool array``."""
    text: str
    holds: Callable


REAL = Constraint("a finite real number", np.isfinite)
POSITIVE = Constraint("> 0", lambda a: a > 0)
OPEN_UNIT = Constraint("in the open interval (0, 1)", lambda a: (a > 0) & (a < 1))


def _first(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_values(family, what, a, constraint):
    """Raise ``ValueError`` naming the first entry of ``a`` that breaks ``constraint``; return ``a``."""
    bad = ~np.asarray(constraint.holds(a), dtype=bool)
    if np.any(bad):
        index = _first(bad) if bad.ndim else ()
        value = a[index] if np.ndim(a) else a
        raise ValueError(f"{family}: {what} must be {constraint.text}, got {float(value)!r}"
                         + (f" at index {index}" if index else ""))
    return a


def check_support(family, support, z, inside):
    """Raise ``ValueError`` if any entry of the boolean array ``inside`` is false."""
    inside = np.asarray(inside, dtype=bool)
    if not np.all(inside):
        index = _first(~inside) if inside.ndim else ()
        value = f"z = {float(z[index])!r}" if np.shape(z) == inside.shape else "z"
        raise ValueError(f"{family}: {value}" + (f" at index {index}" if index else "")
                         + f" is outside the support, {support}")


def check_param_dict(family, params, constraints):
    """Check a params dict against ``constraints`` (name -> :class:`Constraint`), in their order.

    Returns
    -------
    dict name -> float64 ndarray; an array that already is float64 is passed through, not
    copied, so a gradient check that perturbs it in place is seen by the family.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{family}: params must be a dict with keys {list(constraints)}, "
                        f"got {type(params).__name__}")
    missing = [k for k in constraints if k not in params]
    extra = [k for k in params if k not in constraints]
    if missing or extra:
        raise ValueError(f"{family}: params must have exactly the keys {list(constraints)}; "
                         f"missing {missing}, unexpected {extra}")
    out = {}
    for name, constraint in constraints.items():
        a = as_float_array(f"{family}: parameter {name!r}", params[name])
        out[name] = check_values(family, f"parameter {name!r}", a, constraint)
    return out


def check_integer_shape(name, value):
    """Return ``value`` as an int if it is a positive whole number (``3`` or ``3.0``), else ``ValueError``.

    A composition sums a whole number of variates; the message says what a real shape would need.
    """
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
          and np.isfinite(value) and value >= 1 and float(value) == int(value))
    if not ok:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}: a composition sums "
                         f"a whole number of variates; a real shape needs a pathwise gradient beyond "
                         f"the paper's three recipes (e.g. implicit reparameterization), not implemented")
    return int(value)


def check_even_shape(name, value):
    """Return ``value`` as an int if it is a positive even whole number, else ``ValueError``."""
    value = check_integer_shape(name, value)
    if value % 2:
        raise ValueError(f"{name} must be even (the composition sums half that many exponentials), "
                         f"got {value}")
    return value
