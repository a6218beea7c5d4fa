r"""Measure gradient variance: the point of Sec. 2.3-2.4, made visible.

Two comparisons, each across independent noise draws with everything else held fixed:

1. **Estimator A vs B** (eqs. 6 and 7) for the Gaussian VAE on one MNIST minibatch: the
   per-entry variance of $\nabla_{\theta,\phi}$ of the loss, summed over each parameter tensor
   (the trace of that tensor's gradient covariance), for a model at initialization and after
   some training. The decoder's gradient depends on the noise only through $z$, the same in A
   and B, so its variance is identical for both; B's closed-form KL removes noise from the
   encoder's gradient only.
2. **Pathwise vs score function** for single families: per-draw estimates of
   $\partial\,\mathbb E[f(z)]/\partial\theta$ for a quadratic $f(z) = z^2$ and a bounded
   $f(z) = 1/(1+z^2)$, their means with standard errors and their variances.

An experiment-layer module; ``python -m minivae.experiments.reparam_variance --help``.
"""
import argparse
import os
import time

import numpy as np

from ..datasets import binarize_fixed, load_mnist
from ..model import VAE
from ..optim import Adagrad
from ..reparam import (Erlang, Exponential, Gaussian, Gumbel, Laplace, Logistic, LogNormal, Pareto,
                       Weibull)
from ..reparam.gradients import pathwise_samples, score_function_samples
from ..training import atomicfile
from ..training.trainer import Trainer
from .plotting import figure_path

__all__ = ["estimator_gradient_variance", "family_gradient_variance", "TEST_FUNCTIONS", "FAMILY_CASES",
           "format_estimator_table", "format_family_table", "plot_variance", "main"]

TEST_FUNCTIONS = {
    "z^2": (lambda z: z * z, lambda z: 2.0 * z),
    "1/(1+z^2)": (lambda z: 1.0 / (1.0 + z * z), lambda z: -2.0 * z / (1.0 + z * z) ** 2),
}
"""name -> (f, f')."""

FAMILY_CASES = [
    (Gaussian(), {"loc": 0.5, "scale": 1.0}),
    (Laplace(), {"loc": 0.5, "scale": 1.0}),
    (Logistic(), {"loc": 0.5, "scale": 1.0}),
    (Gumbel(), {"loc": 0.5, "scale": 1.0}),
    (Exponential(), {"rate": 1.0}),
    (Weibull(), {"scale": 1.0, "shape": 2.0}),
    (LogNormal(), {"mu": 0.0, "sigma": 0.5}),
    (Erlang(k=3), {"rate": 1.0}),
    (Pareto(), {"scale": 1.0, "alpha": 5.0}),
]
"""(family, params) pairs of the pathwise-vs-score table; the Pareto's support moves with its scale."""


def _group(name):
    return name.split(".")[0]


def estimator_gradient_variance(model, X, n_draws, rng, L=1):
    """Variance of the loss gradient across noise draws, for estimators A and B.

    Parameters
    ----------
    model : VAE (Gaussian latent)
    X : ndarray (M, D), a fixed minibatch
    n_draws : int, independent draws of ``eps (L, M, J)``; the same draws serve A and B
    rng : numpy.random.Generator

    Returns
    -------
    dict tensor name -> {"A": trace of the covariance, "B": ..., "norm2": squared norm of the
    mean gradient (B)}, plus ``"enc"`` and ``"dec"`` totals over each model half
    """
    grads = {"A": [], "B": []}
    for _ in range(n_draws):
        eps = rng.standard_normal((L, X.shape[0], model.n_latent))
        for est in grads:
            grads[est].append(model.loss_and_grads(X, eps, est)[1])
    out = {}
    for name in model.params:
        stacked = {est: np.stack([g[name] for g in grads[est]]) for est in grads}
        out[name] = {est: float(stacked[est].var(axis=0, ddof=1).sum()) for est in grads}
        out[name]["norm2"] = float(np.sum(stacked["B"].mean(axis=0) ** 2))
    for half in ("enc", "dec"):
        names = [n for n in model.params if _group(n) == half]
        out[half] = {key: sum(out[n][key] for n in names) for key in ("A", "B", "norm2")}
    return out


def family_gradient_variance(cases=FAMILY_CASES, functions=TEST_FUNCTIONS, n=100_000, rng=None):
    """Pathwise and score-function estimates of d E[f(z)] / d param, with means, standard errors, variances.

    Returns
    -------
    list of dicts with ``family, param, f, pathwise_mean, pathwise_se, score_mean, score_se,
    pathwise_var, score_var``
    """
    rng = np.random.default_rng(0) if rng is None else rng
    rows = []
    for family, params in cases:
        eps = family.draw_eps(rng, (n,))
        for fname, (f, df) in functions.items():
            pw = pathwise_samples(family, params, df, eps)
            sf = score_function_samples(family, params, f, eps)
            for p in family.param_names:
                row = {"family": family.name, "param": p, "f": fname}
                for label, g in (("pathwise", pw[p]), ("score", sf[p])):
                    row[f"{label}_mean"], row[f"{label}_var"] = float(g.mean()), float(g.var(ddof=1))
                    row[f"{label}_se"] = float(np.sqrt(row[f"{label}_var"] / n))
                rows.append(row)
    return rows


