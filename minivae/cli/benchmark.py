"""``minivae bench``: training speed of the paper's MNIST model per backend, dtype and batch size,
next to PyTorch on the same model when PyTorch is installed.

Each row trains 784-500-20 (tanh, Bernoulli decoder, estimator B, L = 1, Adagrad 0.02 with the
weight prior) on real MNIST with dynamic binarization, through :meth:`minivae.Trainer.step`, for
a number of warm-up steps and then a number of timed steps, and reports examples per second.
The contestants of a row take turns, and the whole turn is repeated ``rounds`` times: a row
reports each contestant's median rate and the median of the per-round ratios to PyTorch, so a
slow spell of the machine during one contestant's turn moves the ratio less.

``minivae bench --wakesleep`` times the same model's wake-sleep steps instead
(:func:`wakesleep_rates`): AEVB's fused step against wake-sleep's reference and fused engines.
``minivae bench --engines`` times AEVB on the fused and the reference engine (:func:`engine_rates`);
``minivae bench --import-time`` times ``import minivae`` (:func:`import_times`).
"""
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..baselines.wakesleep import WakeSleepTrainer
from ..datasets import load_mnist
from ..fused import kernels
from ..fused.backend import get_backend, set_backend, use_backend
from ..model import VAE
from ..training import atomicfile
from ..training.trainer import Trainer
from . import torch_reference
from .argtypes import UsageError

__all__ = ["examples_per_second", "compile_times", "blas_info", "cpu_name", "run_benchmark",
           "format_table", "kernel_ab", "step_ab", "format_ab", "phases", "wakesleep_rates",
           "format_wakesleep", "engine_rates", "format_engines", "import_times",
           "format_import_times"]


def blas_info():
    """The BLAS library NumPy uses and its version, as NumPy reports them."""
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{config.get('name', '?')} {config.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - only informative
        return "unknown"


def cpu_name():
    """The CPU's model name, as ``lscpu`` prints it (from ``/proc/cpuinfo``; ``"unknown"`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return "unknown"


def threads():
    """BLAS threads in use: ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) if set, else the cores."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var])
    return os.cpu_count()


@contextmanager
def _restoring_settings():
    """On leaving, put back the backend, the kernel threads and the vector-math switch that the
    timings below change."""
    before = (get_backend(), kernels.get_threads(), kernels.vecmath.enabled())
    try:
        yield
    finally:
        set_backend(before[0])
        kernels.set_threads(before[1])
        kernels.vecmath.set_enabled(before[2])


def examples_per_second(X, backend, dtype, batch_size, steps, warmup):
    """Timed :meth:`Trainer.step` calls on the paper's model; returns examples per second.
    The Numba kernels run on as many threads as BLAS (:func:`threads`), like PyTorch."""
    return _rates({backend: _minivae_contestant(X, backend, dtype, batch_size)},
                  batch_size, steps, warmup)[backend]


def _minivae_contestant(X, backend, dtype, batch_size):
    """``(setup, step)`` for :func:`_rates`: a trainer of the paper's model on ``backend``."""
    with use_backend(backend):
        trainer = Trainer(VAE(784, 500, 20, seed=0, dtype=dtype), X, batch_size=batch_size,
                          seed=0, eval_train_size=1)
    return lambda: (set_backend(backend), kernels.set_threads(threads())), trainer.step


def _torch_contestant(X, dtype, batch_size):
    step, count = torch_reference.torch_stepper(X, batch_size, dtype, threads()), [0]

    def next_step():
        step(count[0])
        count[0] += 1
    return lambda: None, next_step


def _rates(contestants, batch_size, steps, warmup):
    """Examples per second of each ``(setup, step)`` in ``contestants`` (a dict), one after the
    other: ``warmup`` steps, then ``steps`` timed steps. Settings are restored after.

    Not interleaved: alternating the contestants every 30 steps cost every one of them, because
    a thread pool keeps spinning for a while after its last job (OpenBLAS's for about 0.1 s) on
    the cores the next contestant wants (docs/performance.md); the warm-up steps outlast that."""
    rates = {}
    with _restoring_settings():
        for name, (setup, step) in contestants.items():
            setup()
            for _ in range(warmup):
                step()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            rates[name] = steps * batch_size / (time.perf_counter() - start)
    return rates


