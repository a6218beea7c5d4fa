"""The ``minivae`` command line: train, evaluate, sample, gradcheck, bench, reproduce, exercises.

Run ``minivae --help`` or ``minivae COMMAND --help`` for the options.
"""
import argparse
import errno
import importlib.metadata
import inspect
import os
import shlex
import sys
import time
import traceback
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..activations import ACTIVATIONS
from ..baselines.mcem import MCEMTrainer  # importing it defines the "mcem" algorithm
from ..baselines.wakesleep import WakeSleepTrainer  # noqa: F401  (defines the "wakesleep" algorithm)
from ..datasets import binarize_fixed
from ..decoder import decoder_names, get_decoder
from ..estimators import ESTIMATORS
from ..experiments.active_units import ACTIVE_THRESHOLD, count_active, latent_activity
from ..experiments.plotting import figure_path, plot_history, save_image_grid
from ..experiments.presets import PRESETS, get_preset
from ..latent import LATENT_FAMILIES
from ..marginal.appendix_d import appendix_d_log_px
from ..marginal.importance import importance_log_px
from ..model import VAE
from ..modelcheck import check_model_gradients
from ..optim import OPTIMIZERS, make_optimizer
from ..training import atomicfile, checkpoint
from ..training.engines import use_engine
from ..training.evaluation import mean_bound
from ..training.interrupt import StopRequest
from ..training.progress import ProgressPrinter, format_seconds
from ..training.runlock import RunLocked, lock_run
from ..training.trainer import TRAINERS, Callback, Diverged
from .argtypes import (UsageError, add_appendix_d_options, add_engine_option, count, open_unit,
                       positive_count, run_dir, step_size)
from .exercises import add_exercises_command, exercises_context
from .reproduce import add_reproduce_commands

__all__ = ["main", "build_parser"]


class _Writer(Callback):
    """After every evaluation, write the checkpoint and ``history.json`` (strict JSON), each whole
    or not at all, so a run can resume. A diverged evaluation raises before it gets here, so the
    files keep the last good state."""

    def __init__(self, out, extra):
        self.out, self.extra = Path(out), extra

    def on_eval(self, trainer, record):
        checkpoint.save(self.out, trainer.model, trainer, extra=self.extra)
        atomicfile.write_json(self.out / "history.json", trainer.history_dicts())


TRAIN_DEFAULTS = {"algorithm": "aevb", "dataset": "mnist", "activation": "tanh",
                  "dtype": "float64", "samples": 1_000_000, "optimizer": "adagrad", "batch_size": 100, "L": 1,
                  "estimator": "B", "binarization": None, "no_weight_prior": False, "seed": 0,
                  "eval_train_size": 10_000, "family": "gaussian"}
"""``minivae train``'s defaults where the dataset does not set them (``--n-hidden``, ``--n-latent``
and ``--lr`` come from :mod:`minivae.experiments.presets`, ``--eval-every`` from the budget, ``--estimator``
is A for a ``--family`` other than gaussian). The parser's defaults are ``None``, so that a
resumed run can tell a flag given from one left out."""

RESUME_CHANGES = ("samples", "lr", "eval_every", "engine")
"""The options a resumed run may change; every other one must match the run's setting."""

ALGORITHMS = {"aevb": "AEVB", "wakesleep": "wake-sleep", "mcem": "MCEM"}
"""``--algorithm``'s choices (the trainers of Fig. 2 and 3, :data:`minivae.training.trainer.TRAINERS`)
and how the output names them."""

MCEM_OPTIONS = {
    "n_leapfrog": (positive_count, "leapfrog steps of each chain's HMC transition per visit"),
    "n_updates": (positive_count, "optimizer steps on the sampled z per minibatch"),
    "target_accept": (open_unit, "acceptance rate each chain's step size is tuned to"),
    "initial_step_size": (step_size, "every chain's leapfrog step size before adaptation"),
    "marginal_eval_size": (positive_count, "training and test rows whose App. D log p(x) each "
                                           "evaluation averages"),
}
"""The options of ``--algorithm mcem`` only: :class:`~minivae.baselines.mcem.MCEMTrainer`'s own settings
(its defaults are the help's), as type and help."""


def _mcem_default(name):
    return inspect.signature(MCEMTrainer).parameters[name].default


def _flag(name):
    return "--" + name.replace("_", "-")


def _given_or_default(args, name):
    value = getattr(args, name)
    return TRAIN_DEFAULTS[name] if value is None else value


