r"""The IWAE paper's one-stochastic-layer VAE on dynamically binarized MNIST (Burda, Grosse &
Salakhutdinov, ICLR 2016, Table 1: test NLL 86.76 nats, 19 active units).

The model: 784 -> 200 tanh -> 200 tanh -> 50 Gaussian latents (a log-variance head), decoder
50 -> 200 tanh -> 200 tanh -> 784 Bernoulli; Glorot-uniform weights and zero biases
(:mod:`~minivae.experiments.glorot`), or, with ``output_bias="pixel-logits"``, the decoder's
output bias started as the IWAE authors' code starts it (:func:`pixel_logits`). Training:
estimator B with one sample ($k = 1$), minibatches of 20 drawn by shuffling each pass, a fresh
binarization of every minibatch, no weight prior, Adam ($\beta_1 = 0.9$, $\beta_2 = 0.999$,
$\epsilon = 10^{-4}$) on the schedule of :mod:`~minivae.experiments.iwae_schedule`; a new stage
changes only Adam's step size (its moments and step count carry over).

After every stage: the test NLL $-\frac1N\sum_x \log \hat p_k(x)$ by importance sampling with
$k$ samples (:func:`~minivae.marginal.importance.importance_log_px`), the bound (estimator B,
one sample) on a fixed subset of the training set and on the test set, and the active latent
units (:mod:`~minivae.experiments.active_units`), all on a fixed, seeded binarization of the test
set (:func:`~minivae.datasets.binarize_fixed`).

The run lives in one directory: ``checkpoint.npz`` (every ``checkpoint_every`` samples and at the
end of every stage) and ``iwae.json`` (the settings and a record per evaluated stage). Running
again continues where it stopped, and ends bit for bit where an uninterrupted run ends (on the
same machine and thread settings); stages already evaluated are read, not recomputed.
"""
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import binarize_fixed
from ..marginal.importance import importance_log_px
from ..model import VAE
from ..optim import Adam
from ..training import atomicfile, checkpoint
from ..training.interrupt import StopRequest
from ..training.progress import ProgressPrinter, format_seconds
from ..training.runlock import lock_run
from ..training.trainer import Callback, Trainer
from .active_units import count_active, latent_activity
from .glorot import glorot_uniform
from .iwae_schedule import N_STAGES, stages
from .runs import load_data

__all__ = ["IwaeSettings", "FAST", "PAPER", "BATCH_SIZE", "N_HIDDEN", "N_LATENT", "ADAM",
           "OUTPUT_BIAS", "pixel_logits", "reproduce_iwae", "evaluate_stage", "mnist_split",
           "format_stage", "RESULTS"]

BATCH_SIZE = 20
N_HIDDEN = [200, 200]
N_LATENT = 50
ADAM = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-4}
"""Adam's settings in the paper (their code uses beta1 = 0.99, see docs/iwae.md)."""
PAPER = {"test_nll": 86.76, "active_units": 19,
         "source": "Burda, Grosse & Salakhutdinov (ICLR 2016), Table 1: VAE, 1 stochastic layer, "
                   "k = 1, dynamically binarized MNIST"}
RESULTS = "iwae.json"
OUTPUT_BIAS = ("zero", "pixel-logits")
"""How the decoder's output bias starts: at 0 (the default; the paper does not say), or at the
logits of the training set's mean pixel intensities, as in the IWAE authors' code."""


@dataclass(frozen=True)
class IwaeSettings:
    """What a run does: how many stages, the evaluation's $k$, the seed and dtype, the decoder's
    starting output bias (one of :data:`OUTPUT_BIAS`), the data (the first ``n_train`` /
    ``n_test`` rows of MNIST; ``None``: all) and how often it checkpoints."""
    n_stages: int = N_STAGES
    k: int = 5000
    seed: int = 0
    dtype: str = "float64"
    output_bias: str = "zero"
    n_train: int | None = None
    n_test: int | None = None
    eval_train_size: int = 10_000
    checkpoint_every: int = 1_000_000

    def identity(self):
        """The settings a resumed run must share (the rest may change between invocations)."""
        return {"seed": self.seed, "dtype": self.dtype, "n_train": self.n_train,
                "n_test": self.n_test, "eval_train_size": self.eval_train_size, "k": self.k,
                "output_bias": self.output_bias}


