"""A progress line for long training runs: samples/s, the current bound and the time left."""
import sys
import time

from .trainer import Callback

__all__ = ["ProgressPrinter", "format_seconds"]


def format_seconds(s):
    """``75.2 -> '1m15s'``, ``3700 -> '1h01m'``."""
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class ProgressPrinter(Callback):
    """Prints a line to ``stream`` at most every ``interval`` seconds and after every evaluation.

    The time left is the training steps left at the recent rate (evaluations excluded) plus the
    evaluations left at the cost of the last one: with ``eval_every``, the run's schedule (one
    at every multiple and one at the end); without it, evaluation's share of the time so far.

    Parameters
    ----------
    total : int, the run's sample budget
    interval : float, seconds between lines
    stream : file, default ``sys.stderr``
    eval_every : int, optional, samples between evaluations
    clock : function returning seconds, default ``time.perf_counter``
    """

    def __init__(self, total, interval=5.0, stream=None, eval_every=None, clock=time.perf_counter):
        self.total, self.interval = int(total), float(interval)
        self.stream = sys.stderr if stream is None else stream
        self.eval_every = None if eval_every is None else int(eval_every)
        self.clock = clock
        self._mark = clock()      # end of the last step or evaluation
        self._window = None       # (clock, samples, step seconds) when the last line was printed
        self._step_seconds = 0.0  # in steps after the first, which may compile
        self._eval_seconds = 0.0
        self._last_eval = None    # seconds the last evaluation took
        self._bounds = []

    def on_step(self, trainer, bound):
        now = self.clock()
        self._bounds.append(bound)
        if self._window is None:
            self._window, self._bounds = (now, trainer.samples, 0.0), []
        else:
            self._step_seconds += now - self._mark
            if now - self._window[0] >= self.interval:
                self._line(trainer, now)
        self._mark = now

    def on_eval(self, trainer, record):
        now = self.clock()
        self._last_eval = now - self._mark
        self._eval_seconds += self._last_eval
        self._mark = now
        test = "" if record.test_bound is None else f" | test bound {record.test_bound:.2f}"
        print(f"eval @ {record.samples:,} samples: train bound {record.train_bound:.2f}{test} "
              f"({format_seconds(record.wall_time)})", file=self.stream, flush=True)

    def evals_left(self, samples):
        """Evaluations still to come after ``samples``, on the ``eval_every`` schedule."""
        if samples >= self.total:
            return 0
        return self.total // self.eval_every - samples // self.eval_every + (
            1 if self.total % self.eval_every else 0)

    def seconds_left(self, samples, rate):
        """Training at ``rate`` samples/s plus the evaluations still to come."""
        train = max(self.total - samples, 0) / max(rate, 1e-9)
        if self._last_eval is None:
            return train
        if self.eval_every is None:
            return train * (1.0 + self._eval_seconds / max(self._step_seconds, 1e-9))
        return train + self.evals_left(samples) * self._last_eval

    def _line(self, trainer, now):
        t0, s0, steps0 = self._window
        rate = (trainer.samples - s0) / max(self._step_seconds - steps0, 1e-9)
        left = self.seconds_left(trainer.samples, rate)
        bound = sum(self._bounds) / len(self._bounds)
        pct = 100.0 * trainer.samples / max(self.total, 1)
        print(f"[{pct:5.1f}%] {trainer.samples:,}/{self.total:,} samples | {rate:,.0f} samples/s | "
              f"minibatch bound {bound:.2f} | {format_seconds(left)} left",
              file=self.stream, flush=True)
        self._window, self._bounds = (now, trainer.samples, self._step_seconds), []
