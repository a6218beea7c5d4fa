r"""The paper's Fig. 2: AEVB against wake-sleep, lower bound against training samples seen.

For every latent size $J$ and both update rules (:mod:`minivae.baselines.wakesleep`), with the same model
(MNIST: 500 tanh hidden units, Bernoulli decoder; Frey Face: 200, Gaussian decoder), the same
initialization (seed), M = 100, L = 1, Adagrad with its step size chosen from {0.01, 0.02, 0.1}
on the first samples (:mod:`~minivae.experiments.stepsize`) and the N(0, I) weight prior, train to
the budget and record the train and test bound per datapoint (estimator B) at log-spaced
numbers of training samples seen. Everything is resumable; finished runs are read, not retrained.

Outputs in ``OUT``: ``fig2_<dataset>.csv`` (one row per evaluation), ``fig2_<dataset>.json``
(settings, step-size pilots, histories, the final model's active latent units, summary, wall
times) and ``fig2_<dataset>.png`` (one panel per latent size, as the paper lays it out).
"""
import sys
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from ..datasets import binarize_fixed
from ..training import atomicfile, checkpoint
from ..training.progress import format_seconds
from .active_units import count_active, latent_activity
from .fig2_plot import plot_fig2
from .runs import BATCH_SIZE, RunSpec, load_data, train_run
from .schedule import round_to_batches
from .stepsize import STEP_SIZES, choose_step_size

__all__ = ["FIG2_ALGORITHMS", "Fig2Setting", "FIG2", "FULL_SAMPLES", "FAST_SAMPLES",
           "default_pilot_samples", "reproduce_fig2", "summarize", "format_summary"]


FIG2_ALGORITHMS = ("aevb", "wakesleep")
"""The update rules of Fig. 2: Algorithm 1 (AEVB) and wake-sleep."""


class Fig2Setting(NamedTuple):
    latents: tuple
    n_hidden: int


FIG2 = {"mnist": Fig2Setting((3, 5, 10, 20, 200), 500), "frey": Fig2Setting((2, 5, 10, 20), 200)}
"""The paper's latent sizes and hidden-layer sizes per dataset (Sec. 5)."""

FULL_SAMPLES = 10_000_000
"""Default budget per run (the paper's MNIST panels go on to 10^8)."""

FAST_SAMPLES = 100_000
"""The ``--fast`` budget per run."""