FAST = IwaeSettings(n_stages=3, k=100, n_train=1000, n_test=500, eval_train_size=500,
                    checkpoint_every=5000)
"""``--fast``: 3 stages (1 + 3 + 9 passes) over 1000 training images, evaluated on 500 test
images with k = 100."""


def _protocol(settings):
    init = {"zero": "glorot_uniform, zero biases",
            "pixel-logits": "glorot_uniform, zero biases but the decoder's output bias: the "
                            "logits of the training set's pixel means"}[settings.output_bias]
    return {"n_hidden": N_HIDDEN, "n_latent": N_LATENT, "activation": "tanh",
            "decoder": "bernoulli", "init": init, "batch_size": BATCH_SIZE,
            "estimator": "B", "L": 1, "weight_prior": False, "binarization": "dynamic",
            "optimizer": {"name": "adam", **ADAM},
            "schedule": "3**i passes at lr 0.001 * 10**(-i/7), i = 0..7"}


def pixel_logits(X_train):
    """The logits of ``X_train``'s mean pixel intensities, the means clipped to [0.001, 0.999]:
    the decoder's output bias that makes $p(x|z)$ the training set's pixel means when the last
    hidden layer contributes nothing."""
    mean = np.clip(X_train.mean(axis=0), 0.001, 0.999)
    return np.log(mean) - np.log1p(-mean)


# -- opening and saving the run --------------------------------------------------------------

def _new_trainer(settings, X_train, X_test, callbacks):
    if settings.output_bias not in OUTPUT_BIAS:
        raise ValueError(f"output_bias must be one of {OUTPUT_BIAS}, got {settings.output_bias!r}")
    model = VAE(X_train.shape[1], N_HIDDEN, N_LATENT, decoder="bernoulli", activation="tanh",
                seed=settings.seed, dtype=settings.dtype)
    glorot_uniform(model, np.random.default_rng([settings.seed, 4]))
    if settings.output_bias == "pixel-logits":
        model.params["dec.b_logits"][...] = pixel_logits(X_train)
    return Trainer(model, X_train, X_test, optimizer=Adam(lr=stages(1)[0].lr, **ADAM),
                   batch_size=BATCH_SIZE, L=1, estimator="B", weight_prior=False,
                   binarization="dynamic", seed=settings.seed,
                   eval_train_size=settings.eval_train_size, callbacks=callbacks)


def _refuse(directory, what, saved, asked):
    raise ValueError(f"{directory} holds an iwae run with {what} {saved!r}, asked {asked!r}; "
                     f"run with the same settings or choose another --out")


def _check_identity(directory, saved, settings):
    saved = {"output_bias": "zero", **saved}  # runs saved before the option started at zero
    for key, value in settings.identity().items():
        if saved.get(key) != value:
            _refuse(directory, key, saved.get(key), value)


def _open_trainer(settings, directory, X_train, X_test, callbacks):
    if not checkpoint.exists(directory):
        if (directory / RESULTS).exists():
            raise ValueError(f"{directory} holds {RESULTS} but no checkpoint.npz; choose another "
                             f"--out")
        return _new_trainer(settings, X_train, X_test, callbacks)
    extra = checkpoint.read_meta(directory)["extra"]
    if extra.get("experiment") != "iwae":
        raise ValueError(f"{directory} holds a checkpoint of another experiment "
                         f"({extra.get('experiment', 'minivae train')!r}); choose another --out")
    _check_identity(directory, extra.get("settings", {}), settings)
    return checkpoint.restore_trainer(directory, X_train, X_test, callbacks, algorithm="aevb")