_COMPILE = ("import time; t = time.perf_counter(); import numpy as np; "
            "from minivae.fused.kernels import loops; loops.warm_up(np.float32); loops.warm_up(np.float64); "
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
                  backends=("numpy", "numba"), torch=True, progress=None, rounds=3):
    """Measure every row; returns a dict ready for :func:`format_table` or JSON."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    X, _ = load_mnist("train")
    rows = []
    for batch in batch_sizes:
        n_steps, n_warm = max(steps * 100 // batch, 10), max(warmup * 100 // batch, 3)
        for dtype in dtypes:
            contestants = {b: _minivae_contestant(X, b, dtype, batch) for b in backends}
            if torch and torch_reference.available():
                contestants["torch"] = _torch_contestant(X, dtype, batch)
            per_round = [_rates(contestants, batch, n_steps, n_warm) for _ in range(rounds)]
            rows.append(_row(batch, dtype, per_round))
            if progress:
                progress(rows[-1])
    first, cached = compile_times()
    return {"rows": rows, "threads": threads(), "blas": blas_info(), "cpu_count": os.cpu_count(),
            "numpy": np.__version__, "torch_available": torch_reference.available(),
            "torch": torch_reference.describe() if torch else None,
            "vector_math": kernels.vecmath.enabled(), "kernels": _kernels_line(), "rounds": rounds,
            "compile_seconds": first, "cached_startup_seconds": cached, "load_average": _load()}


def _row(batch, dtype, per_round):
    """A table row from the rates of each round: medians, and the median of the ratios to PyTorch."""
    names = list(per_round[0])
    row = {"batch": batch, "dtype": dtype,
           **{n: float(np.median([r[n] for r in per_round])) for n in names},
           "per_round": {n: [r[n] for r in per_round] for n in names}}
    if "torch" in names:
        ours = [n for n in names if n != "torch"]
        row["numba_to_torch"] = float(np.median([r.get("numba", 0) / r["torch"] for r in per_round]))
        row["best_to_torch"] = float(np.median([max(r[n] for n in ours) / r["torch"] for r in per_round]))
    return row


def _kernels_line():
    """How the Numba backend's kernels run in this benchmark (threads as for BLAS)."""
    with _restoring_settings():
        kernels.set_threads(threads())
        return kernels.describe()


def _load():
    """The 1-, 5- and 15-minute load averages (timings on a shared machine need them)."""
    try:
        return list(os.getloadavg())
    except OSError:  # pragma: no cover - not available everywhere
        return None


def _load_line(result):
    """The load average at the end of a measurement, as a list of 0 or 1 line."""
    load = result.get("load_average")
    return ["load average at the end: " + ", ".join(f"{v:.2f}" for v in load)] if load else []


def _machine(result):
    """Where a taking-turns measurement ran: threads, CPU, BLAS and NumPy."""
    return (f"{result['threads']} BLAS thread(s); CPU {result['cpu']}; BLAS {result['blas']}; "
            f"numpy {result['numpy']}")


def format_row(row):
    """One table line: examples/s per backend, PyTorch and the ratio of the faster backend to it."""
    cells = [f"{row['batch']:>5}", f"{row['dtype']:>7}"]
    cells += [f"{row[b]:>9,.0f}" for b in ("numpy", "numba") if b in row]
    if "torch" in row:
        cells += [f"{row['torch']:>9,.0f}", f"{row['numba_to_torch']:>6.2f}x",
                  f"{row['best_to_torch']:>6.2f}x"]
    return "  ".join(cells)


