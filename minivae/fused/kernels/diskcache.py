"""Numba's on-disk cache for the compiled loops, kept fresh by every kernel source file.

Numba checks a cached function against the file that defines it and nothing else (a hash of
``loops.py``, or its time and size in older versions). The loops inline the formulas that
``scalar.py`` registers (written in the teaching modules, :data:`FORMULA_MODULES`) and call the
loops of ``vecmath.py``, so an edit there would leave the old machine code running until someone
deleted the cache by hand. :func:`cached` gives a compiled loop a cache whose stamp also holds a
hash of every ``.py`` file of this package and of the formula modules, and the vector-math ISA
that :mod:`~minivae.fused.kernels.vecmath` compiles in, so any edit to the kernels' source recompiles
them on the next run.

The cache goes where Numba would put it (``NUMBA_CACHE_DIR``, else ``__pycache__`` beside the
source, else a user-wide folder). If this Numba's caching classes are not the ones this module
was written against, the loops compile in every process and are not cached on disk:
:data:`ENABLED` is then ``False`` and :func:`describe` says why.
"""
import hashlib
from pathlib import Path

from . import vecmath

__all__ = ["ENABLED", "SOURCES_HASH", "STAMP", "cached", "describe", "sources_hash"]

FORMULA_MODULES = ("activations.py", "gaussian.py", "likelihoods.py", "optim.py", "datasets/binarize.py")
"""The teaching modules whose formulas the compiled loops evaluate (:mod:`.scalar`), relative to
the package's folder."""

SOURCES = (tuple(sorted(Path(__file__).parent.glob("*.py")))
           + tuple(Path(__file__).parents[2] / name for name in FORMULA_MODULES))


def sources_hash(paths=SOURCES):
    """SHA-256 over the names and contents of ``paths`` (by default, :data:`SOURCES`)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()


SOURCES_HASH = sources_hash()
STAMP = (SOURCES_HASH, vecmath.ISA)


def _cache_class():
    """A ``FunctionCache`` whose every locator stamps the cache with :data:`STAMP`."""
    from numba.core import caching

    def stamped(locator):
        class Locator(locator):
            def get_source_stamp(self):
                return super().get_source_stamp(), STAMP
        Locator.__name__ = Locator.__qualname__ = f"KernelSources{locator.__name__}"
        return Locator

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes = [stamped(c) for c in caching.CompileResultCacheImpl._locator_classes]

    class KernelCache(caching.FunctionCache):
        _impl_class = Impl

    return KernelCache


try:
    _KernelCache = _cache_class()
    ENABLED, _WHY = True, ""
except (ImportError, AttributeError) as err:  # pragma: no cover - another Numba's internals
    _KernelCache, ENABLED, _WHY = None, False, f"Numba's caching classes differ here ({err})"


def cached(dispatcher):
    """Give a dispatcher compiled with ``cache=False`` the kernel-source-stamped disk cache
    (under ``NUMBA_DISABLE_JIT=1`` ``njit`` returns the Python function, left as it is)."""
    if ENABLED and hasattr(dispatcher, "py_func"):
        dispatcher._cache = _KernelCache(dispatcher.py_func)
    return dispatcher


def describe():
    """One line for reports: whether and how the compiled loops are cached on disk."""
    if not ENABLED:
        return f"compiled loops not cached on disk: {_WHY}"
    return f"compiled loops cached on disk, keyed on the kernel sources ({SOURCES_HASH[:12]})"
