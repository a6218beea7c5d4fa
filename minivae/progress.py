"""A progress line for long training runs: samples/s, the current bound and the time left."""
import sys
import time

from .training import Callback

__all__ = ["ProgressPrinter", "format_seconds"]


def format_seconds(s):
    """``75.2 -> '1m15s'``, ``3700 -> '1h01m'``."""
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class ProgressPrinter(Callback):
    """Prints a line to ``stream`` at most every ``interval`` seconds and after every evaluation.

    Parameters
    ----------
    total : int, the run's sample budget
    interval : float, seconds between lines
    stream : file, default ``sys.stderr``
    """

    def __init__(self, total, interval=5.0, stream=None):
        self.total, self.interval = int(total), float(interval)
        self.stream = sys.stderr if stream is None else stream
        self._last = None
        self._bounds = []

    def on_step(self, trainer, bound):
        self._bounds.append(bound)
        now = time.perf_counter()
        if self._last is None:
            self._last, self._bounds = (now, trainer.samples), []
        elif now - self._last[0] >= self.interval:
            self._line(trainer, now)

    def on_eval(self, trainer, record):
        test = "" if record.test_bound is None else f" | test bound {record.test_bound:.2f}"
        print(f"eval @ {record.samples:,} samples: train bound {record.train_bound:.2f}{test} "
              f"({format_seconds(record.wall_time)})", file=self.stream, flush=True)

    def _line(self, trainer, now):
        t0, s0 = self._last
        rate = (trainer.samples - s0) / max(now - t0, 1e-9)
        left = max(self.total - trainer.samples, 0) / max(rate, 1e-9)
        bound = sum(self._bounds) / len(self._bounds)
        pct = 100.0 * trainer.samples / max(self.total, 1)
        print(f"[{pct:5.1f}%] {trainer.samples:,}/{self.total:,} samples | {rate:,.0f} samples/s | "
              f"minibatch bound {bound:.2f} | {format_seconds(left)} left",
              file=self.stream, flush=True)
        self._last, self._bounds = (now, trainer.samples), []
