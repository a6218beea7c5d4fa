"""The ``minivae reproduce`` command: ``fig2``, ``fig3``, ``manifold``, ``samples``, ``iwae``,
``iwae-torch`` and ``fullvb``.

:func:`add_reproduce_commands` fills the ``reproduce`` sub-parser that :mod:`minivae.cli.commands` creates.
"""
import argparse
import dataclasses
import time
from pathlib import Path

from ..experiments import iwae_torch
from ..experiments.appendix import (APPENDIX_SAMPLES, SAMPLE_LATENTS, reproduce_manifold,
                                    reproduce_samples)
from ..experiments.fig2 import (FAST_SAMPLES, FIG2, FIG2_ALGORITHMS, FULL_SAMPLES, format_summary,
                                reproduce_fig2)
from ..experiments.fig3 import (FIG3_FAST_EVAL_SIZE, FIG3_FAST_SAMPLES, FIG3_SAMPLES, TRAIN_SIZES,
                                format_fig3, reproduce_fig3)
from ..experiments.fig3_run import FIG3_ALGORITHMS, MarginalSettings
from ..experiments.fullvb import RUNS as FULLVB_RUNS
from ..experiments.fullvb import FullVBSettings, fast_settings, format_fullvb, reproduce_fullvb
from ..experiments.iwae import FAST as IWAE_FAST
from ..experiments.iwae import OUTPUT_BIAS, IwaeSettings, reproduce_iwae
from ..experiments.iwae_schedule import N_STAGES
from ..experiments.iwae_torch import FAST as TORCH_FAST
from ..experiments.iwae_torch import (THEIR_CHOICES, TorchSettings, format_record,
                                      reproduce_iwae_torch)
from ..experiments.stepsize import STEP_SIZES
from ..training.progress import format_seconds
from .argtypes import (UsageError, add_appendix_d_options, add_engine_option, count, positive_count,
                       run_dir, step_size)

__all__ = ["add_reproduce_commands"]

FIG3_START = 10_000
"""Samples before fig3's first estimate, unless --start says otherwise."""

DESCRIPTION = """\
Reproduce the paper's experiments on the shipped MNIST and Frey Face data. Every training run
is saved after each evaluation (checkpoint.npz, history.json) under
OUT/<dataset>/J<latents>/<algorithm>/lr<step size>/ (fig3: OUT/mnist/N<images>/<algorithm>/,
with marginal.json): run the same command again to continue an interrupted run; runs that
reached their budget are read, not retrained.
"""


def _timed(fn, args):
    start = time.perf_counter()
    result = fn(args)
    print(f"wall time of this command: {format_seconds(time.perf_counter() - start)}")
    return result


def _fig2(args):
    if args.fast and args.samples:
        raise UsageError("give --fast or --samples, not both")
    samples = FAST_SAMPLES if args.fast else (args.samples or FULL_SAMPLES)
    if args.pilot_samples is not None and args.pilot_samples > samples:
        raise UsageError(f"--pilot-samples {args.pilot_samples:,} is more than the budget of "
                         f"{samples:,} samples per run")
    result = reproduce_fig2(args.dataset, args.out, samples, args.latents, args.n_hidden,
                            tuple(args.algorithms), tuple(args.step_sizes), args.pilot_samples,
                            args.seed, args.eval_train_size, args.quiet)
    print(format_summary(result))
    print(f"wrote {args.out}/fig2_{args.dataset}.csv, .json and .png")
    return 0


def _fig3(args):
    if args.fast and args.samples:
        raise UsageError("give --fast or --samples, not both")
    samples = FIG3_FAST_SAMPLES if args.fast else (args.samples or FIG3_SAMPLES)
    if args.start is not None and args.start > samples:
        raise UsageError(f"--start {args.start:,} is after the budget of {samples:,} samples")
    start = min(FIG3_START, samples) if args.start is None else args.start
    eval_size = args.eval_size or (FIG3_FAST_EVAL_SIZE if args.fast else MarginalSettings().eval_size)
    settings = MarginalSettings(eval_size, args.posterior_samples, args.leapfrog, args.density)
    result = reproduce_fig3(args.out, samples, tuple(args.train_sizes), tuple(args.algorithms),
                            args.mcem_samples, args.lr, args.latents, args.n_hidden, settings,
                            args.seed, start, args.quiet)
    print(format_fig3(result))
    print(f"wrote {args.out}/fig3_mnist.csv, .json and .png")
    return 0


