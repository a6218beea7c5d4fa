r"""Parameter-free noise $\epsilon \sim p(\epsilon)$ for the reparameterizations of Sec. 2.4."""
import numpy as np

__all__ = ["open_uniform"]

_BITS = 52


def open_uniform(rng, shape):
    r"""Uniform noise on the *open* interval $(0, 1)$: $u = (k + \tfrac12)\,2^{-52}$, $k$ uniform on
    $\{0, \dots, 2^{52}-1\}$.

    ``Generator.random`` can return exactly 0, where $\log u$, $\log(1-u)$ and
    $\tan(\pi(u - \frac12))$ of the inverse-CDF transforms are infinite or at a pole. Here the
    smallest value is $2^{-53}$ and the largest $1 - 2^{-53}$, both exact in float64.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int

    Returns
    -------
    ndarray of float64, ``shape``
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    k = rng.integers(0, 2 ** _BITS, size=shape, dtype=np.int64)
    return (k + 0.5) * 2.0 ** -_BITS