def default_eval_every(samples, batch_size):
    """A twentieth of the budget in whole minibatches, at least one."""
    return max(samples // 20 // batch_size * batch_size, batch_size)


def _whole_minibatches(name, value, batch_size):
    """Refuse a count of samples that training, a minibatch at a time, could not stop at."""
    if value % batch_size:
        up = -(-value // batch_size) * batch_size
        raise UsageError(f"{_flag(name)} {value:,} is not a whole number of minibatches of "
                         f"--batch-size {batch_size}: training would stop at {up:,}; give a "
                         f"multiple of {batch_size}")


def _check_schedule(samples, eval_every, batch_size, n_train, eval_every_given=True):
    if batch_size > n_train:
        raise UsageError(f"--batch-size {batch_size:,} is larger than the training set "
                         f"({n_train:,} images)")
    _whole_minibatches("samples", samples, batch_size)
    if eval_every_given:
        _whole_minibatches("eval_every", eval_every, batch_size)


def _family_and_estimator(args):
    """``--family`` and the estimator it trains with: B (eq. 7) needs the KL in closed form,
    which only the Gaussian family has, so another family defaults to A and refuses B."""
    family = _given_or_default(args, "family")
    if family == "gaussian":
        return family, _given_or_default(args, "estimator")
    if args.estimator == "B":
        raise UsageError(f"--family {family} cannot train with --estimator B: estimator B uses "
                         f"the KL divergence in closed form, which only the gaussian family has; "
                         f"use --estimator A (the default for --family {family})")
    return family, "A"


def _new_run(args):
    """The trainer, output directory, preset and ``extra`` metadata of a new run."""
    family, estimator = _family_and_estimator(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")
    if checkpoint.exists(out):
        raise UsageError(f"--out {out} already holds a run: continue it with --resume {out}, "
                         f"or choose another --out")
    preset = get_preset(_given_or_default(args, "dataset"))
    decoder = get_decoder(args.decoder or preset.decoder)
    if not decoder.binary and args.binarization not in (None, "none"):
        raise UsageError(f"--binarization {args.binarization} applies to a decoder of binary data "
                         f"(bernoulli); the {decoder.name} decoder's data is never binarized")
    X_train, X_test = preset.load("train"), preset.load("test")
    _check_fits(decoder, preset, X_train)
    n_train = len(X_train)
    batch_size, samples = _given_or_default(args, "batch_size"), _given_or_default(args, "samples")
    eval_every = (default_eval_every(samples, batch_size) if args.eval_every is None
                  else args.eval_every)
    _check_schedule(samples, eval_every, batch_size, n_train)
    eval_train_size = (min(TRAIN_DEFAULTS["eval_train_size"], n_train)
                       if args.eval_train_size is None else args.eval_train_size)
    if eval_train_size > n_train:
        raise UsageError(f"--eval-train-size {eval_train_size:,} is larger than the training set "
                         f"({n_train:,} images)")
    seed = _given_or_default(args, "seed")
    algorithm = _given_or_default(args, "algorithm")
    _check_algorithm_options(args, algorithm)
    model = VAE(preset.image_shape[0] * preset.image_shape[1],
                args.n_hidden or [preset.n_hidden],
                preset.n_latent if args.n_latent is None else args.n_latent,
                decoder=decoder.name, activation=_given_or_default(args, "activation"),
                seed=seed, dtype=_given_or_default(args, "dtype"), family=family)
    optimizer = make_optimizer(_given_or_default(args, "optimizer"),
                               lr=preset.lr if args.lr is None else args.lr)
    own = {name: getattr(args, name) for name in MCEM_OPTIONS if getattr(args, name) is not None}
    trainer = TRAINERS[algorithm](model, X_train, X_test, optimizer=optimizer,
                                  batch_size=batch_size, L=_given_or_default(args, "L"),
                                  estimator=estimator, weight_prior=not args.no_weight_prior,
                                  binarization=args.binarization, seed=seed,
                                  eval_train_size=eval_train_size, **own)
    _writable(out)
    extra = {"dataset": preset.name, "samples": samples, "eval_every": eval_every, "changes": []}
    return trainer, out, preset, extra


def _check_fits(decoder, preset, X_train):
    """Refuse a decoder kind whose data check the preset's training set fails (a decoder of
    binary data needs values in [0, 1])."""
    try:
        decoder.check_data(X_train, X_train.shape[1], name=f"--dataset {preset.name}")
    except ValueError as exc:
        raise UsageError(f"--decoder {decoder.name} does not fit --dataset {preset.name}: "
                         f"{exc}") from None


def _check_algorithm_options(args, algorithm):
    """Refuse an option of another algorithm than the run's."""
    given = [_flag(name) for name in MCEM_OPTIONS if getattr(args, name) is not None]
    if given and algorithm != "mcem":
        raise UsageError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to "
                         f"--algorithm mcem only; this run's algorithm is {algorithm}")


def _writable(out):
    """Create ``out`` and make sure this process may write in it, before any training."""
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "cannot write in the run directory", str(out))


@contextmanager
def _reading(directory):
    """Report a checkpoint that cannot be read as one error that names ``directory``."""
    try:
        yield
    except (ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile) as exc:
        if str(directory) in str(exc):
            raise
        raise checkpoint.CheckpointError(f"cannot read the checkpoint in {directory}: "
                                         f"{type(exc).__name__}: {exc}") from exc


def _load(directory):
    with _reading(directory):
        return checkpoint.load(directory)


def _saved_settings(ckpt):
    """The run's value of every ``minivae train`` option a resume must not change."""
    model, config = ckpt.model, ckpt.trainer["config"]
    own = {name: config.get(name) for name in MCEM_OPTIONS} if ckpt.algorithm == "mcem" else {}
    return {"algorithm": ckpt.algorithm, **own, "dataset": ckpt.extra.get("dataset"),
            "decoder": model.decoder, "n_latent": model.n_latent, "n_hidden": list(model.n_hidden),
            "activation": model.activation, "family": model.config()["family"],
            "dtype": model.dtype.name, "optimizer": ckpt.optimizer.name,
            "batch_size": config["batch_size"], "L": config["L"],
            "estimator": config["estimator"], "binarization": config["binarization"],
            "no_weight_prior": not config["weight_prior"], "seed": config["seed"],
            "eval_train_size": min(config["eval_train_size"], config["n_train"])}


def _refuse_changes(args, ckpt):
    """A resumed run keeps its settings: refuse every option given with a different value."""
    differ = [f"{_flag(name)} {_show(getattr(args, name))} (the run's: {_show(saved)})"
              for name, saved in _saved_settings(ckpt).items()
              if getattr(args, name) not in (None, saved)]
    if differ:
        raise UsageError(f"--resume {args.resume} continues the run with its own settings, and "
                         f"these differ from them: {', '.join(differ)}; only --samples, --lr and "
                         f"--eval-every can change (start a new run with --out to change others)")


def _show(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _check_resumable(directory, ckpt):
    if ckpt.trainer is None:
        raise UsageError(f"--resume {directory}: the checkpoint holds a model without its "
                         f"training state; there is nothing to resume")
    if ckpt.extra.get("experiment"):
        raise UsageError(f"--resume {directory}: this run was written by `minivae reproduce "
                         f"{ckpt.extra['experiment']}` (its own evaluation schedule); run that "
                         f"reproduce command again to continue it")


def _resumed_run(args):
    """The trainer, directory, preset and ``extra`` of a resumed run, with the changes asked for
    applied, recorded in ``extra["changes"]`` and announced on stderr."""
    out = args.resume
    ckpt = _load(out)
    _check_resumable(out, ckpt)
    _refuse_changes(args, ckpt)
    _check_algorithm_options(args, ckpt.algorithm)
    extra = {**ckpt.extra, "changes": list(ckpt.extra.get("changes", []))}
    preset = get_preset(extra["dataset"])
    with _reading(out):
        trainer = checkpoint.restore_trainer(out, preset.load("train"), preset.load("test"),
                                             algorithm=ckpt.algorithm, engine=args.engine)
    samples = extra.get("samples") if args.samples is None else args.samples
    if samples is None:
        raise UsageError(f"--resume {out}: the run records no budget; give --samples")
    if samples < trainer.samples:
        raise UsageError(f"--samples {samples:,} is less than the {trainer.samples:,} samples the "
                         f"run in {out} has already seen")
    eval_every, note = extra.get("eval_every"), ""
    if eval_every is None:  # a checkpoint from before --eval-every was saved
        eval_every = max(extra.get("samples", samples) // 20, trainer.batch_size)
        note = " (the checkpoint does not record it: the default for its budget)"
    if args.eval_every is not None:
        eval_every = args.eval_every
    _check_schedule(samples, eval_every, trainer.batch_size, len(trainer.X_train),
                    args.eval_every is not None)
    changes = {"samples": (extra.get("samples"), samples),
               "eval_every": (extra.get("eval_every"), eval_every),
               "lr": (trainer.optimizer.lr, trainer.optimizer.lr if args.lr is None else args.lr),
               "engine": (ckpt.trainer["config"].get("engine", "fused"), trainer.engine)}
    if changes["lr"][0] != changes["lr"][1]:
        config = trainer.optimizer.config()
        trainer.optimizer = make_optimizer(config.pop("name"), **{**config, "lr": args.lr})
    _writable(out)
    print(f"resuming {out} at {trainer.samples:,} samples: budget {samples:,}, evaluating every "
          f"{eval_every:,} samples{note}", file=sys.stderr)
    for name in RESUME_CHANGES:
        before, after = changes[name]
        if getattr(args, name) is not None and before != after:
            extra["changes"].append({"samples": trainer.samples, "option": _flag(name),
                                     "from": before, "to": after})
            print(f"  {_flag(name)} changes from {before} to {after} at {trainer.samples:,} "
                  f"samples (recorded in the checkpoint under extra.changes)", file=sys.stderr)
    extra.update(samples=samples, eval_every=eval_every)
    return trainer, out, preset, extra


class _Interrupted(Exception):
    """Ctrl-C, turned into a stop between two steps."""


class _RunGuard(Callback, StopRequest):
    """Turns Ctrl-C into a clean stop and remembers the last checkpoint written.

    The first Ctrl-C asks the run to stop after the current step (:class:`StopRequest`): if an
    evaluation is due at that step it runs first (and its checkpoint is written), otherwise the
    checkpoint is written there, between two steps, where a resumed run continues exactly as an
    uninterrupted one would. A second Ctrl-C stops at once, keeping the last checkpoint written.
    """

    def __init__(self, writer, total, eval_every, saved=None):
        StopRequest.__init__(self)
        self.writer, self.total, self.eval_every = writer, total, eval_every
        self.saved = saved

    def _eval_due(self, trainer):
        """Whether the step just taken crossed a multiple of ``eval_every`` or ended the run,
        which is when :meth:`Trainer.run` evaluates next."""
        before = trainer.samples - trainer.batch_size
        return (trainer.samples >= self.total
                or trainer.samples // self.eval_every != before // self.eval_every)

    def on_step(self, trainer, bound):
        if self.requested and not self._eval_due(trainer):
            self.writer.on_eval(trainer, trainer.history[-1])
            self.saved = trainer.samples
            raise _Interrupted

    def on_eval(self, trainer, record):
        self.saved = record.samples
        if self.requested and record.samples < self.total:
            raise _Interrupted


@contextmanager
def _quiet_floating_point():
    """No NumPy warnings about overflow or NaN: the trainer checks every loss, gradient and
    evaluation and stops with one line (:class:`~minivae.training.trainer.Diverged`). A warnings filter,
    not ``np.errstate``, because the Numba backend's shards compute on other threads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _resume_hint(out, guard):
    if guard.saved is None:
        return "no checkpoint was written"
    return (f"the checkpoint in {out} holds the run at {guard.saved:,} samples; continue it "
            f"with: minivae train --resume {shlex.quote(str(out))}")


def _train(args):
    own_code = exercises_context(args)  # the student's functions, or nothing
    trainer, out, preset, extra = _resumed_run(args) if args.resume else _new_run(args)
    samples, eval_every = extra["samples"], extra["eval_every"]
    writer = _Writer(out, extra)
    guard = _RunGuard(writer, samples, eval_every, trainer.samples if args.resume else None)
    trainer.callbacks.append(writer)
    if not args.quiet:
        trainer.callbacks.append(ProgressPrinter(samples, eval_every=eval_every))
    trainer.callbacks.append(guard)  # last: it may end the run once the others have seen a step
    name = ALGORITHMS.get(trainer.algorithm, trainer.algorithm)
    if not args.quiet:
        print(f"training {trainer.model!r} with {name}\n  {trainer.optimizer!r}, "
              f"{trainer.config()}\n  engine: {trainer.engine}", file=sys.stderr)
    try:
        with lock_run(out), guard, _quiet_floating_point(), own_code:
            trainer.run(samples, eval_every=eval_every)
    except (_Interrupted, KeyboardInterrupt):
        print(f"minivae train: interrupted at {trainer.samples:,} of {samples:,} samples; "
              f"{_resume_hint(out, guard)}", file=sys.stderr)
        return 130
    except Diverged as exc:
        exc.directory = out   # for the resume command in its message
        raise
    what = "log p(x) (App. D)" if trainer.algorithm == "mcem" else "bound"
    plot_history(trainer.history, out / "bound.png",
                 title=f"{preset.name}: J={trainer.model.n_latent}, {name}, {what}")
    last = trainer.history[-1]
    print(f"done: {last.samples:,} samples in {format_seconds(last.wall_time)}; "
          f"train {what} {last.train_bound:.2f}, test {what} {last.test_bound:.2f} nats per "
          f"datapoint; wrote {out}/history.json, checkpoint.npz, bound.png")
    return 0


def _evaluate_sets(ckpt, preset, n):
    """The train and test sets as evaluated: MNIST binarized with the fixed seed, first ``n`` rows."""
    binarization = "fixed" if get_decoder(ckpt.model.decoder).binary else "none"
    sets = {}
    for split in ("train", "test"):
        X = preset.load(split)
        sets[split] = (binarize_fixed(X) if binarization == "fixed" else X)[:n]
    return sets, binarization


IS_BLOCK = 1000
"""Rows per progress line of ``--marginal is`` (a multiple of its batch size of 100, so the noise,
and the result, are those of one call over all rows)."""


def _importance_with_progress(model, X, k, rng, split):
    """:func:`importance_log_px` over blocks of rows, with a progress line on stderr per block."""
    start, parts = time.perf_counter(), []
    for lo in range(0, len(X), IS_BLOCK):
        parts.append(importance_log_px(model, X[lo:lo + IS_BLOCK], k, rng=rng))
        done, spent = lo + len(parts[-1]), time.perf_counter() - start
        if done < len(X):
            print(f"{split}: importance sampling, {done:,}/{len(X):,} images in "
                  f"{format_seconds(spent)}, about {format_seconds(spent * (len(X) / done - 1))} "
                  f"left", file=sys.stderr, flush=True)
    return np.concatenate(parts)


def _marginal(args, model, X, rng, split):
    """``--marginal``: mean log p(x) over the rows of ``X`` and its Monte Carlo standard error."""
    if args.marginal == "is":
        log_px = _importance_with_progress(model, X, args.k, rng, split)
        return {"log_px": float(np.mean(log_px)), "method": f"importance sampling, k={args.k}"}
    est = appendix_d_log_px(model, X, n_samples=args.posterior_samples, n_leapfrog=args.leapfrog,
                            density=args.density, rng=rng)
    return {**est.summary(),
            "method": f"App. D, HMC ({args.posterior_samples} samples, {args.leapfrog} leapfrog "
                      f"steps), {args.density} density"}


def _evaluate(args):
    ckpt = _load(args.dir)
    preset = get_preset(ckpt.extra["dataset"])
    mcem = ckpt.algorithm == "mcem"
    if args.marginal == "is" and mcem:
        raise UsageError(f"{args.dir} was trained with MCEM, which leaves q(z|x) untrained, so it "
                         f"is no importance-sampling proposal; use --marginal hmc")
    n = args.n if args.n is not None else (1000 if args.marginal == "hmc" else None)
    sets, binarization = _evaluate_sets(ckpt, preset, n)
    if args.estimator is None:
        args.estimator = "B" if ckpt.model.latent.closed_form_kl else "A"
    result = {"dir": str(args.dir), "dataset": preset.name, "estimator": args.estimator, "L": args.L,
              "binarization": binarization, "marginal": args.marginal}
    for split, X in sets.items():
        rng = np.random.default_rng([args.seed, 0 if split == "train" else 1])
        result[f"{split}_bound"] = mean_bound(ckpt.model, X, L=args.L, estimator=args.estimator,
                                              rng=rng)
        result[f"n_{split}"] = len(X)
        if args.marginal:
            result[f"{split}_marginal"] = _marginal(args, ckpt.model, X, rng, split)
    result["encoder_trained"] = not mcem
    if not mcem:
        result["active_units"] = count_active(latent_activity(ckpt.model, sets["test"]))
        result["n_latent"] = ckpt.model.n_latent
    if args.json:
        print(atomicfile.dumps(result, "the evaluation"))
        return 0
    if mcem:
        print("note: this model was trained with MCEM, which leaves q(z|x) as initialized, so its "
              "bound says little about the generative model; log p(x) (--marginal hmc) does")
    for split in ("train", "test"):
        data = "grey values" if binarization == "none" else "fixed seeded binarization"
        print(f"{split:5s} bound per datapoint: {result[f'{split}_bound']:.3f} nats "
              f"(N={result[f'n_{split}']}, estimator {args.estimator}, L={args.L}, {data})")
        if args.marginal:
            m = result[f"{split}_marginal"]
            error = f" +- {m['mc_stderr']:.3f}" if "mc_stderr" in m else ""
            print(f"{split:5s} log p(x) per datapoint: {m['log_px']:.3f}{error} nats ({m['method']}); "
                  f"gap to the bound {m['log_px'] - result[f'{split}_bound']:.3f}")
    if not mcem:
        print(f"active latent units: {result['active_units']} of {result['n_latent']} (the variance "
              f"of q(z|x)'s mean over the test images above {ACTIVE_THRESHOLD:g}, as Burda et al. "
              f"2016 count them)")
    return 0


def _sample(args):
    out = Path(args.out) if args.out else Path(args.dir) / "samples.png"
    if out.is_dir():  # the default; figure_path checked --out
        raise UsageError(f"--out {out} is a directory; give the path of a PNG file")
    ckpt = _load(args.dir)
    preset = get_preset(ckpt.extra["dataset"])
    images = ckpt.model.sample(args.n, rng=np.random.default_rng(args.seed))
    save_image_grid(np.clip(images, 0.0, 1.0), preset.image_shape, out, n_cols=args.cols,
                    title=f"decoder means of z ~ {ckpt.model.latent.prior_text}, {preset.name}")
    print(f"wrote {out}")
    return 0


def _gradcheck(args):
    ok = True
    estimators = ESTIMATORS if args.family == "gaussian" else ("A",)  # B: closed-form KL only
    for decoder in decoder_names():
        for estimator in estimators:
            report = check_model_gradients(decoder, estimator, L=args.L, n_checks=args.n_checks,
                                           seed=args.seed, family=args.family)
            print(f"\n== family={args.family}, decoder={decoder}, estimator {estimator}, "
                  f"L={args.L} ==\n{report}")
            ok &= report.passed
    print("\nall gradients agree with finite differences" if ok else "\nGRADIENT CHECK FAILED")
    return 0 if ok else 1


def _add_train_options(p):
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR",
                       help="directory of a new run (required unless --resume); must not hold a "
                            "run already")
    where.add_argument("--resume", metavar="DIR", type=run_dir,
                       help="continue the run saved in DIR, with its settings (required unless "
                            "--out); --samples, --lr and --eval-every may change, other options "
                            "must match the run's")
    d = TRAIN_DEFAULTS
    p.add_argument("--algorithm", choices=list(ALGORITHMS),
                   help=f"aevb (Algorithm 1), or the paper's baselines wakesleep (wake-sleep, "
                        f"Fig. 2) and mcem (Monte Carlo EM, Fig. 3: trains the decoder only); "
                        f"--resume continues the run's own (default {d['algorithm']})")
    p.add_argument("--dataset", choices=sorted(PRESETS),
                   help=f"mnist (Bernoulli decoder) or frey (Gaussian decoder) (default {d['dataset']})")
    p.add_argument("--decoder", choices=decoder_names(),
                   help="observation model p(x|z), any registered kind whose data check the "
                        "dataset passes (default: the dataset's, bernoulli for mnist, gaussian "
                        "for frey)")
    p.add_argument("--n-latent", type=positive_count,
                   help=f"J, latent dimensions (default {PRESETS['mnist'].n_latent})")
    p.add_argument("--n-hidden", type=positive_count, nargs="+",
                   help="hidden layer sizes (default: 500 for mnist, 200 for frey)")
    p.add_argument("--family", choices=LATENT_FAMILIES,
                   help=f"latent family of q(z|x) and of the prior p(z) (Sec. 2.4): gaussian (the "
                        f"paper's) or another location-scale family, which trains with estimator "
                        f"A only (default {d['family']})")
    p.add_argument("--activation", choices=ACTIVATIONS,
                   help=f"hidden-layer nonlinearity (default {d['activation']})")
    p.add_argument("--dtype", choices=["float64", "float32"],
                   help="float64 (default) or float32 (faster); the backend is chosen by the "
                        "environment variable MINIVAE_BACKEND=numba|numpy (default numba)")
    p.add_argument("--samples", type=count,
                   help="training samples to see in total, a multiple of the batch size "
                        "(default 1e6)")
    p.add_argument("--lr", type=step_size,
                   help=f"global step size (default {PRESETS['mnist'].lr}); with --resume, the "
                        f"step size from then on")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                   help=f"update rule (default {d['optimizer']})")
    p.add_argument("--batch-size", type=positive_count,
                   help=f"M, datapoints per minibatch (default {d['batch_size']})")
    p.add_argument("--L", type=positive_count,
                   help=f"samples of eps per datapoint (default {d['L']})")
    p.add_argument("--estimator", choices=ESTIMATORS,
                   help=f"SGVB estimator: A (eq. 6) or B (eq. 7, gaussian --family only) (default "
                        f"{d['estimator']}; A for another --family)")
    p.add_argument("--binarization", choices=["dynamic", "fixed", "none"],
                   help="for MNIST (default dynamic); Frey Face is never binarized")
    p.add_argument("--no-weight-prior", action="store_true", default=None,
                   help="drop the N(0, I) parameter prior")
    p.add_argument("--seed", type=count,
                   help=f"seeds initialization, minibatches and noise (default {d['seed']})")
    p.add_argument("--eval-every", type=positive_count,
                   help="samples between evaluations, a multiple of the batch size (default: a "
                        "twentieth of --samples in whole minibatches); saved, so a resumed run "
                        "keeps it")
    p.add_argument("--eval-train-size", type=positive_count,
                   help="training rows used for the train bound (default 10000, or the whole "
                        "training set if smaller, as Frey Face's is)")
    for name, (kind, text) in MCEM_OPTIONS.items():
        p.add_argument(_flag(name), type=kind,
                       help=f"--algorithm mcem: {text} (default {_mcem_default(name)})")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--exercises", metavar="DIR",
                   help="train with your own functions: every written task of the exercises "
                        "workspace DIR replaces the package's for this run (needs --engine "
                        "reference; default: the package's own; docs/exercises.md)")
    add_engine_option(p)
    p.set_defaults(func=_train)


def _bench(args):
    from .benchmark import main  # the fused engine and PyTorch: loaded only for minivae bench
    return main(args)


def _add_evaluate_options(p):
    p.add_argument("dir", type=run_dir, help="a run directory (holding a checkpoint)")
    p.add_argument("--L", type=positive_count, default=1,
                   help="samples of eps per datapoint in the bound (default 1)")
    p.add_argument("--estimator", choices=ESTIMATORS,
                   help="SGVB estimator of the bound: A (eq. 6) or B (eq. 7) (default B; A for a "
                        "model of another latent family than gaussian, which has no closed-form KL)")
    p.add_argument("--marginal", choices=["hmc", "is"],
                   help="also estimate log p(x) (see above; default: no)")
    p.add_argument("--n", type=positive_count,
                   help="evaluate the first N images of each set (default: all; 1000 with hmc)")
    p.add_argument("--k", type=positive_count, default=5000,
                   help="importance samples per image (default 5000)")
    add_appendix_d_options(p)
    p.add_argument("--seed", type=count, default=0, help="seeds the noise (default 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_engine_option(p)
    p.set_defaults(func=_evaluate)


def _add_sample_options(p):
    p.add_argument("dir", type=run_dir, help="a run directory (holding a checkpoint)")
    p.add_argument("--n", type=positive_count, default=100, help="images to draw (default 100)")
    p.add_argument("--cols", type=positive_count, default=10,
                   help="images per row of the grid (default 10)")
    p.add_argument("--seed", type=count, default=0, help="seeds z (default 0)")
    p.add_argument("--out", metavar="PNG", type=figure_path,
                   help="PNG path (default DIR/samples.png; .pdf and .svg work too)")
    p.set_defaults(func=_sample)


def _add_gradcheck_options(p):
    p.add_argument("--L", type=positive_count, default=2,
                   help="samples of eps per datapoint (default 2)")
    p.add_argument("--n-checks", type=positive_count, default=20,
                   help="entries checked per tensor (default 20)")
    p.add_argument("--seed", type=count, default=0,
                   help="seeds the model, data and noise (default 0)")
    p.add_argument("--family", choices=LATENT_FAMILIES, default="gaussian",
                   help="latent family of the model checked; another than gaussian is checked with "
                        "estimator A only (default gaussian)")
    p.set_defaults(func=_gradcheck)


def _add_bench_options(p):
    p.add_argument("--steps", type=positive_count, default=300,
                   help="timed steps at batch 100, scaled to the same number of examples at other "
                        "batch sizes (default 300)")
    p.add_argument("--warmup", type=count, default=30,
                   help="untimed steps before them, scaled the same way (default 30)")
    p.add_argument("--batch-sizes", type=positive_count, nargs="+", default=[100, 1000],
                   help="batch sizes, one row each (default 100 1000)")
    p.add_argument("--dtypes", nargs="+", choices=["float32", "float64"],
                   default=["float32", "float64"], help="dtypes (default float32 float64)")
    p.add_argument("--rounds", type=positive_count, default=3,
                   help="times each row's contestants take turns; the table shows medians (default 3)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--profile", action="store_true",
                   help="instead, profile --steps steps (numba, float32, batch 100) with cProfile "
                        "(it sees the calling thread only)")
    p.add_argument("--phases", action="store_true",
                   help="instead, time the phases of --steps training steps (numba, batch 100, "
                        "each --dtypes): minibatch, noise, loss and gradient, check, update")
    p.add_argument("--wakesleep", action="store_true",
                   help="instead, time AEVB's fused step against wake-sleep's reference and fused "
                        "engines (numba, batch 100, each --dtypes, --rounds turns)")
    p.add_argument("--engines", action="store_true",
                   help="instead, time AEVB's steps on the fused and the reference engine "
                        "(batch 100, each --dtypes, --rounds turns; default: no)")
    p.add_argument("--import-time", action="store_true",
                   help="instead, time `import minivae` in fresh interpreters (--rounds turns; "
                        "default: no)")
    p.add_argument("--against", nargs="+", metavar="DIR",
                   help="with --import-time: also time the package in these source folders "
                        "(e.g. a git worktree of an older commit) (default: only the installed one)")
    p.set_defaults(func=_bench)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where the options are."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _version():
    try:
        return importlib.metadata.version("minivae")
    except importlib.metadata.PackageNotFoundError:
        from .. import __version__
        return __version__


def build_parser():
    """The argument parser of the ``minivae`` command."""
    parser = _Parser(
        prog="minivae",
        description="Auto-Encoding Variational Bayes (Kingma & Welling 2013) in NumPy, "
                    "every gradient derived by hand.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the traceback as well as the one-line message")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_train_options(sub.add_parser(
        "train", help="train a VAE with AEVB (Algorithm 1), wake-sleep or MCEM on MNIST or Frey "
                      "Face",
        usage="%(prog)s (--out DIR | --resume DIR) [options]",
        description="Train with AEVB (Algorithm 1), or with --algorithm wakesleep or mcem, the "
        "paper's baselines (same model, minibatches, optimizer and weight prior; MCEM's history "
        "holds App. D estimates of log p(x), not bounds). Defaults are the paper's: "
        "M=100, L=1, estimator B, Adagrad with step 0.02, N(0, I) weight prior, "
        "init N(0, 0.01^2); MNIST 500 tanh hidden units with a Bernoulli decoder "
        "and dynamic binarization, Frey Face 200 with a Gaussian sigmoid-mean decoder. "
        "Writes DIR/history.json, DIR/checkpoint.npz and DIR/bound.png. "
        "Ctrl-C stops the run after the current step, saves it and prints the command that "
        "continues it."))

    _add_evaluate_options(sub.add_parser(
        "evaluate", help="bound per datapoint (and log p(x)) of a trained model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Estimate the lower bound per datapoint on the training and test sets (MNIST: the fixed, seeded
binarization); with --marginal, also the marginal likelihood log p(x) of the generative model:

  hmc  the App. D estimator: HMC posterior samples, a density fitted to them, then the estimate
       on fresh samples; defaults are the paper's protocol (App. E): the first 1000 images of
       each set, 50 posterior samples, 4 leapfrog steps. Works for every model, MCEM's too.
  is   importance sampling with q(z|x) as the proposal (the IWAE bound), k samples per image;
       needs a trained encoder (AEVB or wake-sleep). Defaults to all images.

It also counts the active latent units (Burda et al. 2016): those whose q(z|x) mean varies over
the test images with a variance above 0.01 (not for MCEM, whose encoder is untrained)."""))

    _add_sample_options(sub.add_parser(
        "sample", help="PNG grid of samples from a trained model's generative model",
        description="Draw z ~ N(0, I), decode it and save the decoder means (clipped to [0, 1]) "
                    "as a grid of images in a PNG file."))

    _add_gradcheck_options(sub.add_parser(
        "gradcheck", help="finite-difference check of every gradient of a small model",
        description="Compare the hand-derived gradient of the loss with central "
        "differences for every parameter tensor of a small VAE, for both decoders "
        "and both estimators (estimator A only for a --family other than gaussian). "
        "Exits 1 if any tensor fails."))

    _add_bench_options(sub.add_parser(
        "bench", help="training speed per backend and dtype, next to PyTorch",
        description="Train the paper's MNIST model (784-500-20, tanh, Bernoulli, "
        "Adagrad, M=100 and 1000, L=1) with the numpy and numba backends in float32 "
        "and float64 and print examples/s; with PyTorch installed, the same model in "
        "PyTorch and the ratio. Set OPENBLAS_NUM_THREADS to choose the BLAS threads "
        "(PyTorch uses the same number)."))

    p = sub.add_parser("reproduce", help="reproduce the paper's figures: fig2 (AEVB vs wake-sleep), fig3 "
                       "(marginal likelihood, with MCEM), "
                       "manifold and samples (App. A); resumable")
    add_reproduce_commands(p)
    add_exercises_command(sub)
    return parser


FAILED_RUN = (checkpoint.CheckpointError, OSError, FloatingPointError, EOFError,
              zipfile.BadZipFile, RunLocked)
"""Errors of a run (a damaged checkpoint, the disk, divergence, a run directory in use): one line,
exit status 1. Any other ``ValueError`` is input the command cannot use: exit status 2."""


def _describe(exc):
    """One line for ``exc``; an operating-system error names its file."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _report(args, name, message, status):
    if args.debug:
        traceback.print_exc()
    print(f"{name}: error: {message}", file=sys.stderr)
    return status


def main(argv=None):
    """Entry point of ``minivae`` and ``python -m minivae``.

    Returns the exit status: 0; 1 for a failed run; 2 for a usage error (argparse's own errors
    exit with 2 from the parser); 130 when interrupted.
    Every error is one line on stderr; ``minivae --debug COMMAND`` adds the traceback.
    """
    args = build_parser().parse_args(argv)
    name = " ".join(["minivae", args.command] + ([args.experiment]
                                                  if getattr(args, "experiment", None) else []))
    try:
        with use_engine(getattr(args, "engine", None) or "fused"):
            return args.func(args)
    except KeyboardInterrupt:
        return _report(args, name, "interrupted", 130)
    except FAILED_RUN as exc:
        return _report(args, name, _describe(exc), 1)
    except ValueError as exc:  # UsageError and the like
        return _report(args, name, str(exc), 2)
    except Exception as exc:  # a defect of minivae: still one line, --debug shows where
        return _report(args, name, f"unexpected {type(exc).__name__}: {exc} (run minivae --debug "
                                   f"{args.command} ... for the traceback)", 1)
