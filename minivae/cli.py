"""The ``minivae`` command line: train, evaluate, sample, gradcheck, reproduce.

Run ``minivae --help`` or ``minivae COMMAND --help`` for the options.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import atomicfile, checkpoint
from .argtypes import add_appendix_d_options, count, positive_count
from .benchmark import main as bench_main
from .datasets import binarize_fixed
from .estimators import ESTIMATORS
from .evaluation import mean_bound
from .marginal.appendix_d import appendix_d_log_px
from .marginal.importance import importance_log_px
from .model import VAE
from .modelcheck import check_model_gradients
from .optim import OPTIMIZERS, make_optimizer
from .plotting import plot_history, save_image_grid
from .presets import PRESETS, get_preset
from .progress import ProgressPrinter, format_seconds
from .reproduce.cli import add_reproduce_commands
from .runlock import lock_run
from .training import Callback, Diverged, Trainer

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


def _train(args):
    if args.resume:
        out = Path(args.resume)
        extra = checkpoint.load(out).extra
        preset = get_preset(extra["dataset"])
        samples = args.samples if args.samples is not None else extra["samples"]
        extra = {**extra, "samples": samples}
        trainer = checkpoint.restore_trainer(out, preset.load("train"), preset.load("test"))
        print(f"resuming {out} at {trainer.samples:,} samples", file=sys.stderr)
    else:
        if args.out is None:
            raise SystemExit("minivae train: give --out DIR (or --resume DIR)")
        out = Path(args.out)
        if checkpoint.exists(out):
            raise SystemExit(f"minivae train: {out} already holds a run; use --resume {out} "
                             f"to continue it, or choose another --out")
        preset = get_preset(args.dataset)
        samples = 1_000_000 if args.samples is None else args.samples
        model = VAE(preset.image_shape[0] * preset.image_shape[1],
                    args.n_hidden or preset.n_hidden, args.n_latent or preset.n_latent,
                    decoder=preset.decoder, activation=args.activation, seed=args.seed,
                    dtype=args.dtype)
        optimizer = make_optimizer(args.optimizer, lr=args.lr or preset.lr)
        trainer = Trainer(model, preset.load("train"), preset.load("test"), optimizer=optimizer,
                          batch_size=args.batch_size, L=args.L, estimator=args.estimator,
                          weight_prior=not args.no_weight_prior, binarization=args.binarization,
                          seed=args.seed, eval_train_size=args.eval_train_size)
        extra = {"dataset": preset.name, "samples": samples}
    trainer.callbacks.append(_Writer(out, extra))
    if not args.quiet:
        trainer.callbacks.append(ProgressPrinter(samples))
        print(f"training {trainer.model!r}\n  {trainer.optimizer!r}, {trainer.config()}",
              file=sys.stderr)
    with lock_run(out):
        try:
            trainer.run(samples, eval_every=args.eval_every)
        except Diverged as exc:
            exc.directory = out   # for the resume command in its message
            raise
    plot_history(trainer.history, out / "bound.png",
                 title=f"{preset.name}: J={trainer.model.n_latent}, AEVB")
    last = trainer.history[-1]
    print(f"done: {last.samples:,} samples in {format_seconds(last.wall_time)}; "
          f"train bound {last.train_bound:.2f}, test bound {last.test_bound:.2f} nats per datapoint; "
          f"wrote {out}/history.json, checkpoint.npz, bound.png")
    return 0


def _evaluate_sets(ckpt, preset, n):
    """The train and test sets as evaluated: MNIST binarized with the fixed seed, first ``n`` rows."""
    binarization = "none" if ckpt.model.decoder == "gaussian" else "fixed"
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
    ckpt = checkpoint.load(args.dir)
    preset = get_preset(ckpt.extra["dataset"])
    mcem = ckpt.extra.get("algorithm") == "mcem"
    if args.marginal == "is" and mcem:
        raise ValueError(f"{args.dir} was trained with MCEM, which leaves q(z|x) untrained, so it "
                         f"is no importance-sampling proposal; use --marginal hmc")
    n = args.n if args.n is not None else (1000 if args.marginal == "hmc" else None)
    sets, binarization = _evaluate_sets(ckpt, preset, n)
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
    if args.json:
        print(json.dumps(result, indent=1))
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
    return 0


def _sample(args):
    ckpt = checkpoint.load(args.dir)
    preset = get_preset(ckpt.extra["dataset"])
    images = ckpt.model.sample(args.n, rng=np.random.default_rng(args.seed))
    out = Path(args.out) if args.out else Path(args.dir) / "samples.png"
    save_image_grid(np.clip(images, 0.0, 1.0), preset.image_shape, out, n_cols=args.cols,
                    title=f"decoder means of z ~ N(0, I), {preset.name}")
    print(f"wrote {out}")
    return 0


def _gradcheck(args):
    ok = True
    for decoder in ("bernoulli", "gaussian"):
        for estimator in ESTIMATORS:
            report = check_model_gradients(decoder, estimator, L=args.L, n_checks=args.n_checks,
                                           seed=args.seed)
            print(f"\n== decoder={decoder}, estimator {estimator}, L={args.L} ==\n{report}")
            ok &= report.passed
    print("\nall gradients agree with finite differences" if ok else "\nGRADIENT CHECK FAILED")
    return 0 if ok else 1


def build_parser():
    """The argument parser of the ``minivae`` command."""
    parser = argparse.ArgumentParser(
        prog="minivae",
        description="Auto-Encoding Variational Bayes (Kingma & Welling 2013) in NumPy, "
                    "every gradient derived by hand.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a VAE with AEVB (Algorithm 1) on MNIST or Frey Face",
                       description="Train with AEVB (Algorithm 1). Defaults are the paper's: "
                       "M=100, L=1, estimator B, Adagrad with step 0.02, N(0, I) weight prior, "
                       "init N(0, 0.01^2); MNIST 500 tanh hidden units with a Bernoulli decoder "
                       "and dynamic binarization, Frey Face 200 with a Gaussian sigmoid-mean decoder. "
                       "Writes DIR/history.json, DIR/checkpoint.npz and DIR/bound.png.")
    p.add_argument("--dataset", choices=sorted(PRESETS), default="mnist")
    p.add_argument("--n-latent", type=int, help="J, latent dimensions (default 20)")
    p.add_argument("--n-hidden", type=int, nargs="+",
                   help="hidden layer sizes (default: 500 for mnist, 200 for frey)")
    p.add_argument("--activation", default="tanh")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="float64 (default) or float32 (faster); the backend is chosen by the "
                        "environment variable MINIVAE_BACKEND=numba|numpy (default numba)")
    p.add_argument("--samples", type=count, help="training samples to see in total (default 1e6)")
    p.add_argument("--lr", type=float, help="global step size (default 0.02)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adagrad")
    p.add_argument("--batch-size", type=int, default=100, help="M (default 100)")
    p.add_argument("--L", type=int, default=1, help="samples of eps per datapoint (default 1)")
    p.add_argument("--estimator", choices=ESTIMATORS, default="B", help="SGVB estimator (default B)")
    p.add_argument("--binarization", choices=["dynamic", "fixed", "none"],
                   help="for MNIST (default dynamic); Frey Face is never binarized")
    p.add_argument("--no-weight-prior", action="store_true", help="drop the N(0, I) parameter prior")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=count, help="samples between evaluations (default budget/20)")
    p.add_argument("--eval-train-size", type=int, default=10_000,
                   help="training rows used for the train bound (default 10000)")
    p.add_argument("--out", help="output directory")
    p.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="bound per datapoint (and log p(x)) of a trained model",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="""\
