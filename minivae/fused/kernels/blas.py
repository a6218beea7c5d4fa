"""Setting the thread count of the OpenBLAS libraries loaded in this process.

The sharded training step (:mod:`minivae.fused.fastpath`) runs one BLAS call per thread at once; each
must then run on one thread, or the threads of the calls would fight over the cores. OpenBLAS
(the BLAS of NumPy's wheels) has a process-wide setter, ``openblas_set_num_threads``, exported
under a prefix and suffix that depend on the build (``scipy_openblas_set_num_threads64_`` in
NumPy's wheels). :func:`single_threaded` finds it in every OpenBLAS mapped into the process
(Linux: ``/proc/self/maps``) and sets one thread for the duration of a ``with`` block.

Elsewhere (another BLAS, another OS) :func:`available` is false and nothing is sharded.
"""
import ctypes
import functools
import threading
from contextlib import contextmanager

__all__ = ["available", "single_threaded"]

_NAMES = [f"{prefix}openblas_{{}}_num_threads{suffix}"
          for prefix in ("", "scipy_") for suffix in ("", "64_", "_64")]


def _loaded_openblas_paths():
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(maxsplit=5)[-1].strip() for line in maps if "openblas" in line}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/"))


def _setter_getter(path):
    lib = ctypes.CDLL(path)
    for name in _NAMES:
        set_, get = getattr(lib, name.format("set"), None), getattr(lib, name.format("get"), None)
        if set_ is not None and get is not None:
            set_.argtypes, set_.restype, get.restype = [ctypes.c_int], None, ctypes.c_int
            return set_, get
    return None


@functools.cache
def _libraries():
    found = (_setter_getter(p) for p in _loaded_openblas_paths())
    return tuple(f for f in found if f is not None)


def available():
    """Whether :func:`single_threaded` can control the BLAS that NumPy uses."""
    return bool(_libraries())


_nesting = {"depth": 0, "before": [], "lock": threading.Lock()}


@contextmanager
def single_threaded():
    """Within the block, every OpenBLAS call runs on the calling thread only (process-wide).
    Blocks may overlap (two trainers in two threads): the count set before the first is
    restored when the last ends."""
    libs = _libraries()
    with _nesting["lock"]:
        if _nesting["depth"] == 0:
            _nesting["before"] = [get() for _, get in libs]
            for set_, _ in libs:
                set_(1)
        _nesting["depth"] += 1
    try:
        yield
    finally:
        with _nesting["lock"]:
            _nesting["depth"] -= 1
            if _nesting["depth"] == 0:
                for (set_, _), n in zip(libs, _nesting["before"]):
                    set_(n)