def _manifold(args):
    result = reproduce_manifold(args.dataset, args.out, args.samples, args.from_dir, args.grid,
                                args.lr, args.n_hidden, args.seed, args.eval_train_size, args.quiet)
    model = result["model"]
    if model["test_bound"] is not None:
        print(f"2-D latent model ({model['dir']}): {model['samples']:,} samples, train bound "
              f"{model['train_bound']:.2f}, test bound {model['test_bound']:.2f} nats per datapoint")
    print("wrote " + ", ".join(result["files"]))
    return 0


def _samples(args):
    result = reproduce_samples(args.dataset, args.out, args.samples, args.latents, args.from_dirs,
                               args.n, args.lr, args.n_hidden, args.seed, args.eval_train_size,
                               args.quiet)
    for m in result["models"]:
        if m["test_bound"] is not None:
            print(f"J={m['n_latent']:>3} ({m['dir']}): {m['samples']:,} samples, train bound "
                  f"{m['train_bound']:.2f}, test bound {m['test_bound']:.2f}")
    print("wrote " + ", ".join(result["files"]))
    return 0


def _iwae(args):
    fast = IWAE_FAST if args.fast else IwaeSettings()
    n_stages = fast.n_stages if args.stages is None else args.stages
    if n_stages > fast.n_stages:
        which = "--fast runs" if args.fast else "the schedule has"
        raise UsageError(f"--stages {n_stages}: {which} {fast.n_stages} stages at most")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out} is a file, not a directory")
    settings = dataclasses.replace(fast, n_stages=n_stages, seed=args.seed, dtype=args.dtype,
                                   output_bias=args.output_bias,
                                   k=fast.k if args.k is None else args.k,
                                   checkpoint_every=args.checkpoint_every or fast.checkpoint_every)
    records = reproduce_iwae(args.out, settings, quiet=args.quiet)
    last = records[-1]
    print(f"after stage {last['stage'] + 1}/{N_STAGES} ({last['total_passes']:,} passes): test "
          f"NLL {last['test_nll']:.2f} nats (k={last['k']:,}), {last['active_units']} active "
          f"units; the paper's (all {N_STAGES} stages): 86.76 nats, 19 active units")
    print(f"wrote {args.out}/iwae.json and {args.out}/checkpoint.npz")
    return 0


def _iwae_torch(args):
    base = TORCH_FAST if args.fast else TorchSettings()
    given = {name: getattr(args, name) for name in ("n_stages", "k", "dtype", "threads")
             if getattr(args, name) is not None}
    settings = dataclasses.replace(base, seed=args.seed, choices=tuple(args.their),
                                   only_last=args.only_last, **given)
    if not iwae_torch.available():
        raise UsageError(iwae_torch.NO_TORCH)
    result = reproduce_iwae_torch(args.out, settings, quiet=args.quiet)
    for record in result["stages"]:
        print(format_record(record))
    print(f"wrote {args.out}/iwae_torch.json")
    return 0


def _fullvb(args):
    base = fast_settings(args.dataset) if args.fast else FullVBSettings(dataset=args.dataset)
    given = {name: getattr(args, name) for name in ("n_train", "n_test", "samples", "n_hidden",
                                                    "n_latent", "k", "n_theta")
             if getattr(args, name) is not None}
    if args.runs:
        given["runs"] = tuple(args.runs)
    settings = dataclasses.replace(base, seed=args.seed, engine=args.engine or "reference", **given)
    result = reproduce_fullvb(args.out, settings, quiet=args.quiet)
    print(format_fullvb(result))
    print(f"wrote {args.out}/fullvb_{args.dataset}.json")
    return 0


