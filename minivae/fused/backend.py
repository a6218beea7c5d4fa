"""The compute backend of the hot path: ``"numpy"`` or ``"numba"``.

Both backends run the same maths, written once in :mod:`minivae.fused.kernels.scalar`: the NumPy
backend evaluates those functions on whole arrays, the Numba backend compiles them inside
single-pass loops (:mod:`minivae.fused.kernels.loops`). Choose with :func:`set_backend`, the
:func:`use_backend` context manager, or the environment variable ``MINIVAE_BACKEND`` (read at
import). ``NUMBA_DISABLE_JIT=1`` runs the Numba backend's loops as plain Python, for stepping
through them in a debugger.
"""
import contextlib
import os

__all__ = ["BACKENDS", "get_backend", "set_backend", "use_backend"]

BACKENDS = ("numpy", "numba")
_state = {"backend": "numba"}


def _check(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose 'numpy' or 'numba'")
    return name


def get_backend():
    """The active backend's name."""
    return _state["backend"]


def set_backend(name):
    """Make ``name`` (``"numpy"`` or ``"numba"``) the active backend."""
    _state["backend"] = _check(name)


@contextlib.contextmanager
def use_backend(name):
    """Run a block with another backend, restoring the previous one afterwards."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


set_backend(os.environ.get("MINIVAE_BACKEND", "numba"))