def format_table(result):
    """The whole report as text."""
    head = "batch    dtype   numpy/s   numba/s"
    if any("torch" in row for row in result["rows"]):
        head += "   torch/s  numba/torch  best/torch"
    lines = [f"minivae bench: 784-500-20 Bernoulli VAE, Adagrad, MNIST; {result['threads']} BLAS "
             f"thread(s) of {result['cpu_count']} cores; BLAS {result['blas']}; numpy {result['numpy']}",
             head] + [format_row(r) for r in result["rows"]]
    lines.append(f"each cell: the median of {result['rounds']} round(s) in which the contestants of "
                 "a row take turns; ratios are medians of the per-round ratios")
    if not result["torch_available"]:
        lines.append("PyTorch is not installed: `pip install torch==2.13.0` adds it as the yardstick.")
    elif result.get("torch"):
        lines.append(f"yardstick: {result['torch']}, as many threads as BLAS")
    lines.append(result["kernels"])
    lines.append(f"Numba: first compile {result['compile_seconds']:.1f} s, start-up from the disk "
                 f"cache {result['cached_startup_seconds']:.1f} s (each including import)")
    lines += _load_line(result)
    return "\n".join(lines)


# -- interleaved A/B measurements (for a machine whose load comes and goes) ---------------------
def _interleaved(variants, reps):
    """Median seconds per call of each ``(setup, fn)`` in ``variants`` (a dict), calling them in
    turn ``reps`` times so that a change of machine load hits every variant alike."""
    times = {name: [] for name in variants}
    for _ in range(reps):
        for name, (setup, fn) in variants.items():
            setup()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def kernel_ab(dtype="float32", batch_size=100, reps=200, n_threads=None):
    """Microseconds per call of the training step's kernels at the paper's shapes: NumPy's
    evaluation, the compiled loop on one thread, and on ``n_threads`` (default: all cores).
    Returns a list of ``(kernel, {variant: us})``."""
    from ..fused.kernels import scalar as S
    rng = np.random.default_rng(0)
    dt, M, D, H = np.dtype(dtype), batch_size, 784, 500
    n_threads = n_threads or os.cpu_count()
    X = (rng.random((M, D)) < 0.13).astype(dt)
    A, dA, ll = (3 * rng.standard_normal((M, D))).astype(dt), np.empty((M, D), dt), np.empty(M, dt)
    Hs, b = np.tanh(rng.standard_normal((M, H))).astype(dt), rng.standard_normal(H).astype(dt)
    dH, out, db = rng.standard_normal((M, H)).astype(dt), np.empty((M, H), dt), np.empty(H, dt)
    W, out_t = rng.standard_normal((D, H)).astype(dt), np.empty((D, H), dt)
    p, g, G = (rng.random(D * H).astype(dt) for _ in range(3))
    work = np.empty_like(Hs)
    cases = {
        "bernoulli (M, 784)": lambda: kernels.bernoulli(X, A, -0.01, dA, ll),
        "bias + tanh (M, 500)": lambda: (np.copyto(work, Hs), kernels.bias_activation(work, b, S.TANH)),
        "tanh backward + bias grad (M, 500)": lambda: kernels.activation_backward(dH, Hs, S.TANH, out, db),
        "X W1 (sparse on numba)": lambda: kernels.data_matmul(X, W, out, kernels.data_is_sparse(X)),
        "X^T dA1 (sparse on numba)": lambda: kernels.data_matmul_t(X, dH, out_t, kernels.data_is_sparse(X)),
        "adagrad (784 x 500 parameters)": lambda: kernels.adagrad(p, g, G, 1e-9, 1e-10, 1e-9),
    }
    def use(backend, n):
        return lambda: (set_backend(backend), kernels.set_threads(n))
    variants = {"numpy": use("numpy", 1), "numba, 1 thread": use("numba", 1),
                f"numba, {n_threads} threads": use("numba", n_threads)}
    with _restoring_settings():
        for fn in cases.values():  # compile, and fill the caches
            for setup in variants.values():
                setup()
                fn()
        rows = []
        for name, fn in cases.items():
            t = _interleaved({v: (setup, fn) for v, setup in variants.items()}, reps)
            rows.append((name, {v: 1e6 * s for v, s in t.items()}))
        return rows