Estimate the lower bound per datapoint on the training and test sets (MNIST: the fixed, seeded
binarization); with --marginal, also the marginal likelihood log p(x) of the generative model:

  hmc  the App. D estimator: HMC posterior samples, a density fitted to them, then the estimate
       on fresh samples; defaults are the paper's protocol (App. E): the first 1000 images of
       each set, 50 posterior samples, 4 leapfrog steps. Works for every model, MCEM's too.
  is   importance sampling with q(z|x) as the proposal (the IWAE bound), k samples per image;
       needs a trained encoder (AEVB or wake-sleep). Defaults to all images.""")
    p.add_argument("dir", type=Path)
    p.add_argument("--L", type=int, default=1)
    p.add_argument("--estimator", choices=ESTIMATORS, default="B")
    p.add_argument("--marginal", choices=["hmc", "is"], help="also estimate log p(x) (see above)")
    p.add_argument("--n", type=positive_count,
                   help="evaluate the first N images of each set (default: all; 1000 with hmc)")
    p.add_argument("--k", type=positive_count, default=5000, help="importance samples per image (default 5000)")
    add_appendix_d_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("sample", help="PNG grid of samples from a trained model's generative model")
    p.add_argument("dir", type=Path)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--cols", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="PNG path (default DIR/samples.png)")
    p.set_defaults(func=_sample)

    p = sub.add_parser("gradcheck", help="finite-difference check of every gradient of a small model",
                       description="Compare the hand-derived gradient of the loss with central "
                       "differences for every parameter tensor of a small VAE, for both decoders "
                       "and both estimators. Exits 1 if any tensor fails.")
    p.add_argument("--L", type=int, default=2)
    p.add_argument("--n-checks", type=int, default=20, help="entries checked per tensor")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_gradcheck)

    p = sub.add_parser("bench", help="training speed per backend and dtype, next to PyTorch",
                       description="Train the paper's MNIST model (784-500-20, tanh, Bernoulli, "
                       "Adagrad, M=100 and 1000, L=1) with the numpy and numba backends in float32 "
                       "and float64 and print examples/s; with PyTorch installed, the same model in "
                       "PyTorch and the ratio. Set OPENBLAS_NUM_THREADS to choose the BLAS threads "
                       "(PyTorch uses the same number).")
    p.add_argument("--steps", type=positive_count, default=300,
                   help="timed steps at batch 100, scaled to the same number of examples at other "
                        "batch sizes (default 300)")
    p.add_argument("--warmup", type=count, default=30,
                   help="untimed steps before them, scaled the same way (default 30)")
    p.add_argument("--batch-sizes", type=positive_count, nargs="+", default=[100, 1000])
    p.add_argument("--dtypes", nargs="+", choices=["float32", "float64"], default=["float32", "float64"])
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
    p.set_defaults(func=bench_main)

    p = sub.add_parser("reproduce", help="reproduce the paper's figures: fig2 (AEVB vs wake-sleep), fig3 "
                       "(marginal likelihood, with MCEM), "
                       "manifold and samples (App. A); resumable")
    add_reproduce_commands(p)
    return parser


def main(argv=None):
    """Entry point of ``minivae`` and ``python -m minivae``."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"minivae {args.command}: error: {exc}", file=sys.stderr)
        return 2