def _save(trainer, directory, settings, stage, elapsed):
    extra = {"experiment": "iwae", "dataset": "mnist", "settings": settings.identity(),
             "protocol": _protocol(settings), "stage": stage.index, "stage_lr": stage.lr,
             "elapsed": elapsed}
    checkpoint.save(directory, trainer.model, trainer, extra=extra)


class _Checkpointer(Callback, StopRequest):
    """Saves the run after every ``every`` training samples (between evaluations too), and after
    the step in which a Ctrl-C asked training to stop (:class:`StopRequest`, armed only while
    training: during an evaluation there is nothing to save, so a Ctrl-C stops at once)."""

    def __init__(self, every, save):
        StopRequest.__init__(self)
        self.every, self.save, self.stage = every, save, None
        self.armed = False

    def on_step(self, trainer, bound):
        if self.requested or trainer.samples % self.every < trainer.batch_size:
            self.save(trainer, self.stage)
        if self.requested:
            raise KeyboardInterrupt


def _read_results(directory, settings):
    path = directory / RESULTS
    if not path.exists():
        return []
    results = atomicfile.loads(path.read_text())
    _check_identity(directory, results.get("settings", {}), settings)
    return results["stages"]


def _write_results(directory, settings, records):
    atomicfile.write_json(directory / RESULTS, {
        "experiment": "iwae", "paper": PAPER, "protocol": _protocol(settings),
        "settings": settings.identity(), "stages": records})


# -- evaluation ------------------------------------------------------------------------------

def evaluate_stage(model, X_test, k, rng):
    r"""The test NLL by importance sampling and the active units, on binary ``X_test``.

    Returns
    -------
    dict: ``test_nll`` ($-$ the mean of $\log \hat p_k(x)$, nats), ``test_nll_stderr`` (its
    standard error over the images), ``k``, ``active_units``, ``activity`` (per unit) and
    ``eval_seconds``
    """
    start = time.perf_counter()
    log_px = importance_log_px(model, X_test, k=k, batch_size=100, rng=rng)
    activity = latent_activity(model, X_test)
    return {"test_nll": float(-log_px.mean()),
            "test_nll_stderr": (float(log_px.std(ddof=1) / np.sqrt(len(log_px)))
                                if len(log_px) > 1 else 0.0),
            "k": int(k), "active_units": count_active(activity),
            "activity": [float(a) for a in activity],
            "eval_seconds": time.perf_counter() - start}


def _stage_record(trainer, stage, X_test, settings, seconds_before):
    """The stage's evaluation; ``seconds_before`` is the training time at the stage's start."""
    bounds = next(r for r in trainer.history if r.samples == stage.end)
    rng = np.random.default_rng([settings.seed, 3, stage.index])
    return {"stage": stage.index, "passes": stage.passes, "lr": stage.lr, "samples": stage.end,
            "total_passes": stage.end // len(trainer.X_train),
            "train_elbo": bounds.train_bound, "test_elbo": bounds.test_bound,
            **evaluate_stage(trainer.model, X_test, settings.k, rng),
            "train_seconds": trainer.wall_time,
            "examples_per_second": ((stage.end - stage.start)
                                    / max(trainer.wall_time - seconds_before, 1e-9))}


def format_stage(record):
    """One line summarizing a stage's record."""
    return (f"stage {record['stage'] + 1}/{N_STAGES}: {record['total_passes']:,} passes "
            f"({record['passes']:,} at lr {record['lr']:.3g}), {record['samples']:,} samples: "
            f"test NLL {record['test_nll']:.2f} ± {record['test_nll_stderr']:.2f} nats "
            f"(k={record['k']:,}; paper {PAPER['test_nll']}), ELBO train "
            f"{record['train_elbo']:.2f} test {record['test_elbo']:.2f}, active units "
            f"{record['active_units']}/{N_LATENT}; "
            f"{record['examples_per_second']:,.0f} examples/s, "
            f"{format_seconds(record['train_seconds'])} of training in all, "
            f"{format_seconds(record['eval_seconds'])} to evaluate")


