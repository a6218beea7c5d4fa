r"""SIMD ``exp``, ``log1p`` and ``tanh`` for the compiled loops, from glibc's libmvec.

Numba compiles ``np.exp``, ``np.log1p`` and ``np.tanh`` inside a loop to one scalar libm call per
element: its old route to SIMD versions, Intel's SVML, needs an LLVM patch that Numba dropped in
0.62 (llvmlite 0.50 reports "SVML Patched LLVM: False", so installing ``icc_rt`` changes nothing),
and LLVM 22 no longer has the ``-vector-library`` option. A compiled bias + tanh was therefore
about 30x slower than NumPy's SIMD ufunc (docs/performance.md).

glibc ships the vector variants itself (``libmvec.so.1``, x86-64 ABI names such as
``_ZGVdN4v_exp`` = AVX2, four doubles per call; ``exp`` since glibc 2.22, ``tanh`` and ``log1p``
since 2.35; documented accuracy within 4 ulp). This module calls them directly: each function
below works in place on a 1-D contiguous array, a SIMD block at a time, with scalar libm calls
for the tail. Outside compiled code (and under ``NUMBA_DISABLE_JIT=1``) the same names are NumPy
one-liners, so the loops that call them stay runnable as Python.

``AVAILABLE`` says whether the compiled versions use libmvec; when it is ``False`` (no libmvec,
an older glibc, a non-x86 machine, or ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` set for a
portable cache) they compile to the scalar loop, and :mod:`minivae.fused.kernels` keeps NumPy's SIMD
evaluation for the kernels that need these functions. ``MINIVAE_VECTOR_MATH=0`` makes that
dispatch choice without changing what is compiled.

The choice of ISA is compiled into the cached loops, so it is part of their disk cache's stamp
(:mod:`~minivae.fused.kernels.diskcache`), as is this file's source; Numba also keys the cache on the
CPU, so a machine with another CPU compiles its own.
"""
import ctypes
import os

import numpy as np
from llvmlite import ir

__all__ = ["AVAILABLE", "ISA", "LIBRARY", "describe", "enabled", "set_enabled", "exp_inplace",
           "log1p_inplace", "tanh_inplace"]

FUNCTIONS = ("exp", "log1p", "tanh")
# x86-64 vector ABI: ISA letter -> lanes for float64, float32. 'e' = AVX-512 is left out on purpose:
# LLVM may split a 512-bit argument on CPUs that prefer 256-bit vectors, which would break the ABI.
_LANES = {"d": (4, 8), "b": (2, 4)}
_FEATURE = {"d": "avx2", "b": "sse2"}
_LIBRARY = "libmvec.so.1"


def _symbol(isa, name, bits):
    lanes = _LANES[isa][0 if bits == 64 else 1]
    return lanes, f"_ZGV{isa}N{lanes}v_{name}{'' if bits == 64 else 'f'}"


def _probe():
    """``(isa, library)`` of a usable libmvec, or ``(None, reason)``."""
    from numba.core import config
    if config.CPU_NAME or config.CPU_FEATURES:
        return None, "NUMBA_CPU_NAME / NUMBA_CPU_FEATURES set (portable cache)"
    try:
        import llvmlite.binding as ll
        features = ll.get_host_cpu_features()
        lib = ctypes.CDLL(_LIBRARY)
    except Exception as err:  # noqa: BLE001 - no libmvec (or an LLVM that cannot see the CPU)
        return None, f"glibc's libmvec not usable here ({err})"
    for isa in _LANES:
        if features.get(_FEATURE[isa], False) and all(
                hasattr(lib, _symbol(isa, f, bits)[1]) for f in FUNCTIONS for bits in (32, 64)):
            ll.load_library_permanently(_LIBRARY)  # the JIT resolves the symbols from here
            return isa, _LIBRARY
    return None, "libmvec lacks tanh / log1p (glibc before 2.35) or the CPU lacks SSE2 / AVX2"


ISA, LIBRARY = _probe()
AVAILABLE = ISA is not None
_enabled = {"on": AVAILABLE and os.environ.get("MINIVAE_VECTOR_MATH", "1") != "0"}