def step_ab(dtype="float32", batch_size=100, rounds=20, configs=((True, 1), (False, 1), (True, None)),
            steps_per_round=None):
    """Examples per second of whole training steps (Numba backend) for each ``(vector_math,
    threads)`` in ``configs`` (``None`` threads = all cores), one trainer per config, interleaved
    a few steps at a time. Returns ``{(vector_math, threads): examples/s}``."""
    X, _ = load_mnist("train")
    per = steps_per_round or max(1, 1000 // batch_size)
    variants = {}
    with _restoring_settings(), use_backend("numba"):
        for vm, n in configs:
            key = (vm, n or os.cpu_count())
            tr = Trainer(VAE(784, 500, 20, seed=0, dtype=dtype), X, batch_size=batch_size, seed=0,
                         eval_train_size=1)

            def setup(vm=vm, n=key[1]):
                kernels.vecmath.set_enabled(vm)
                kernels.set_threads(n)
            variants[key] = (setup, lambda tr=tr: [tr.step() for _ in range(per)])
        for setup, fn in variants.values():  # warm-up
            setup()
            fn()
        t = _interleaved(variants, rounds)
    return {key: per * batch_size / s for key, s in t.items()}


def format_ab(kernel_rows=None, step_rates=None):
    """The results of :func:`kernel_ab` and :func:`step_ab` as text, with the load average."""
    lines = []
    if kernel_rows:
        variants = list(kernel_rows[0][1])
        lines.append(f"{'kernel (us per call)':36s}" + "".join(f"{v:>20s}" for v in variants))
        for name, t in kernel_rows:
            lines.append(f"{name:36s}" + "".join(f"{t[v]:>20,.0f}" for v in variants))
    if step_rates:
        for (vm, n), rate in step_rates.items():
            lines.append(f"training steps, vector math {'on ' if vm else 'off'}, {n} kernel thread(s): "
                         f"{rate:,.0f} examples/s")
    load = _load()
    if load:
        lines.append("load average: " + ", ".join(f"{v:.2f}" for v in load))
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


def phases(X, dtype="float32", batch_size=100, steps=300, warmup=30):
    """Median milliseconds of each phase of :meth:`Trainer.step` (Numba backend, kernels on as
    many threads as BLAS) and of the whole step: the calls the step makes are wrapped with
    timers on this trainer's objects, and the step itself runs unchanged."""
    with _restoring_settings(), use_backend("numba"):
        kernels.set_threads(threads())
        tr = Trainer(VAE(784, 500, 20, seed=0, dtype=dtype), X, batch_size=batch_size, seed=0,
                     eval_train_size=1)
        times = {}
        for name, owner, attr in (("minibatch", tr, "_next_batch"), ("noise", tr.model, "draw_eps"),
                                  ("loss and gradient", tr._engine.path, "loss_and_grad_parts"),
                                  ("finiteness check", tr._engine, "nonfinite"),
                                  ("update", tr._engine, "update"),
                                  ("update", tr._engine, "update_sum")):
            setattr(owner, attr, _timed(getattr(owner, attr), times.setdefault(name, [])))
        step = _timed(tr.step, times.setdefault("step", []))
        for _ in range(warmup + steps):
            step()
    # a phase the step skipped (no check when the optimizer adds the checked shards) is left out
    return {name: 1e3 * float(np.median(v[warmup:])) for name, v in times.items() if len(v) > warmup}


def _timed(fn, seconds):
    """``fn`` that appends the seconds of every call to the list ``seconds``."""
    def timed(*args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
        return result
    return timed


# -- wake-sleep against AEVB -------------------------------------------------------------------
WAKESLEEP_CONTESTANTS = (("aevb", Trainer, "fused"), ("wakesleep reference", WakeSleepTrainer, "reference"),
                         ("wakesleep fused", WakeSleepTrainer, "fused"))
"""``(name, trainer class, engine)`` of each contestant of :func:`wakesleep_rates`."""


def _engine_contestant(X, cls, engine, dtype, batch_size):
    """``(setup, step)`` for :func:`_rates`: a ``cls`` trainer of the paper's model on the Numba
    backend running ``engine``."""
    with use_backend("numba"):
        trainer = cls(VAE(784, 500, 20, seed=0, dtype=dtype), X, batch_size=batch_size, seed=0,
                      eval_train_size=1, engine=engine)
    return lambda: (set_backend("numba"), kernels.set_threads(threads())), trainer.step


def _taking_turns(X, contestants, ratios, dtypes, batch_size, steps, warmup, rounds, progress):
    """Examples per second of ``contestants`` (``(name, trainer class, engine)``) training
    784-500-20 on ``X``, taking turns ``rounds`` times per dtype; each row holds the median rates
    and, for each ``key: (a, b)`` of ``ratios``, the median of the per-round ratios a / b."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    rows = []
    for dtype in dtypes:
        built = {name: _engine_contestant(X, cls, engine, dtype, batch_size)
                 for name, cls, engine in contestants}
        per_round = [_rates(built, batch_size, steps, warmup) for _ in range(rounds)]
        row = {"dtype": dtype, **{n: float(np.median([r[n] for r in per_round])) for n in built}}
        row.update({key: float(np.median([r[a] / r[b] for r in per_round]))
                    for key, (a, b) in ratios.items()})
        rows.append({**row, "per_round": per_round})
        if progress:
            progress(rows[-1])
    return {"rows": rows, "batch": batch_size, "steps": steps, "rounds": rounds,
            "threads": threads(), "kernels": _kernels_line(), "cpu": cpu_name(),
            "blas": blas_info(), "numpy": np.__version__, "load_average": _load()}


def wakesleep_rates(X, dtypes=("float64", "float32"), batch_size=100, steps=300, warmup=30,
                    rounds=3, progress=None):
    """Examples per second of :data:`WAKESLEEP_CONTESTANTS` training 784-500-20 on ``X`` (Numba
    backend, kernels on as many threads as BLAS), taking turns ``rounds`` times per dtype as
    :func:`run_benchmark`'s rows do. Returns a dict for :func:`format_wakesleep`; each row holds
    the median rates and the medians of the per-round ratios."""
    ratios = {"fused_to_aevb": ("wakesleep fused", "aevb"),
              "fused_to_reference": ("wakesleep fused", "wakesleep reference")}
    return _taking_turns(X, WAKESLEEP_CONTESTANTS, ratios, dtypes, batch_size, steps, warmup,
                         rounds, progress)


def format_wakesleep(result):
    """:func:`wakesleep_rates`' report as text."""
    lines = [f"minivae bench --wakesleep: 784-500-20 Bernoulli VAE, MNIST, batch {result['batch']}, "
             f"numba backend; {_machine(result)}",
             "  dtype  AEVB fused/s  WS reference/s  WS fused/s  WS fused/AEVB  WS fused/reference"]
    for row in result["rows"]:
        lines.append(f"{row['dtype']:>7}  {row['aevb']:>12,.0f}  {row['wakesleep reference']:>14,.0f}  "
                     f"{row['wakesleep fused']:>10,.0f}  {row['fused_to_aevb']:>12.2f}x  "
                     f"{row['fused_to_reference']:>17.2f}x")
    lines.append(f"examples (real datapoints) per second; each cell the median of {result['rounds']} "
                 f"round(s) of {result['steps']} timed steps per contestant, ratios the medians of "
                 "the per-round ratios")
    lines.append(result["kernels"])
    lines += _load_line(result)
    return "\n".join(lines)


ENGINE_CONTESTANTS = (("fused", Trainer, "fused"), ("reference", Trainer, "reference"))
"""``(name, trainer class, engine)`` of each contestant of :func:`engine_rates`."""


def engine_rates(X, dtypes=("float64", "float32"), batch_size=100, steps=100, warmup=10,
                 rounds=3, progress=None):
    """Examples per second of AEVB on the fused and the reference engine, training 784-500-20
    on ``X``, taking turns ``rounds`` times per dtype (as :func:`wakesleep_rates`)."""
    return _taking_turns(X, ENGINE_CONTESTANTS, {"fused_to_reference": ("fused", "reference")},
                         dtypes, batch_size, steps, warmup, rounds, progress)


def format_engines(result):
    """:func:`engine_rates`' report as text."""
    lines = [f"minivae bench --engines: AEVB, 784-500-20 Bernoulli VAE, MNIST, batch "
             f"{result['batch']}; {_machine(result)}",
             "  dtype  fused/s  reference/s  fused/reference"]
    for row in result["rows"]:
        lines.append(f"{row['dtype']:>7}  {row['fused']:>7,.0f}  {row['reference']:>11,.0f}  "
                     f"{row['fused_to_reference']:>14.2f}x")
    lines.append(f"examples per second, each cell the median of {result['rounds']} round(s) of "
                 f"{result['steps']} timed steps per engine")
    lines.append(result["kernels"])
    lines += _load_line(result)
    return "\n".join(lines)


IMPORT_PROBE = "import sys, time; t = time.perf_counter(); import minivae; " \
               "print(time.perf_counter() - t, 'numba' in sys.modules)"


def import_times(trees, rounds=7):
    """Seconds of ``import minivae`` in a fresh interpreter, for the package in each folder of
    ``trees`` (``None``: the installed one), taking turns ``rounds`` times; the medians, and
    whether the import loaded Numba."""
    runs = {tree: [] for tree in trees}
    loads = {}
    for _ in range(rounds):
        for tree in trees:
            env = dict(os.environ)
            if tree is not None:
                env["PYTHONPATH"] = str(tree)
            out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], env=env, cwd=tree or ".",
                                 capture_output=True, text=True, check=True)
            seconds, numba = out.stdout.split()
            runs[tree].append(float(seconds))
            loads[tree] = numba == "True"
    return [{"tree": "installed" if tree is None else str(tree), "median": float(np.median(v)),
             "min": min(v), "numba": loads[tree], "rounds": rounds} for tree, v in runs.items()]


