"""One training run of a reproduction: a directory that can be created, resumed and finished.

A run (:class:`~minivae.experiments.spec.RunSpec`) trains one :class:`~minivae.VAE` with one
update rule (AEVB or wake-sleep) and one Adagrad step size, with the paper's settings
(:func:`~minivae.experiments.spec.new_trainer`), and evaluates the train and test bound at the
log-spaced points of :func:`~minivae.experiments.schedule.log_schedule`. After every evaluation,
and every :data:`CHECKPOINT_EVERY` samples between them, it writes ``checkpoint.npz``
(:mod:`minivae.training.checkpoint`, no pickle) and ``history.json``, so an interrupted run
continues bit for bit from its last checkpoint, and a run that already reached its budget is
not trained again. A run whose loss becomes non-finite writes
``status.json`` and counts as finished (re-running it would diverge the same way).

Layout: ``ROOT/<dataset>/J<n_latent>/<algorithm>/lr<step size>/``.
"""
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from ..datasets import load_mnist
from ..training import atomicfile, checkpoint
from ..training.progress import ProgressPrinter, format_seconds
from ..training.runlock import lock_run
from .presets import get_preset
from .schedule import log_schedule, round_to_batches
from .spec import BATCH_SIZE, RunSpec, check_matches, open_trainer, read_json, save_run

__all__ = ["Data", "load_data", "RunSpec", "RunResult", "train_run", "BATCH_SIZE"]


class Data(NamedTuple):
    """A dataset as the runs use it: grey values, the decoder it calls for, the image shape, and
    the test labels (MNIST digits; ``None`` for Frey Face)."""
    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    decoder: str
    image_shape: tuple
    y_test: np.ndarray | None


def load_data(dataset):
    """The shipped train and test sets of ``"mnist"`` or ``"frey"`` (see :mod:`minivae.experiments.presets`)."""
    preset = get_preset(dataset)
    y_test = load_mnist("test")[1] if preset.name == "mnist" else None
    return Data(preset.name, preset.load("train"), preset.load("test"), preset.decoder,
                preset.image_shape, y_test)


@dataclass
class RunResult:
    """A run's state after :func:`train_run`: its evaluations and whether it finished or diverged."""
    spec: RunSpec
    status: str                  # "done" or "diverged"
    samples: int
    train_time: float            # seconds in training steps (the Trainer's wall_time), all resumes
    elapsed: float               # seconds of the whole run: steps, evaluations, checkpoints
    history: list = field(default_factory=list)   # dicts: samples, train_bound, test_bound, wall_time
    message: str = ""

    def record_at(self, samples):
        """The evaluation at exactly ``samples`` training samples, or ``None``."""
        return next((r for r in self.history if r["samples"] == samples), None)

    def to_dict(self):
        d = asdict(self)
        d["spec"] = asdict(self.spec)
        return d


def _save(trainer, spec, directory, elapsed):
    save_run(trainer, spec, directory, "reproduce", elapsed)
    atomicfile.write_json(directory / "history.json", trainer.history_dicts())


def _finished(spec, directory, samples):
    """The run's result if it diverged or already reached ``samples``, read from disk; else None."""
    status = read_json(directory / "status.json")
    if status is not None:
        history = read_json(directory / "history.json") or []
        return RunResult(spec, "diverged", status["samples"], status["train_time"],
                         status["elapsed"], history, status["message"])
    meta = checkpoint.read_meta(directory, missing_ok=True)
    if meta is None or meta["trainer"]["samples"] < samples:
        return None
    check_matches(spec, directory)
    return RunResult(spec, "done", meta["trainer"]["samples"], meta["trainer"]["wall_time"],
                     meta["extra"].get("elapsed", 0.0), meta["trainer"]["history"])


def _write_divergence(trainer, directory, elapsed, message):
    directory.mkdir(parents=True, exist_ok=True)
    atomicfile.write_json(directory / "history.json", trainer.history_dicts())
    record = {"status": "diverged", "samples": trainer.samples, "train_time": trainer.wall_time,
              "elapsed": elapsed, "message": message}
    atomicfile.write_json(directory / "status.json", record)


CHECKPOINT_EVERY = 1_000_000
"""Training samples between two checkpoints of a run, whether or not it evaluates there."""


def _stops(samples, target, every):
    """Where to save on the way from ``samples`` to ``target``: every multiple of ``every``, then
    ``target``."""
    return list(range((samples // every + 1) * every, target, every)) + [target]


def _train_through(trainer, spec, directory, points, elapsed):
    """Evaluate and save at every point of ``points``, and save every :data:`CHECKPOINT_EVERY`
    samples between them (the log-spaced points lie millions of samples apart late in a long
    run); return the seconds spent (all resumes)."""
    for target in points:
        for stop in _stops(trainer.samples, target, CHECKPOINT_EVERY):
            trainer.run(stop, eval_every=target, evaluate_at_end=stop == target)
            spent = elapsed()
            _save(trainer, spec, directory, spent)
    return spent


def train_run(spec, root, samples, data, quiet=False, stream=None):
    """Train (or resume, or just read) the run ``spec`` under ``root`` until ``samples`` samples.

    Parameters
    ----------
    spec : RunSpec
    root : path, the experiment's output directory
    samples : int, the budget of training samples (rounded up to whole minibatches)
    data : Data, from :func:`load_data` (loaded once per experiment)
    quiet : bool, no progress lines
    stream : file for progress lines, default ``sys.stderr``

    Returns
    -------
    RunResult
    """
    stream = sys.stderr if stream is None else stream
    say = (lambda text: None) if quiet else (lambda text: print(text, file=stream, flush=True))
    directory = spec.directory(root)
    with lock_run(directory):
        finished = _finished(spec, directory, round_to_batches(samples, BATCH_SIZE))
        if finished is not None:
            return finished
        return _train_locked(spec, directory, samples, data, quiet, stream, say)


def _train_locked(spec, directory, samples, data, quiet, stream, say):
    """:func:`train_run`'s training, under the run directory's lock."""
    start = time.perf_counter()
    callbacks = [] if quiet else [ProgressPrinter(samples, interval=10.0, stream=stream)]
    trainer = open_trainer(spec, directory, data.X_train, data.X_test, callbacks)
    meta = checkpoint.read_meta(directory, missing_ok=True)
    before = meta["extra"].get("elapsed", 0.0) if meta else 0.0
    elapsed = lambda: before + time.perf_counter() - start  # noqa: E731
    points = log_schedule(samples, trainer.batch_size, after=trainer.samples)
    verb = f"resuming at {trainer.samples:,}" if trainer.samples else "training"
    say(f"== {spec.label()}: {verb} -> {points[-1]:,} samples")
    try:
        spent = _train_through(trainer, spec, directory, points, elapsed)
    except FloatingPointError as exc:
        spent = elapsed()
        _write_divergence(trainer, directory, spent, str(exc))
        say(f"== {spec.label()}: diverged after {trainer.samples:,} samples ({exc})")
        return RunResult(spec, "diverged", trainer.samples, trainer.wall_time, spent,
                         trainer.history_dicts(), str(exc))
    say(f"== {spec.label()}: {trainer.samples:,} samples; {format_seconds(spent)} in all, "
        f"{format_seconds(trainer.wall_time)} of it in training steps")
    return RunResult(spec, "done", trainer.samples, trainer.wall_time, spent,
                     trainer.history_dicts())