def enabled():
    """True when the dispatch should use the compiled transcendental loops: libmvec is in use
    and neither ``MINIVAE_VECTOR_MATH=0`` (read at import) nor :func:`set_enabled` turned it off."""
    return _enabled["on"]


def set_enabled(on=True):
    """Choose between the compiled transcendental loops (if libmvec is available) and NumPy's
    SIMD ufuncs for the kernels that need ``exp`` / ``log1p`` / ``tanh``."""
    _enabled["on"] = bool(on) and AVAILABLE


def describe():
    """One line for reports: which implementation of exp / log1p / tanh the Numba loops use."""
    from numba.core import config
    if config.DISABLE_JIT:
        return "NUMBA_DISABLE_JIT=1: the Numba backend's loops run as Python, with NumPy's functions"
    if not AVAILABLE:
        return f"Numba transcendental kernels: NumPy SIMD ufuncs (no vector math: {LIBRARY})"
    if not enabled():
        return "Numba transcendental kernels: NumPy SIMD ufuncs (vector math turned off)"
    isa = "AVX2" if ISA == "d" else "SSE2"
    return (f"Numba transcendental kernels: compiled, glibc libmvec ({isa}, {_LANES[ISA][0]} doubles"
            f" / {_LANES[ISA][1]} floats per call)")


# -- the functions, as Python (for NUMBA_DISABLE_JIT and for reading) ----------------------------
def exp_inplace(a):
    """``a <- exp(a)`` in place; ``a`` is a 1-D contiguous float array."""
    np.exp(a, out=a)


def log1p_inplace(a):
    """``a <- log1p(a)`` in place."""
    np.log1p(a, out=a)


def tanh_inplace(a):
    """``a <- tanh(a)`` in place."""
    np.tanh(a, out=a)


# -- and compiled -------------------------------------------------------------------------------
def _compiled(name, python_fn, scalar_fn):
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic, overload

    @intrinsic
    def block(typingctx, arr, start):
        """``arr[start:start + lanes] <- name(...)`` in one libmvec call."""
        bits = arr.dtype.bitwidth

        def codegen(context, builder, sig, args):
            aryty = sig.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
            lanes, symbol = _symbol(ISA, name, bits)
            vty = ir.VectorType(ir.FloatType() if bits == 32 else ir.DoubleType(), lanes)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), symbol)
            fn.attributes.add("nounwind")
            vptr = builder.bitcast(ptr, vty.as_pointer())
            builder.store(builder.call(fn, [builder.load(vptr, align=1)]), vptr, align=1)
            return context.get_dummy_value()
        return types.void(arr, start), codegen

    @overload(python_fn, jit_options={"error_model": "numpy"})
    def _impl(a):
        if not (isinstance(a, types.Array) and a.ndim == 1 and isinstance(a.dtype, types.Float)):
            return None
        if not AVAILABLE or a.layout != "C":
            def scalar_loop(a):
                for i in range(a.size):
                    a[i] = scalar_fn(a[i])
            return _unique(scalar_loop, f"{name}_scalar_loop")
        lanes = _LANES[ISA][0 if a.dtype.bitwidth == 64 else 1]

        def simd_loop(a):
            n, i = a.size, 0
            while i + lanes <= n:
                block(a, i)
                i += lanes
            for j in range(i, n):
                a[j] = scalar_fn(a[j])
        return _unique(simd_loop, f"{name}_simd_loop_{lanes}")


def _unique(fn, name):
    """``fn`` renamed so that its qualified name is its own.

    Numba names a compiled function by module, qualified name, argument types and a counter
    that runs per process in compile order. The loops built by :func:`_compiled` for exp, log1p
    and tanh would otherwise share one qualified name, so the same symbol could name the exp
    loop in one process and the tanh loop in another; a loop cached on disk by the first then
    links against the wrong one in the second (silently wrong results, depending on the order in
    which kernels were first compiled). With a name of its own each symbol means one function.
    """
    fn.__name__ = fn.__qualname__ = name
    return fn


try:
    from numba.core import config as _config
    if not _config.DISABLE_JIT:
        _compiled("exp", exp_inplace, np.exp)
        _compiled("log1p", log1p_inplace, np.log1p)
        _compiled("tanh", tanh_inplace, np.tanh)
except ImportError:  # pragma: no cover - numba is a required dependency
    pass