def format_import_times(rows):
    lines = [f"minivae bench --import-time: seconds of `import minivae` in a fresh interpreter "
             f"(median of {rows[0]['rounds']}, taking turns); CPU {cpu_name()}"]
    lines += [f"  {r['tree']}: {r['median']:.3f} s (min {r['min']:.3f}); numba loaded: "
              f"{'yes' if r['numba'] else 'no'}" for r in rows]
    return "\n".join(lines)


def main(args):
    """Entry point of ``minivae bench``."""
    if getattr(args, "against", None) and not args.import_time:
        raise UsageError("--against goes with --import-time")
    if getattr(args, "import_time", False):
        trees = [None] + [Path(d).resolve() for d in (args.against or [])]
        print(format_import_times(import_times(trees, rounds=args.rounds)))
        return 0
    if getattr(args, "engines", False):
        result = engine_rates(load_mnist("train")[0], tuple(args.dtypes), steps=args.steps,
                              warmup=args.warmup, rounds=args.rounds)
        print(atomicfile.dumps(result) if args.json else format_engines(result))
        return 0
    if getattr(args, "wakesleep", False):
        result = wakesleep_rates(load_mnist("train")[0], tuple(args.dtypes), steps=args.steps,
                                 warmup=args.warmup, rounds=args.rounds)
        print(atomicfile.dumps(result) if args.json else format_wakesleep(result))
        return 0
    if args.profile:
        print(profile(load_mnist("train")[0], steps=args.steps))
        return 0
    if args.phases:
        X = load_mnist("train")[0]
        for dtype in args.dtypes:
            ms = phases(X, dtype, steps=args.steps, warmup=args.warmup)
            print(f"{dtype}, batch 100, {threads()} BLAS thread(s); {_kernels_line()}; ms: "
                  + ", ".join(f"{name} {v:.3f}" for name, v in ms.items()))
        return 0
    report = lambda row: print(format_row(row), file=sys.stderr, flush=True)  # noqa: E731
    result = run_benchmark(args.steps, args.warmup, tuple(args.batch_sizes), tuple(args.dtypes),
                           torch=not args.no_torch, progress=None if args.json else report,
                           rounds=args.rounds)
    print(atomicfile.dumps(result) if args.json else format_table(result))
    return 0