def _common(p, out, budget_help):
    p.add_argument("--dataset", choices=sorted(FIG2), default="mnist",
                   help="mnist (500 hidden units, Bernoulli decoder) or frey (200, Gaussian) "
                        "(default mnist)")
    p.add_argument("--samples", type=positive_count, help=budget_help)
    p.add_argument("--n-hidden", type=positive_count,
                   help="hidden units of encoder and decoder (default: the paper's, 500 / 200)")
    p.add_argument("--seed", type=count, default=0,
                   help="seeds initialization, minibatches and noise (default 0)")
    p.add_argument("--eval-train-size", type=positive_count, default=10_000,
                   help="training images in the reported train bound, a fixed subset (default "
                        "10000; Frey Face has 1765)")
    p.add_argument("--out", default=out, help=f"output directory (default {out})")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def add_reproduce_commands(parser):
    """Add the ``fig2``, ``fig3``, ``manifold``, ``samples``, ``iwae``, ``iwae-torch`` and
    ``fullvb`` sub-commands to the ``reproduce`` parser."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")

    p = sub.add_parser(
        "fig2", help="Fig. 2: AEVB vs wake-sleep, lower bound vs training samples seen",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Fig. 2 of the paper: for every latent size, train the same VAE with AEVB and with wake-sleep
(same encoder, decoder, initialization, minibatches of M=100, L=1, Adagrad, N(0, I) weight prior)
and evaluate the train and test lower bound per datapoint (estimator B) at log-spaced numbers of
training samples seen. Adagrad's step size is chosen per run from --step-sizes by the train bound
after --pilot-samples samples, as in the paper; the choice is recorded. Latent sizes: MNIST 3, 5,
10, 20, 200 (500 hidden units); Frey Face 2, 5, 10, 20 (200 hidden units).

Writes OUT/fig2_<dataset>.csv (one row per evaluation), .json (settings, step-size pilots,
histories, summary, wall times) and .png (one panel per latent size, log x-axis).

Budget: --samples per run (default 1e7; the paper goes to 1e8 for MNIST); --fast is 1e5.
Runs are independent: to use two cores, start two commands on disjoint --latents with the same
--out, then run the full command once more to assemble the figure (nothing is retrained).""",
        epilog="example: minivae reproduce fig2 --dataset frey --fast --out runs/fig2-fast")
    _common(p, "runs/fig2", f"training samples per run (default {FULL_SAMPLES:,})")
    p.add_argument("--fast", action="store_true",
                   help=f"a short budget, {FAST_SAMPLES:,} samples per run (minutes, not hours)")
    p.add_argument("--latents", type=positive_count, nargs="+", metavar="J",
                   help="latent sizes to run (default: the paper's for the dataset)")
    p.add_argument("--algorithms", nargs="+", choices=FIG2_ALGORITHMS,
                   default=list(FIG2_ALGORITHMS),
                   help="update rules to run (default both)")
    p.add_argument("--step-sizes", type=step_size, nargs="+", default=list(STEP_SIZES),
                   metavar="LR", help="Adagrad step-size candidates (default 0.01 0.02 0.1)")
    p.add_argument("--pilot-samples", type=positive_count,
                   help="samples per step-size candidate (default 1%% of the budget, at least 1e4)")
    p.set_defaults(func=lambda args: _timed(_fig2, args))

    p = sub.add_parser(
        "fig3", help="Fig. 3: AEVB vs wake-sleep vs MCEM, estimated log p(x) vs training samples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Fig. 3 of the paper: train the same small model on MNIST (3 latents, 100 hidden units, Bernoulli
decoder, M=100, Adagrad, N(0, I) weight prior) with AEVB, wake-sleep and Monte Carlo EM (per
datapoint one HMC move of 10 leapfrog steps tuned to 90% acceptance, then 5 decoder updates),
on the first 1000 training images and on all of them. At three log-spaced points per decade,
estimate the marginal likelihood log p(x) of the first --eval-size training and test images with
the App. D estimator (HMC posterior samples, a fitted density, the estimate on fresh samples).

Writes OUT/fig3_mnist.csv (one row per estimate), .json (settings, runs, wall times) and .png
(one panel per training-set size). Runs live in OUT/mnist/N<n>/<algorithm>/ and are resumable.