# -- the run ---------------------------------------------------------------------------------

def mnist_split(settings):
    """The training and test images a run uses: the first ``settings.n_train`` /
    ``settings.n_test`` rows of MNIST (``None``: all), pixels in [0, 1]."""
    d = load_data("mnist")
    X_train = d.X_train[:settings.n_train] if settings.n_train else d.X_train
    X_test = d.X_test[:settings.n_test] if settings.n_test else d.X_test
    return X_train, X_test


def reproduce_iwae(out, settings=IwaeSettings(), quiet=False, stream=None):
    """Run (or continue) the first ``settings.n_stages`` stages of the IWAE protocol in ``out``.

    Returns
    -------
    list of dict, one record per stage (what ``out/iwae.json`` holds under ``stages``)
    """
    directory = Path(out)
    stream = sys.stderr if stream is None else stream
    say = (lambda text: None) if quiet else (lambda text: print(text, file=stream, flush=True))
    X_train, X_test = mnist_split(settings)
    with lock_run(directory):
        return _run_locked(directory, settings, X_train, X_test, quiet, stream, say)


def _train_stage(trainer, stage, saver, quiet, stream, say):
    """Train to the end of ``stage`` at its step size; a Ctrl-C saves after the current step."""
    say(f"== stage {stage.index + 1}/{N_STAGES}: {stage.passes:,} passes at lr "
        f"{stage.lr:.3g}, {trainer.samples:,} -> {stage.end:,} samples")
    trainer.optimizer.lr = stage.lr
    saver.stage = stage
    # a printer per stage: its rate and time left must not count the last evaluation
    trainer.callbacks = [saver] + ([] if quiet else [
        ProgressPrinter(stage.end, interval=30.0, stream=stream)])
    saver.armed = True
    try:
        trainer.run(stage.end, eval_every=stage.end)
    except KeyboardInterrupt:
        if saver.requested:
            say(f"stopped after {trainer.samples:,} samples and saved there; run the same "
                f"command to continue")
        raise
    finally:
        saver.armed = False
    saver.save(trainer, stage)


def _run_locked(directory, settings, X_train, X_test, quiet, stream, say):
    records = _read_results(directory, settings)
    schedule = stages(len(X_train), settings.n_stages)
    start = time.perf_counter()
    meta = checkpoint.read_meta(directory, missing_ok=True)
    before = meta["extra"].get("elapsed", 0.0) if meta else 0.0
    save = lambda trainer, stage: _save(trainer, directory, settings, stage,  # noqa: E731
                                        before + time.perf_counter() - start)
    saver = _Checkpointer(settings.checkpoint_every, save)
    trainer = _open_trainer(settings, directory, X_train, X_test, [saver])
    X_test_bin = binarize_fixed(X_test).astype(trainer.dtype)
    with saver:
        _stages(directory, settings, schedule, records, trainer, X_test_bin, saver, quiet,
                stream, say)
    return records[:settings.n_stages]


def _stages(directory, settings, schedule, records, trainer, X_test_bin, saver, quiet, stream,
            say):
    """Train and evaluate each stage of ``schedule`` not yet in ``records`` (appended to)."""
    for stage in schedule:
        for r in records[stage.index:stage.index + 1]:
            say(format_stage(r))
        if stage.index < len(records):
            continue
        if trainer.samples > stage.end:
            raise ValueError(f"{directory}: the checkpoint is past stage {stage.index + 1}'s end "
                             f"({trainer.samples:,} > {stage.end:,} samples) but {RESULTS} has "
                             f"no record of it; choose another --out")
        if trainer.samples < stage.end:
            _train_stage(trainer, stage, saver, quiet, stream, say)
        trained_before = records[-1]["train_seconds"] if records else 0.0
        records.append(_stage_record(trainer, stage, X_test_bin, settings, trained_before))
        _write_results(directory, settings, records)
        say(format_stage(records[-1]))