def default_pilot_samples(samples):
    """Step-size pilot length: 1% of the budget, at least 10,000 samples, at most the budget."""
    return round_to_batches(min(samples, max(10_000, samples // 100)), BATCH_SIZE)


def _within(history, samples):
    return [r for r in history if r["samples"] <= samples]


def _compare(aevb, ws, key):
    """At how many common evaluation points (samples > 0) AEVB's bound is above wake-sleep's."""
    a = {r["samples"]: r[key] for r in aevb if r["samples"] > 0}
    w = {r["samples"]: r[key] for r in ws if r["samples"] > 0}
    common = sorted(a.keys() & w.keys())
    return sum(a[s] > w[s] for s in common), len(common)


def summarize(runs):
    """Per latent size: each algorithm's last bounds, and how often AEVB is above wake-sleep.

    Parameters
    ----------
    runs : list of dicts as in ``fig2_<dataset>.json`` (``n_latent``, ``algorithm``, ``history``)

    Returns
    -------
    list of dicts, one per latent size
    """
    rows = []
    for J in sorted({r["n_latent"] for r in runs}):
        by_algo = {r["algorithm"]: r for r in runs if r["n_latent"] == J}
        row = {"n_latent": J}
        for algo, run in by_algo.items():
            last = run["history"][-1] if run["history"] else {}
            row[algo] = {"lr": run["lr"], "samples": last.get("samples"), "status": run["status"],
                         "train_bound": last.get("train_bound"), "test_bound": last.get("test_bound"),
                         "active_units": run.get("active_units")}
        if set(FIG2_ALGORITHMS) <= by_algo.keys():
            for key in ("train_bound", "test_bound"):
                above, n = _compare(by_algo["aevb"]["history"], by_algo["wakesleep"]["history"], key)
                row[f"aevb_above_wakesleep_{key.split('_')[0]}"] = f"{above}/{n}"
        rows.append(row)
    return rows


def _write_csv(runs, path):
    header = ["dataset", "n_latent", "algorithm", "lr", "samples", "train_bound", "test_bound",
              "train_seconds"]
    rows = [[run["dataset"], run["n_latent"], run["algorithm"], run["lr"], r["samples"],
             r["train_bound"], r["test_bound"], round(r["wall_time"], 3)]
            for run in runs for r in run["history"]]
    atomicfile.write_csv(path, [header, *rows])


def _active_units(spec, out, data):
    """The active latent units of a run's checkpoint, on the test set as it is evaluated."""
    ckpt = checkpoint.load(spec.directory(out))
    X = data.X_test
    if ckpt.trainer["config"]["binarization"] != "none":
        X = binarize_fixed(X)
    return count_active(latent_activity(ckpt.model, X))


def _run_one(spec, out, samples, pilot_samples, step_sizes, data, quiet, stream):
    """Choose the step size of ``spec`` and train the chosen run to ``samples``; a JSON-ready dict."""
    entry = {"dataset": spec.dataset, "n_latent": spec.n_latent, "algorithm": spec.algorithm}
    try:
        choice = choose_step_size(spec, out, pilot_samples, data, step_sizes, quiet, stream)
    except FloatingPointError as exc:
        return {**entry, "lr": None, "status": "diverged", "message": str(exc), "samples": 0,
                "train_time": 0.0, "elapsed": 0.0, "pilot_elapsed": None, "step_size_pilot": None,
                "history": []}
    chosen = replace(spec, lr=choice.chosen)
    result = train_run(chosen, out, samples, data, quiet, stream)
    losers = [train_run(replace(spec, lr=float(lr)), out, pilot_samples, data, quiet, stream)
              for lr in step_sizes if float(lr) != choice.chosen]  # finished: read from disk
    # a run trained past the budget in the same directory: its checkpoint is another model
    at_budget = result.status == "done" and result.samples == samples
    return {**entry, "lr": choice.chosen, "status": result.status, "message": result.message,
            "samples": result.samples, "train_time": result.train_time, "elapsed": result.elapsed,
            "pilot_elapsed": sum(r.elapsed for r in losers),
            "step_size_pilot": choice.to_dict(), "history": _within(result.history, samples),
            "active_units": _active_units(chosen, out, data) if at_budget else None}


def reproduce_fig2(dataset, out="runs/fig2", samples=FULL_SAMPLES, latents=None, n_hidden=None,
                   algorithms=FIG2_ALGORITHMS, step_sizes=STEP_SIZES, pilot_samples=None, seed=0,
                   eval_train_size=10_000, quiet=False, stream=None):
    """Train (or resume) every run of Fig. 2 for ``dataset`` and write the CSV, JSON and PNG.

    Parameters
    ----------
    dataset : ``"mnist"`` or ``"frey"``
    out : path, the output directory (runs go in ``out/<dataset>/J<J>/<algorithm>/lr<lr>/``)
    samples : int, training samples per run
    latents : latent sizes, default the paper's (:data:`FIG2`)
    n_hidden : hidden units, default the paper's
    algorithms : subset of ``("aevb", "wakesleep")``
    step_sizes : Adagrad step-size candidates
    pilot_samples : samples per step-size candidate, default :func:`default_pilot_samples`
    seed : int, seeds the initialization (shared by both algorithms), minibatches and noise
    eval_train_size : training images in the train bound (a fixed subset)
    quiet : bool, no progress lines
    stream : file for progress lines, default ``sys.stderr``

    Returns
    -------
    dict, the content of ``fig2_<dataset>.json``
    """
    stream = sys.stderr if stream is None else stream
    setting = FIG2[_check_dataset(dataset)]
    latents = tuple(setting.latents if latents is None else latents)
    n_hidden = setting.n_hidden if n_hidden is None else int(n_hidden)
    samples = round_to_batches(samples, BATCH_SIZE)
    pilot_samples = default_pilot_samples(samples) if pilot_samples is None else \
        round_to_batches(min(pilot_samples, samples), BATCH_SIZE)
    for algo in algorithms:
        if algo not in FIG2_ALGORITHMS:
            raise ValueError(f"unknown algorithm {algo!r}; choose from "
                             f"{', '.join(FIG2_ALGORITHMS)}")
    out = Path(out)
    data = load_data(dataset)
    runs = []
    for J in latents:
        for algo in algorithms:
            spec = RunSpec(dataset, int(J), n_hidden, algo, float(step_sizes[0]), seed,
                           eval_train_size)
            runs.append(_run_one(spec, out, samples, pilot_samples, step_sizes, data, quiet, stream))
    result = {
        "experiment": "fig2", "dataset": dataset, "samples": samples,
        "settings": {"n_hidden": n_hidden, "latents": list(latents), "algorithms": list(algorithms),
                     "batch_size": BATCH_SIZE, "L": 1, "estimator": "B", "optimizer": "adagrad",
                     "step_sizes": list(step_sizes), "pilot_samples": pilot_samples,
                     "weight_prior": "N(0, I) on every parameter, scaled 1/N", "init_std": 0.01,
                     "seed": seed, "eval_train_size": eval_train_size,
                     "data": "MNIST: dynamic binarization for training, fixed (seed 123) for "
                             "evaluation" if dataset == "mnist" else
                             "Frey Face: pixel/256, fixed 200-image test split"},
        "runs": runs,
        "summary": summarize(runs),
        "elapsed_chosen_runs": sum(r["elapsed"] for r in runs),
        "elapsed_all_runs": sum(r["elapsed"] + (r["pilot_elapsed"] or 0.0) for r in runs),
    }
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"fig2_{dataset}"
    atomicfile.write_json(f"{stem}.json", result)
    _write_csv(runs, f"{stem}.csv")
    plot_fig2(runs, dataset, f"{stem}.png", samples)
    return result


def _check_dataset(dataset):
    if dataset not in FIG2:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(FIG2)}")
    return dataset


def format_summary(result):
    """The summary of :func:`reproduce_fig2` as printable lines."""
    lines = [f"Fig. 2, {result['dataset']}: {result['samples']:,} training samples per run "
             f"(time spent training and evaluating: {format_seconds(result['elapsed_chosen_runs'])} "
             f"in the chosen runs, {format_seconds(result['elapsed_all_runs'])} with the other "
             f"step sizes' pilots)"]
    for row in result["summary"]:
        parts = [f"J={row['n_latent']:>3}"]
        for algo in FIG2_ALGORITHMS:
            if algo in row:
                r = row[algo]
                bounds = ("diverged" if r["train_bound"] is None else
                          f"train {r['train_bound']:8.2f} test {r['test_bound']:8.2f}")
                if r["active_units"] is not None:
                    bounds += f", {r['active_units']}/{row['n_latent']} active"
                parts.append(f"{algo} (lr {r['lr']}) {bounds}")
        if "aevb_above_wakesleep_train" in row:
            parts.append(f"AEVB above WS at {row['aevb_above_wakesleep_train']} (train), "
                         f"{row['aevb_above_wakesleep_test']} (test) points")
        lines.append(" | ".join(parts))
    return "\n".join(lines)