Budget: --samples per run (default 1e7); --fast is 1e5, with estimates on 200 images. Each
estimate at the paper's 1000 images takes 2-4 min on one core, 7 per run at 1e6 samples. MCEM
costs far more per sample (and, as the paper says, is not an on-line algorithm): --mcem-samples
caps it on the large set.""",
        epilog="example: minivae reproduce fig3 --fast --out runs/fig3-fast")
    p.add_argument("--samples", type=positive_count, help=f"training samples per run (default {FIG3_SAMPLES:,})")
    p.add_argument("--fast", action="store_true",
                   help=f"a short budget, {FIG3_FAST_SAMPLES:,} samples per run, estimating on "
                        f"{FIG3_FAST_EVAL_SIZE} images per set unless --eval-size is given")
    p.add_argument("--train-sizes", type=positive_count, nargs="+", default=list(TRAIN_SIZES), metavar="N",
                   help="training-set sizes, the first N MNIST images (default 1000 60000)")
    p.add_argument("--algorithms", nargs="+", choices=FIG3_ALGORITHMS, default=list(FIG3_ALGORITHMS),
                   help="learning algorithms to run (default all three)")
    p.add_argument("--mcem-samples", type=positive_count,
                   help="cap on MCEM's budget for training sets larger than 1000 (default: none)")
    p.add_argument("--lr", type=step_size, default=0.02, help="Adagrad step size (default 0.02)")
    p.add_argument("--latents", type=positive_count, default=3, help="latent dimensions (default 3)")
    p.add_argument("--n-hidden", type=positive_count, default=100, help="hidden units (default 100)")
    p.add_argument("--eval-size", type=positive_count,
                   help="first images of train and test in each estimate (default 1000, the "
                        f"paper's; {FIG3_FAST_EVAL_SIZE} with --fast)")
    add_appendix_d_options(p, leapfrog_help="leapfrog steps per HMC move in the estimate (default 4)")
    p.add_argument("--start", type=positive_count,
                   help=f"first estimate after this many samples (default {FIG3_START}, or the "
                        f"budget if smaller)")
    p.add_argument("--seed", type=count, default=0, help="seeds everything (default 0)")
    p.add_argument("--out", default="runs/fig3", help="output directory (default runs/fig3)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=lambda args: _timed(_fig3, args))

    p = sub.add_parser(
        "manifold", help="App. A, Fig. 4: decoder over a grid of a 2-D latent space",
        description="Train (or load with --from) an AEVB model with 2 latent dimensions and plot "
                    "the decoder mean at z = Phi^-1(u) for u on a grid of cell midpoints of the "
                    "unit square (Phi^-1 = scipy.stats.norm.ppf). For MNIST also plot the test "
                    "set's posterior means coloured by digit. Writes OUT/manifold_<dataset>.png "
                    "(and OUT/latent_means_mnist.png) and OUT/manifold_<dataset>.json.")
    _common(p, "runs/appendix-a", f"training samples (default {APPENDIX_SAMPLES:,})")
    p.set_defaults(samples=APPENDIX_SAMPLES)  # the README runs it without --samples
    p.add_argument("--from", dest="from_dir", metavar="DIR", type=run_dir,
                   help="plot the saved model in DIR, a checkpoint with 2 latent dimensions "
                        "(default: train one)")
    p.add_argument("--grid", type=positive_count, default=20, help="images per axis (default 20)")
    p.add_argument("--lr", type=step_size, default=0.02, help="Adagrad step size (default 0.02)")
    p.set_defaults(func=lambda args: _timed(_manifold, args))

    p = sub.add_parser(
        "samples", help="App. A, Fig. 5: random samples for several latent sizes",
        description="Train (or load with --from) AEVB models with each of --latents latent "
                    "dimensions and plot decoder means at z ~ N(0, I), one panel per model. "
                    "Writes OUT/samples_<dataset>.png and OUT/samples_<dataset>.json. Models "
                    "with the same settings are shared with `reproduce manifold` in the same OUT.")
    _common(p, "runs/appendix-a", f"training samples per model (default {APPENDIX_SAMPLES:,})")
    p.set_defaults(samples=APPENDIX_SAMPLES)  # the README runs it without --samples
    p.add_argument("--latents", type=positive_count, nargs="+", default=list(SAMPLE_LATENTS),
                   metavar="J", help="latent sizes (default 2 5 10 20)")
    p.add_argument("--from", dest="from_dirs", nargs="+", metavar="DIR", type=run_dir,
                   help="sample from the saved models in these directories (default: train "
                        "them)")
    p.add_argument("--n", type=positive_count, default=100, help="samples per model (default 100)")
    p.add_argument("--lr", type=step_size, default=0.02, help="Adagrad step size (default 0.02)")
    p.set_defaults(func=lambda args: _timed(_samples, args))
    _add_iwae(sub)
    _add_fullvb(sub)
    for p in sub.choices.values():
        add_engine_option(p)
    _add_iwae_torch(sub)
    return parser


def _add_iwae(sub):
    full = IwaeSettings()
    p = sub.add_parser(
        "iwae", help="IWAE paper, Table 1: test NLL of a 1-stochastic-layer VAE (paper: 86.76)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
The IWAE paper's VAE (Burda, Grosse & Salakhutdinov, ICLR 2016, Table 1: 86.76 nats, 19 active
units): 784-200-200-50 with tanh, Bernoulli decoder, Glorot-uniform init, dynamic binarization,
minibatches of 20, estimator B with one sample, no weight prior, Adam (beta1 0.9, beta2 0.999,
eps 1e-4); stage i = 0..7 trains 3^i passes at lr 0.001*10^(-i/7) (3280 passes, 1.97e8 samples).
After every stage: test NLL by importance sampling with --k samples on a fixed seeded
binarization of the 10,000 test images, the bound on train and test, the active latent units
(variance of the encoder's mean over the test set > 0.01). Writes OUT/iwae.json and
OUT/checkpoint.npz (every --checkpoint-every samples and after every stage); run the same
command again to continue a stopped run bit for bit, or with a larger --stages to go on.
See docs/iwae.md.""",
        epilog="example: minivae reproduce iwae --stages 3 --out runs/iwae")
    p.add_argument("--out", required=True, help="run directory (required)")
    p.add_argument("--stages", type=positive_count,
                   help=f"run only the first N stages of the schedule (default all {N_STAGES}; "
                        f"{IWAE_FAST.n_stages} with --fast)")
    p.add_argument("--k", type=positive_count,
                   help=f"importance samples per test image (default {full.k:,}; "
                        f"{IWAE_FAST.k} with --fast)")
    p.add_argument("--seed", type=count, default=0,
                   help="seeds initialization, minibatches, binarization and noise (default 0)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="float64 (default) or float32 (faster)")
    p.add_argument("--output-bias", choices=OUTPUT_BIAS, default="zero",
                   help="the decoder's starting output bias: zero (default; the paper does not "
                        "say) or pixel-logits, the logits of the training set's mean pixel "
                        "intensities, as the IWAE authors' code starts it")
    p.add_argument("--checkpoint-every", type=positive_count,
                   help=f"training samples between checkpoints (default {full.checkpoint_every:,})")
    p.add_argument("--fast", action="store_true",
                   help=f"a tiny run for tests: {IWAE_FAST.n_stages} stages over the first "
                        f"{IWAE_FAST.n_train} training images, evaluated on {IWAE_FAST.n_test} "
                        f"test images")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=lambda args: _timed(_iwae, args))


