"""Input checks that turn bad data into a clear error before any arithmetic happens."""
import numpy as np

__all__ = ["as_float_array", "check_data", "check_eps", "check_open_unit", "check_positive_float",
           "check_positive_int"]


def check_positive_int(name, value):
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``/``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_open_unit(name, value):
    """Return ``value`` as a float if it lies strictly between 0 and 1, else raise ``ValueError``."""
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


def check_positive_float(name, value):
    """Return ``value`` as a float if it is positive and finite, else raise ``ValueError``."""
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


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


def check_data(X, n_input, bernoulli, name="X", dtype=np.float64):
    """Validate a data matrix for a model with ``n_input`` visible units.

    Parameters
    ----------
    X : array_like (M, n_input)
    n_input : int
    bernoulli : bool
        If true, every value must lie in [0, 1] (Bernoulli targets or their probabilities).

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
    if bernoulli and (X.min() < 0.0 or X.max() > 1.0):
        raise ValueError(f"{name} must lie in [0, 1] for a Bernoulli decoder, "
                         f"got values in [{X.min():g}, {X.max():g}]")
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
