r"""The paper's Fig. 3: AEVB, wake-sleep and Monte Carlo EM compared by the marginal likelihood.

The paper (Sec. 5, App. E) trains a small generative model on MNIST (3 latents, 100 hidden
units) with three algorithms, on a small (1000 images) and a large training set, and plots the
estimated marginal log-likelihood $\log p_\theta(x)$ of the first 1000 training and test images
against the number of training samples evaluated. $\log p_\theta(x)$ is estimated with the App. D
estimator: HMC posterior samples, a density fitted to them, and the harmonic-mean-type estimator
on fresh samples (:mod:`minivae.marginal.appendix_d`).

MCEM visits every datapoint with its own HMC chain, so it costs much more per sample than the
other two and, as the paper notes, is not an on-line algorithm; ``mcem_samples`` caps its budget
on the large set (say where in the results).

Outputs in ``OUT``: ``fig3_mnist.csv`` (one row per estimate), ``fig3_mnist.json`` (settings,
runs, wall times) and ``fig3_mnist.png`` (one panel per training-set size, like the paper's).
"""
import sys
from pathlib import Path

from ..training import atomicfile
from ..training.progress import format_seconds
from .fig3_plot import plot_fig3
from .fig3_run import FIG3_ALGORITHMS, MarginalSettings, fig3_spec, train_fig3_run
from .runs import BATCH_SIZE, load_data
from .schedule import log_schedule, round_to_batches

__all__ = ["FIG3_SAMPLES", "FIG3_FAST_SAMPLES", "FIG3_FAST_EVAL_SIZE", "TRAIN_SIZES", "reproduce_fig3", "format_fig3"]

FIG3_SAMPLES = 10_000_000
FIG3_FAST_SAMPLES = 100_000
FIG3_FAST_EVAL_SIZE = 200
"""Images per set in each estimate of the fast budget: the estimates, not the training, dominate
the time (2-4 min per point at the paper's 1000 images on one core)."""
TRAIN_SIZES = (1000, 60_000)
"""The small set of the paper and the whole MNIST training set (the paper used 50,000)."""


def _points(samples, start):
    return log_schedule(samples, BATCH_SIZE, per_decade=3, start=min(start, samples))


def _write_csv(runs, path):
    keys = ("samples", "train_log_px", "train_mc_stderr", "test_log_px", "test_mc_stderr",
            "train_acceptance", "test_acceptance", "train_time", "seconds")
    rows = [[run["spec"]["n_train"], run["spec"]["algorithm"], run["spec"]["lr"]] +
            [round(r[k], 4) if isinstance(r[k], float) else r[k] for k in keys]
            for run in runs for r in run["marginal"]]
    atomicfile.write_csv(path, [("n_train", "algorithm", "lr") + keys, *rows])


def reproduce_fig3(out="runs/fig3", samples=FIG3_SAMPLES, train_sizes=TRAIN_SIZES,
                   algorithms=FIG3_ALGORITHMS, mcem_samples=None, lr=0.02, n_latent=3,
                   n_hidden=100, settings=MarginalSettings(), seed=0, start=10_000, quiet=False,
                   stream=None):
    """Train (or resume) every run of Fig. 3 and write the CSV, JSON and PNG.

    Parameters
    ----------
    out : path, runs go in ``out/mnist/N<n_train>/<algorithm>/``
    samples : int, training samples per run
    train_sizes : training-set sizes; the first ``n`` MNIST training images are used
    algorithms : subset of ``("aevb", "wakesleep", "mcem")``
    mcem_samples : int, optional cap on MCEM's budget for the sets larger than 1000 images
    lr : Adagrad step size, the same for all runs
    n_latent, n_hidden : the model (paper: 3 and 100)
    settings : MarginalSettings, the App. D estimate at every point
    seed : seeds the initialization (the same for all algorithms), minibatches and noise
    start : the first evaluation point; then three per decade up to the budget
    quiet : bool, no progress lines
    stream : file for progress lines, default ``sys.stderr``

    Returns
    -------
    dict, the content of ``fig3_mnist.json``
    """
    for algo in algorithms:
        if algo not in FIG3_ALGORITHMS:
            raise ValueError(f"unknown algorithm {algo!r}; choose from {', '.join(FIG3_ALGORITHMS)}")
    stream = sys.stderr if stream is None else stream
    samples = round_to_batches(samples, BATCH_SIZE)
    data = load_data("mnist")
    if max(train_sizes) > len(data.X_train):
        raise ValueError(f"MNIST has {len(data.X_train)} training images, asked for {max(train_sizes)}")
    runs = []
    for n_train in train_sizes:
        for algo in algorithms:
            budget = samples
            if algo == "mcem" and mcem_samples is not None and n_train > 1000:
                budget = round_to_batches(min(mcem_samples, samples), BATCH_SIZE)
            spec = fig3_spec(int(n_train), algo, float(lr), n_latent, n_hidden, seed)
            run = train_fig3_run(spec, out, _points(budget, start), data.X_train[:n_train],
                                 data.X_test, settings, quiet, stream)
            runs.append({**run, "budget": budget, "cut_short": budget < samples})
    result = {
        "experiment": "fig3", "dataset": "mnist", "samples": samples,
        "settings": {"n_latent": n_latent, "n_hidden": n_hidden, "train_sizes": list(train_sizes),
                     "algorithms": list(algorithms), "mcem_samples": mcem_samples,
                     "batch_size": BATCH_SIZE, "optimizer": "adagrad", "lr": lr, "seed": seed,
                     "weight_prior": "N(0, I) on every parameter, scaled 1/N", "init_std": 0.01,
                     "marginal": settings._asdict(),
                     "data": "MNIST, first n_train training images; dynamic binarization for "
                             "training, fixed (seed 123) for the estimates"},
        "runs": runs,
        "elapsed": sum(r["elapsed"] for r in runs),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomicfile.write_json(out / "fig3_mnist.json", result)
    _write_csv(runs, out / "fig3_mnist.csv")
    plot_fig3(runs, out / "fig3_mnist.png")
    return result


def format_fig3(result):
    """The last estimate of every run of :func:`reproduce_fig3`, as printable lines."""
    lines = [f"Fig. 3, MNIST ({result['settings']['n_latent']} latents, "
             f"{result['settings']['n_hidden']} hidden units): estimated log p(x) per datapoint "
             f"(App. D), time in all {format_seconds(result['elapsed'])}"]
    for run in result["runs"]:
        spec, last = run["spec"], (run["marginal"] or [None])[-1]
        if last is None:
            continue
        cut = " (budget cut short)" if run["cut_short"] else ""
        lines.append(f"N={spec['n_train']:>6} {spec['algorithm']:>9}: {last['samples']:>11,} samples, "
                     f"train {last['train_log_px']:8.2f}, test {last['test_log_px']:8.2f}; "
                     f"{format_seconds(run['elapsed'])}{cut}")
    return "\n".join(lines)
