"""``minivae bench``: training speed of the paper's MNIST model per backend, dtype and batch size,
next to PyTorch on the same model when PyTorch is installed.

Each row trains 784-500-20 (tanh, Bernoulli decoder, estimator B, L = 1, Adagrad 0.02 with the
weight prior) on real MNIST with dynamic binarization, through :meth:`minivae.Trainer.step`, for
a number of warm-up steps and then a number of timed steps, and reports examples per second.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .backend import use_backend
from .datasets import load_mnist
from .model import VAE
from .training import Trainer
from . import torch_reference

__all__ = ["examples_per_second", "compile_times", "blas_info", "run_benchmark", "format_table"]


def blas_info():
    """The BLAS library NumPy uses and its version, as NumPy reports them."""
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{config.get('name', '?')} {config.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - only informative
        return "unknown"


def threads():
    """BLAS threads in use: ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) if set, else the cores."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var])
    return os.cpu_count()


def examples_per_second(X, backend, dtype, batch_size, steps, warmup):
    """Timed :meth:`Trainer.step` calls on the paper's model; returns examples per second."""
    with use_backend(backend):
        model = VAE(784, 500, 20, seed=0, dtype=dtype)
        trainer = Trainer(model, X, batch_size=batch_size, seed=0, eval_train_size=1)
        for _ in range(warmup):
            trainer.step()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.step()
        return steps * batch_size / (time.perf_counter() - start)


_COMPILE = ("import time; t = time.perf_counter(); import numpy as np; "
            "from minivae.kernels import loops; loops.warm_up(np.float32); loops.warm_up(np.float64); "
            "print(time.perf_counter() - t)")


def compile_times():
    """Seconds to import and compile every Numba loop with an empty disk cache, then to import
    and load them from that cache, each in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        run = lambda: float(subprocess.run([sys.executable, "-c", _COMPILE], env=env, check=True,  # noqa: E731
                                           capture_output=True, text=True).stdout)
        return run(), run()


def run_benchmark(steps=300, warmup=30, batch_sizes=(100, 1000), dtypes=("float32", "float64"),
                  backends=("numpy", "numba"), torch=True, progress=None):
    """Measure every row; returns a dict ready for :func:`format_table` or JSON."""
    X, _ = load_mnist("train")
    rows = []
    for batch in batch_sizes:
        n_steps, n_warm = max(steps * 100 // batch, 10), max(warmup * 100 // batch, 3)
        for dtype in dtypes:
            row = {"batch": batch, "dtype": dtype}
            for backend in backends:
                row[backend] = examples_per_second(X, backend, dtype, batch, n_steps, n_warm)
            if torch and torch_reference.available():
                row["torch"] = torch_reference.torch_examples_per_second(
                    X, batch, dtype, threads(), n_steps, n_warm)
            rows.append(row)
            if progress:
                progress(row)
    first, cached = compile_times()
    return {"rows": rows, "threads": threads(), "blas": blas_info(), "cpu_count": os.cpu_count(),
            "numpy": np.__version__, "torch_available": torch_reference.available(),
            "compile_seconds": first, "cached_startup_seconds": cached}


def format_row(row):
    """One table line: examples/s per backend, PyTorch and the ratio of the faster backend to it."""
    cells = [f"{row['batch']:>5}", f"{row['dtype']:>7}"]
    cells += [f"{row[b]:>9,.0f}" for b in ("numpy", "numba") if b in row]
    if "torch" in row:
        best = max(row.get("numpy", 0), row.get("numba", 0))
        cells += [f"{row['torch']:>9,.0f}", f"{row.get('numba', 0) / row['torch']:>6.2f}x",
                  f"{best / row['torch']:>6.2f}x"]
    return "  ".join(cells)


def format_table(result):
    """The whole report as text."""
    head = "batch    dtype   numpy/s   numba/s"
    if result["torch_available"]:
        head += "   torch/s  numba/torch  best/torch"
    lines = [f"minivae bench: 784-500-20 Bernoulli VAE, Adagrad, MNIST; {result['threads']} BLAS "
             f"thread(s) of {result['cpu_count']} cores; BLAS {result['blas']}; numpy {result['numpy']}",
             head] + [format_row(r) for r in result["rows"]]
    if not result["torch_available"]:
        lines.append("PyTorch is not installed: `pip install torch==2.13.0` adds it as the yardstick.")
    lines.append(f"Numba: first compile {result['compile_seconds']:.1f} s, start-up from the disk "
                 f"cache {result['cached_startup_seconds']:.1f} s (each including import)")
    return "\n".join(lines)


def profile(X, backend="numba", dtype="float32", batch_size=100, steps=300, top=12):
    """cProfile of ``steps`` training steps after a warm-up; returns the report as text."""
    import cProfile
    import io
    import pstats
    with use_backend(backend):
        trainer = Trainer(VAE(784, 500, 20, seed=0, dtype=dtype), X, batch_size=batch_size,
                          seed=0, eval_train_size=1)
        for _ in range(30):
            trainer.step()
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in range(steps):
            trainer.step()
        profiler.disable()
        elapsed = time.perf_counter() - start
    out = io.StringIO()
    print(f"profile: {backend}, {dtype}, batch {batch_size}: {steps * batch_size / elapsed:,.0f} "
          f"examples/s under cProfile, {1e3 * elapsed / steps:.2f} ms per step", file=out)
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(args):
    """Entry point of ``minivae bench``."""
    if args.profile:
        print(profile(load_mnist("train")[0], steps=args.steps))
        return 0
    report = lambda row: print(format_row(row), file=sys.stderr, flush=True)  # noqa: E731
    result = run_benchmark(args.steps, args.warmup, tuple(args.batch_sizes), tuple(args.dtypes),
                           torch=not args.no_torch, progress=None if args.json else report)
    print(json.dumps(result, indent=1) if args.json else format_table(result))
    return 0
