"""Input checks that turn bad data into a clear error before any arithmetic happens."""
import numpy as np

__all__ = ["as_float_array", "check_bool", "check_count", "check_data", "check_dtype", "check_eps",
           "check_hidden_sizes", "check_nonnegative_float", "check_open_unit", "check_positive_float",
           "check_positive_int", "check_seed"]


def check_positive_int(name, value):
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``/``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_hidden_sizes(value, name="n_hidden"):
    """Return ``value``, a positive integer or a non-empty sequence of them, as a list of ints."""
    sizes = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if not sizes:
        raise ValueError(f"{name} must name at least one hidden layer")
    return [check_positive_int(name, h) for h in sizes]


def check_count(name, value, minimum=0):
    """Return ``value`` as an int if it is a whole number ``>= minimum``; a float that equals a
    whole number (``2e5``) is accepted, ``1.7`` is not."""
    number = _real(name, value, "a whole number")
    if not (np.isfinite(number) and number == int(number)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if number < minimum:
        least = {0: "non-negative", 1: "positive"}.get(minimum, f"at least {minimum}")
        raise ValueError(f"{name} must be {least}, got {value!r}")
    return int(number)


def _real(name, value, what):
    """``value`` as a float if it is a real number (not a bool or a string), else ``TypeError``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    return float(value)


def check_open_unit(name, value):
    """Return ``value`` as a float if it lies strictly between 0 and 1, else raise ``ValueError``."""
    value = _real(name, value, "a number between 0 and 1")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


def check_positive_float(name, value):
    """Return ``value`` as a float if it is positive and finite, else raise ``ValueError``
    (``TypeError`` for a non-number)."""
    value = _real(name, value, "a positive number")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number (and finite), got {value}")
    return value


def check_nonnegative_float(name, value, below=np.inf):
    """Return ``value`` as a float if it is finite and in ``[0, below)``, else raise ``ValueError``
    (``TypeError`` for a non-number)."""
    value = _real(name, value, "a non-negative number")
    if not (np.isfinite(value) and 0.0 <= value < below):
        bound = "a finite non-negative number" if below == np.inf else f"a number in [0, {below:g})"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_bool(name, value):
    """Return ``value`` as a bool if it is one (``True``/``False`` or a NumPy bool), else ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(name, value):
    """Return ``value`` if it is ``None`` or a non-negative integer (what ``default_rng`` and a
    JSON checkpoint both take), else raise ``TypeError``/``ValueError``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be None or a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be None or a non-negative integer, got {value}")
    return int(value)


def check_dtype(name, value, allowed=(np.float32, np.float64)):
    """Return ``np.dtype(value)`` if it names one of ``allowed``, else raise ``ValueError``."""
    names = " or ".join(np.dtype(t).name for t in allowed)
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError, SyntaxError):  # np.dtype(', ') raises SyntaxError
        raise ValueError(f"{name} must be {names}, got {value!r}") from None
    if dtype not in [np.dtype(t) for t in allowed]:
        raise ValueError(f"{name} must be {names}, got {value!r}")
    return dtype


def as_float_array(name, a, dtype=np.float64):
    """Convert ``a`` to a float array, refusing non-real data and non-finite values."""
    a = np.asarray(a)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers (float or int), got dtype {a.dtype}")
    a = a.astype(dtype, copy=False)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return a


def check_data(X, n_input, name="X", dtype=np.float64):
    """Validate a data matrix for a model with ``n_input`` visible units: its shape, and finite
    values (a decoder adds the range of its data: :meth:`minivae.decoder.Decoder.check_data`).

    Parameters
    ----------
    X : array_like (M, n_input)
    n_input : int
    name : str, the argument's name in error messages
    dtype : the floating type to return

    Returns
    -------
    X : ndarray (M, n_input) of ``dtype``
    """
    X = as_float_array(name, X, dtype)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (M, {n_input}), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows (datapoints)")
    if X.shape[1] != n_input:
        raise ValueError(f"{name} has {X.shape[1]} columns but the model has n_input={n_input}")
    return X


def check_eps(eps, M, J, dtype=np.float64):
    """Validate noise ``eps`` of shape ``(M, J)`` or ``(L, M, J)``; return it as ``(L, M, J)`` of ``dtype``."""
    eps = as_float_array("eps", eps, dtype)
    if eps.ndim == 2:
        eps = eps[None]
    if eps.ndim != 3 or eps.shape[1:] != (M, J) or eps.shape[0] == 0:
        raise ValueError(f"eps must have shape (M, J) = ({M}, {J}) or (L, {M}, {J}) with L >= 1, "
                         f"got {eps.shape}")
    return eps
