"""Run a compiled loop over contiguous ranges on several threads at once.

The loops of :mod:`minivae.fused.kernels.loops` that do real work take a range ``lo, hi`` of the axis
they split along and release the GIL (``nogil=True``). :func:`run` cuts ``[0, n)`` into
``CHUNKS_PER_THREAD`` equal ranges per thread; the calling thread and long-lived worker threads
take the next range as they finish one. No result depends on the split: every output element
is computed by exactly one range, in the same order as on one thread.

Why Python threads rather than Numba's ``parallel=True``: a ``prange`` loop added about a second
of compilation per kernel and precision (the first compile of all loops went from 9 to 33 s on
the loaded project machine, against a budget of 20 s), while waking a waiting thread costs
about 15 us, small next to the 100-5,000 us kernels that are split. Work below ``MIN_WORK`` is
not split.

The thread count is ``MINIVAE_THREADS`` if set, else the cores this process may run on;
:func:`set_threads` changes it (``minivae bench`` matches it to the BLAS threads). Every call
blocks until all its ranges are done, so BLAS and these threads never compete for the cores.
"""
import _thread
import itertools
import os
import threading

__all__ = ["MIN_WORK", "get_threads", "set_threads", "splits", "run", "run_each"]

MIN_WORK = 100_000
"""Work (``n * work_per_item``, about a nanosecond each on one core) below which a loop runs on
the calling thread only: a hand-off to a worker costs some 15-25 us, so splitting a (100, 500)
bias + tanh (50,000 elements, 47 us) lost time while a (100, 784) Bernoulli kernel (weighted
2 per element: 157,000, 170 us) gained 1.2x (docs/performance.md)."""


def _default_threads():
    if os.environ.get("MINIVAE_THREADS"):
        return max(1, int(os.environ["MINIVAE_THREADS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Job:
    """``fn(*args, lo, hi)`` over ``chunks`` equal ranges of ``[0, n)``, handed out one at a time
    to whichever thread asks next (``next`` on an ``itertools.count`` is atomic under the GIL)."""

    def __init__(self, fn, args, n, chunks):
        self.fn, self.args, self.n, self.chunks = fn, args, n, chunks
        self.counter = itertools.count()

    def work(self):
        fn, args, n, chunks = self.fn, self.args, self.n, self.chunks
        for c in self.counter:
            if c >= chunks:
                return
            fn(*args, c * n // chunks, (c + 1) * n // chunks)


class _Worker:
    """One thread that works on a job whenever ``go`` is released and releases ``done`` after."""

    def __init__(self):
        self.go, self.done = _thread.allocate_lock(), _thread.allocate_lock()
        self.go.acquire()
        self.done.acquire()
        self.job, self.error = None, None
        threading.Thread(target=self._loop, name="minivae-kernels", daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            try:
                self.job.work()
            except BaseException as err:  # noqa: BLE001 - handed to the caller in wait()
                self.error = err
            self.job = None
            self.done.release()

    def start(self, job):
        self.job = job
        self.go.release()

    def wait(self):
        self.done.acquire()
        error, self.error = self.error, None
        if error is not None:
            raise error


CHUNKS_PER_THREAD = 4
"""Ranges per thread. Threads take the next range as they finish one, so a thread that the OS
runs late (another process on the core) leaves its share to the others instead of holding the
call up by half the work."""

_state = {"threads": _default_threads(), "workers": [], "busy": _thread.allocate_lock()}


def get_threads():
    """The number of threads a split loop runs on."""
    return _state["threads"]


def set_threads(n):
    """Split loops over ``n`` threads from now on (1 runs everything on the calling thread)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"the thread count must be at least 1, got {n}")
    _state["threads"] = n


def _workers(k):
    workers = _state["workers"]
    while len(workers) < k:
        workers.append(_Worker())
    return workers[:k]


def splits(n, work_per_item):
    """Whether :func:`run` would split ``n`` items of ``work_per_item`` over several threads."""
    return min(_state["threads"], n) >= 2 and n * work_per_item >= MIN_WORK


def run(fn, args, n, work_per_item):
    """``fn(*args, lo, hi)`` over ranges that cover ``[0, n)``; in parallel when there is at
    least ``MIN_WORK`` elements of work (``n * work_per_item``) and more than one thread."""
    k = min(_state["threads"], n)
    if k < 2 or n * work_per_item < MIN_WORK \
            or not _together(_Job(fn, args, n, min(n, CHUNKS_PER_THREAD * k)), k):
        fn(*args, 0, n)


def _call_each(fns, lo, hi):
    for i in range(lo, hi):
        fns[i]()


def run_each(fns):
    """Call every function of ``fns`` (no arguments), ``len(fns)`` at a time on as many threads
    (the calling thread and workers); return when all are done. Loops that the functions
    :func:`run` meanwhile stay on their own thread. Without free workers (another thread holds
    them), the functions run one after the other here."""
    n = len(fns)
    if n < 2 or not _together(_Job(_call_each, (fns,), n, n), n):
        _call_each(fns, 0, n)


def _together(job, k):
    """``job`` on ``k`` threads if the workers are free; ``False``, having run nothing, when
    another Python thread is using them (the caller then runs the work alone)."""
    if not _state["busy"].acquire(blocking=False):
        return False
    try:
        _work_together(job, k)
    finally:
        _state["busy"].release()
    return True


def _work_together(job, k):
    """``job.work()`` on the calling thread and ``k - 1`` workers; raise the first error."""
    workers = _workers(k - 1)
    for w in workers:
        w.start(job)
    error = None
    try:
        job.work()
    except BaseException as err:  # noqa: BLE001 - wait for the workers before raising
        error = err
    for w in workers:
        try:
            w.wait()
        except BaseException as err:  # noqa: BLE001
            error = error or err
    if error is not None:
        raise error


def _after_fork():
    """Worker threads do not survive ``fork``: a child starts its own when it needs them."""
    _state["workers"] = []
    _state["busy"] = _thread.allocate_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
