"""Compare the bound of VAEs with location-scale latent families on MNIST at one budget (Sec. 2.4).

Trains, on the same data, architecture, optimizer, seed and number of training samples:

* ``gaussian-B``: :class:`minivae.VAE`, estimator B (the paper's model), as the reference;
* for every requested family, ``minivae.VAE(..., family=name)`` with estimator A (Monte Carlo KL).

Both are trained by :class:`minivae.Trainer`, which draws the noise through ``model.draw_eps``.

Each run reports the Trainer's history, and at the end the bound per datapoint on the whole
(fixed-binarized) test set with its standard error, and the training wall time. Every bound is a
lower bound on its *own* model's log-likelihood, so the comparison says which latent family
gives the better model-plus-bound at this budget.

An experiment-layer module (it imports :mod:`minivae.training.trainer`); ``python -m
minivae.experiments.reparam_compare --help`` for the command line. Run it on one BLAS thread
(``OPENBLAS_NUM_THREADS=1``) to reproduce the wall times in ``docs/results.md``.
"""
import argparse
import os
import time

import numpy as np

from ..datasets import binarize_fixed, load_mnist
from ..latent import LATENT_FAMILIES
from ..model import VAE
from ..optim import Adagrad
from ..training import atomicfile
from ..training.evaluation import bound_per_datapoint
from ..training.trainer import Trainer
from .plotting import figure_path, plot_bounds

__all__ = ["run_one", "compare", "format_table", "plot_runs", "main"]


def run_one(label, model, X_train, X_test, samples, estimator, lr=0.02, batch_size=100, seed=0,
            eval_every=None, eval_train_size=10_000):
    """Train ``model`` for ``samples`` training samples and evaluate it; return a JSON-ready dict.

    Returns
    -------
    dict with ``label``, ``model`` (its config), ``estimator``, ``history`` (list of dicts),
    ``test_bound`` and ``test_bound_se`` (whole test set, L = 1, fixed binarization, nats),
    ``test_bounds`` (the per-image bounds, an ndarray, left out of the JSON),
    ``train_seconds`` (the Trainer's wall time) and ``eval_seconds`` (the final evaluation)
    """
    trainer = Trainer(model, X_train, X_test, optimizer=Adagrad(lr=lr), batch_size=batch_size,
                      estimator=estimator, seed=seed, eval_train_size=eval_train_size)
    trainer.run(samples, eval_every=eval_every)
    start = time.perf_counter()
    bounds = bound_per_datapoint(model, binarize_fixed(X_test), L=1, estimator=estimator,
                                 rng=np.random.default_rng([seed, 3]))
    return {"label": label, "model": model.config(), "estimator": estimator,
            "samples": trainer.samples, "history": trainer.history_dicts(),
            "test_bound": float(bounds.mean()),
            "test_bound_se": float(bounds.std(ddof=1) / np.sqrt(len(bounds))),
            "test_bounds": bounds,
            "train_seconds": trainer.wall_time, "eval_seconds": time.perf_counter() - start}


def compare(families=("gaussian", "laplace", "logistic"), baseline=True, n_hidden=500, n_latent=20,
            samples=300_000, lr=0.02, batch_size=100, seed=0, n_train=None, eval_every=None,
            n_test=None, unit_variance_prior=False, log=print):
    """Train the reference VAE (if ``baseline``) and one location-scale VAE per family.

    Parameters
    ----------
    families : names from :data:`minivae.latent.LATENT_FAMILIES`
    unit_variance_prior : bool
        Scale every family's prior to unit variance (the Gaussian's), a control for the families'
        different prior widths (Laplace 2, Logistic pi^2/3); labels get a ``(unit var)`` suffix.
    n_train, n_test : int, optional, use the first ``n_train`` training / ``n_test`` test images
        only (for quick runs)
    log : callable taking a string, or None

    Returns
    -------
    list of dicts, see :func:`run_one`
    """
    X_train, X_test = load_mnist("train")[0], load_mnist("test")[0]
    X_train, X_test = X_train[:n_train], X_test[:n_test]
    runs = []
    if baseline:
        runs.append(("gaussian-B (minivae.VAE)", lambda: VAE(784, n_hidden, n_latent, seed=seed), "B"))
    suffix = " (unit var)" if unit_variance_prior else ""
    for name in families:
        build = lambda name=name: _family_vae(name, n_hidden, n_latent, seed, unit_variance_prior)  # noqa: E731
        runs.append((f"{name}-A{suffix}", build, "A"))
    results = []
    for label, build, estimator in runs:
        result = run_one(label, build(), X_train, X_test, samples, estimator, lr, batch_size, seed,
                         eval_every)
        results.append(result)
        if log:
            log(f"{label}: test bound {result['test_bound']:.2f} ± {result['test_bound_se']:.2f} nats, "
                f"{result['train_seconds']:.0f} s training")
    return results