def format_estimator_table(results):
    """Markdown: per model half and stage, tr Cov for A and B, their ratio and the relative variance of B."""
    lines = ["| model | parameters | tr Cov, estimator A | tr Cov, estimator B | A / B "
             "| tr Cov(B) / ‖mean‖² |", "|---|---|---|---|---|---|"]
    for stage, table in results.items():
        for key in ("enc", "dec", "enc.W_mu", "enc.W_logvar", "enc.W1"):
            r = table[key]
            lines.append(f"| {stage} | {key} | {r['A']:.3e} | {r['B']:.3e} | {r['A'] / r['B']:.2f} "
                         f"| {r['B'] / r['norm2']:.3g} |")
    return "\n".join(lines)


def format_family_table(rows):
    """Markdown: one row per (family, parameter, f)."""
    lines = ["| family | param | f | pathwise mean ± s.e. | score-function mean ± s.e. | var pathwise "
             "| var score | score / pathwise |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['family']} | {r['param']} | {r['f']} "
                     f"| {r['pathwise_mean']:.4f} ± {r['pathwise_se']:.4f} "
                     f"| {r['score_mean']:.4f} ± {r['score_se']:.4f} | {r['pathwise_var']:.3g} "
                     f"| {r['score_var']:.3g} | {r['score_var'] / r['pathwise_var']:.3g} |")
    return "\n".join(lines)


def plot_variance(estimator_results, family_rows, path):
    """Three panels: pathwise vs score variance for each f, and estimator A vs B per model half."""
    import matplotlib.pyplot as plt   # the Agg backend: set by .plotting

    fnames = list(dict.fromkeys(r["f"] for r in family_rows))
    fig, axes = plt.subplots(1, len(fnames) + 1, figsize=(5 * (len(fnames) + 1), 4.2),
                             gridspec_kw={"width_ratios": [3] * len(fnames) + [2]})
    for ax, fname in zip(axes, fnames):
        rows = [r for r in family_rows if r["f"] == fname]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["pathwise_var"] for r in rows], 0.4, label="pathwise (reparameterized)")
        ax.bar(x + 0.2, [r["score_var"] for r in rows], 0.4, label="score function (REINFORCE)")
        ax.set_xticks(x, [f"{r['family']}\n{r['param']}" for r in rows], rotation=90, fontsize=7)
        ax.set_yscale("log")
        ax.set_title(f"variance of one-sample d E[f(z)]/dθ, f = {fname}", fontsize=9)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[-1]
    labels, a_vals, b_vals = [], [], []
    for stage, table in estimator_results.items():
        for half in ("enc", "dec"):
            labels.append(f"{half}\n{stage}")
            a_vals.append(table[half]["A"])
            b_vals.append(table[half]["B"])
    x = np.arange(len(labels))
    ax.bar(x - 0.2, a_vals, 0.4, label="estimator A (eq. 6)")
    ax.bar(x + 0.2, b_vals, 0.4, label="estimator B (eq. 7)")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_yscale("log")
    ax.set_title("Gaussian VAE, MNIST batch: tr Cov of the gradient", fontsize=9)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomicfile.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def _trained_models(n_hidden, n_latent, samples, seed):
    """The VAE at initialization (``"init"``) and after ``samples`` training samples (``"trained"``),
    trained with the paper's settings (estimator B, Adagrad 0.02, M = 100)."""
    X_train = load_mnist("train")[0]
    initial = VAE(784, n_hidden, n_latent, seed=seed)
    trained = VAE(784, n_hidden, n_latent, seed=seed)
    trainer = Trainer(trained, X_train, optimizer=Adagrad(lr=0.02), seed=seed, eval_train_size=1000)
    trainer.run(samples, eval_every=samples)
    return {"init": initial, "trained": trained}


def _parser():
    p = argparse.ArgumentParser(prog="python -m minivae.experiments.reparam_variance",
                                description="Gradient variance: estimator A vs B (Gaussian VAE on MNIST) "
                                            "and pathwise vs score-function estimators for single families.")
    p.add_argument("--n-hidden", type=int, default=500)
    p.add_argument("--n-latent", type=int, default=20)
    p.add_argument("--samples", type=float, default=1e5,
                   help="training samples before the second measurement")
    p.add_argument("--draws", type=int, default=500, help="noise draws for the A-vs-B variance")
    p.add_argument("--batch-size", type=int, default=100, help="size of the fixed minibatch")
    p.add_argument("--family-draws", type=float, default=1e5, help="draws per family for pathwise vs score")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="directory for results.json and tables.md")
    p.add_argument("--figure", type=figure_path, default=None,
                   help="figure with the three panels (.png, .pdf or .svg)")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    start = time.perf_counter()
    X = binarize_fixed(load_mnist("test")[0][:args.batch_size])
    models = _trained_models(args.n_hidden, args.n_latent, int(args.samples), args.seed)
    estimator_results = {
        stage: estimator_gradient_variance(model, X, args.draws, np.random.default_rng([args.seed, 7]))
        for stage, model in models.items()}
    family_rows = family_gradient_variance(n=int(args.family_draws),
                                           rng=np.random.default_rng([args.seed, 8]))
    tables = format_estimator_table(estimator_results) + "\n\n" + format_family_table(family_rows)
    print(tables)
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        atomicfile.write_json(os.path.join(args.out, "results.json"),
                              {"argv": vars(args), "estimators": estimator_results,
                               "families": family_rows})
        atomicfile.write_text(os.path.join(args.out, "tables.md"), tables + "\n")
    if args.figure:
        plot_variance(estimator_results, family_rows, args.figure)
    return estimator_results, family_rows


if __name__ == "__main__":
    main()