def _add_iwae_torch(sub):
    choices = "\n".join(f"  {name}: {what}" for name, what in THEIR_CHOICES.items())
    p = sub.add_parser(
        "iwae-torch", help="the IWAE protocol in PyTorch (optional), to find where a gap to "
                           "86.76 comes from",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"""\
The first --stages stages of `minivae reproduce iwae`'s protocol, trained by PyTorch (autograd,
PyTorch's random numbers) from the same Glorot start, then evaluated by minivae's evaluator
(test NLL with --k importance samples, active units, the test bound). With no --their it is
the same protocol: a check of minivae's training. --their switches on choices of the IWAE
authors' code, alone or together:
{choices}
Needs PyTorch (pip install torch), which minivae does not depend on. Saves OUT/checkpoint.pt
after every pass: run the same command again to continue a stopped run, or with a larger
--stages to go on. Writes OUT/iwae_torch.json. See docs/iwae.md.""",
        epilog="example: minivae reproduce iwae-torch --stages 3 --their adam --out runs/torch-adam")
    p.add_argument("--out", required=True, help="output directory (required)")
    p.add_argument("--stages", dest="n_stages", type=positive_count,
                   help=f"the first N stages (default {TorchSettings().n_stages}; "
                        f"{TORCH_FAST.n_stages} with --fast)")
    p.add_argument("--their", nargs="+", default=[], choices=sorted(THEIR_CHOICES),
                   metavar="CHOICE", help="their code's choices to switch on (default none)")
    p.add_argument("--k", type=positive_count,
                   help=f"importance samples per test image (default {TorchSettings().k})")
    p.add_argument("--seed", type=count, default=0,
                   help="seeds the start (as `reproduce iwae --seed`) and PyTorch's generator "
                        "(default 0)")
    p.add_argument("--dtype", choices=["float64", "float32"], help="default float64")
    p.add_argument("--threads", type=positive_count, help="PyTorch's threads (default 1)")
    p.add_argument("--only-last", action="store_true",
                   help="evaluate after the last stage only (default: after every stage)")
    p.add_argument("--fast", action="store_true",
                   help=f"a tiny run for tests: {TORCH_FAST.n_stages} stages over "
                        f"{TORCH_FAST.n_train} training images, {TORCH_FAST.n_test} test images, "
                        f"k = {TORCH_FAST.k}")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=lambda args: _timed(_iwae_torch, args))


