"""The progress line's time left counts the evaluations still to come (a fake clock drives it)."""
import io
from types import SimpleNamespace

from minivae.training.progress import ProgressPrinter, format_seconds
from minivae.training.trainer import Record

STEP, EVAL, M = 1.0, 20.0, 100
"""Seconds per training step and per evaluation, and samples per step, of the simulated run."""


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _simulate(printer, clock, steps, eval_every=1000):
    """Drive ``printer`` as :meth:`Trainer.run` does: an evaluation at 0, then steps, with an
    evaluation at every multiple of ``eval_every``; returns the lines printed."""
    trainer = SimpleNamespace(samples=0)

    def evaluate():
        clock.now += EVAL
        printer.on_eval(trainer, Record(trainer.samples, -100.0, -101.0, clock.now))

    evaluate()
    for _ in range(steps):
        clock.now += STEP
        trainer.samples += M
        printer.on_step(trainer, -100.0)
        if trainer.samples % eval_every == 0:
            evaluate()
    return printer.stream.getvalue().splitlines()


def _printer(clock, **kwargs):
    return ProgressPrinter(10_000, interval=0.0, stream=io.StringIO(), clock=clock, **kwargs)


def test_time_left_adds_the_evaluations_still_to_come():
    clock = FakeClock()
    lines = _simulate(_printer(clock, eval_every=1000), clock, steps=25)
    last = lines[-1]
    assert last.startswith("[ 25.0%] 2,500/10,000 samples")
    assert "| 100 samples/s |" in last  # steps only: the evaluations do not slow the rate
    # 7,500 samples at 100/s, and 8 evaluations (3,000 ... 10,000) of 20 s each
    assert last.endswith(f"| {format_seconds(75 + 8 * EVAL)} left")


def test_the_rate_right_after_an_evaluation_leaves_it_out():
    clock = FakeClock()
    lines = _simulate(_printer(clock, eval_every=1000), clock, steps=11)
    assert lines[-1].startswith("[ 11.0%] 1,100/10,000") and "| 100 samples/s |" in lines[-1]


def test_without_a_schedule_evaluation_keeps_its_share_of_the_time():
    clock = FakeClock()
    lines = _simulate(_printer(clock), clock, steps=25)
    # 24 timed steps (the first may compile) against 3 evaluations so far
    assert lines[-1].endswith(f"| {format_seconds(75 * (1 + 3 * EVAL / 24))} left")


def test_evaluations_left_follow_the_trainers_schedule():
    printer = ProgressPrinter(10_000, eval_every=1000)
    assert [printer.evals_left(s) for s in (0, 900, 1000, 9900, 10_000)] == [10, 10, 9, 1, 0]
    assert ProgressPrinter(10_500, eval_every=1000).evals_left(10_000) == 1  # the one at the end