def paired_difference(result, reference):
    """Mean and standard error of the per-image difference of two runs' test bounds (same images)."""
    d = result["test_bounds"] - reference["test_bounds"]
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


def _family_vae(name, n_hidden, n_latent, seed, unit_variance_prior):
    model = VAE(784, n_hidden, n_latent, seed=seed, family=name)
    if unit_variance_prior:
        model = VAE(784, n_hidden, n_latent, seed=seed, family=name,
                    prior_scale=1.0 / np.sqrt(model.family.standard.variance))
    return model


def format_table(results):
    """A markdown table: label, estimator, samples, final train bound (10k subset), test bound ± SE,
    the paired difference to the first run, seconds."""
    lines = ["| latent family | estimator | samples | train bound | test bound (± s.e.) "
             f"| minus {results[0]['label']} (± paired s.e.) | train time (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        diff, se = paired_difference(r, results[0])
        lines.append(f"| {r['label']} | {r['estimator']} | {r['samples']:,} "
                     f"| {r['history'][-1]['train_bound']:.2f} "
                     f"| {r['test_bound']:.2f} ± {r['test_bound_se']:.2f} | {diff:+.2f} ± {se:.2f} "
                     f"| {r['train_seconds']:.0f} |")
    return "\n".join(lines)


def plot_runs(results, path):
    """Test bound against training samples for every run, to ``path`` (PNG)."""
    lines = []
    for r in results:
        rows = [h for h in r["history"] if h["samples"] > 0]
        lines.append((r["label"], [h["samples"] for h in rows], [h["test_bound"] for h in rows], "o-"))
    return plot_bounds(lines, path, "MNIST, location-scale latent families",
                       ylabel=r"test lower bound $\mathcal{L}$ per datapoint (nats)")


def _parser():
    p = argparse.ArgumentParser(prog="python -m minivae.experiments.reparam_compare",
                                description="Train the Gaussian VAE (estimator B) and location-scale VAEs "
                                            "(estimator A) on MNIST at one budget and compare their bounds.")
    p.add_argument("--families", nargs="+", default=["gaussian", "laplace", "logistic"], choices=LATENT_FAMILIES)
    p.add_argument("--no-baseline", action="store_true", help="skip minivae.VAE with estimator B")
    p.add_argument("--n-hidden", type=int, default=500)
    p.add_argument("--n-latent", type=int, default=20)
    p.add_argument("--unit-variance-prior", action="store_true",
                   help="scale each family's prior to unit variance (a control for prior width)")
    p.add_argument("--samples", type=float, default=3e5, help="training samples per run")
    p.add_argument("--lr", type=float, default=0.02, help="Adagrad step size")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=None, help="use only the first N training images")
    p.add_argument("--n-test", type=int, default=None, help="use only the first N test images")
    p.add_argument("--eval-every", type=float, default=None, help="default: a tenth of --samples")
    p.add_argument("--out", default=None, help="directory for results.json and table.md")
    p.add_argument("--figure", type=figure_path, default=None,
                   help="figure of the test bound against samples (.png, .pdf or .svg)")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    samples = int(args.samples)
    eval_every = int(args.eval_every) if args.eval_every else max(samples // 10, args.batch_size)
    start = time.perf_counter()
    results = compare(args.families, not args.no_baseline, args.n_hidden, args.n_latent, samples, args.lr,
                      args.batch_size, args.seed, args.n_train, eval_every, args.n_test,
                      args.unit_variance_prior)
    table = format_table(results)
    print(table)
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        kept = [{k: v for k, v in r.items() if k != "test_bounds"} for r in results]
        atomicfile.write_json(os.path.join(args.out, "results.json"),
                              {"argv": vars(args), "results": kept})
        atomicfile.write_text(os.path.join(args.out, "table.md"), table + "\n")
    if args.figure:
        plot_runs(results, args.figure)
    return results


if __name__ == "__main__":
    main()