def _add_fullvb(sub):
    full = FullVBSettings()
    p = sub.add_parser(
        "fullvb", help="App. F: full VB over the decoder's parameters against MAP, small data",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
App. F's full VB (a Gaussian q(theta) over the decoder's parameters, trained by SGVB beside
q(z|x)) against the MAP setup (Algorithm 1 with the N(0, I) weight prior), from the same
initialization, minibatch order and step size (Adagrad 0.02), on the first --n-train training
rows. Reports the test bound and log p(x) by importance sampling (full VB: of the predictive
E_q(theta) p_theta(x)). Trains on the reference engine unless --engine fused (full VB's loss and
gradient are the readable code on both; fused steps the optimizer with its kernels). Not
resumable (each run is short).
Writes OUT/fullvb_<dataset>.json and OUT/<dataset>/<run>/checkpoint.npz. See docs/fullvb.md.""",
        epilog="example: minivae reproduce fullvb --dataset mnist --n-train 1000 --out runs/fullvb")
    p.add_argument("--dataset", choices=["frey", "mnist"], default="frey",
                   help="frey (Gaussian decoder) or mnist (Bernoulli, dynamic binarization) (default frey)")
    p.add_argument("--n-train", type=positive_count, help="the first N training rows (default all)")
    p.add_argument("--n-test", type=positive_count,
                   help=f"the first N test rows (default {full.n_test})")
    p.add_argument("--samples", type=positive_count,
                   help=f"training samples per run (default {full.samples:,})")
    p.add_argument("--n-hidden", type=positive_count,
                   help=f"hidden units (default {full.n_hidden})")
    p.add_argument("--n-latent", type=positive_count, help=f"latents (default {full.n_latent})")
    p.add_argument("--k", type=positive_count,
                   help=f"importance samples per test row (default {full.k})")
    p.add_argument("--n-theta", type=positive_count,
                   help=f"draws of theta for full VB's test scores (default {full.n_theta})")
    p.add_argument("--runs", nargs="+", choices=FULLVB_RUNS,
                   help="map, fullvb (minibatch form), algorithm2 (default: map fullvb)")
    p.add_argument("--seed", type=count, default=0, help="seeds everything (default 0)")
    p.add_argument("--out", required=True, help="output directory (required)")
    p.add_argument("--fast", action="store_true", help="a tiny comparison for tests")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=lambda args: _timed(_fullvb, args))
