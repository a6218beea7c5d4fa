r"""Full VB (App. F) against the MAP setup (Algorithm 1 with the $\mathcal N(0, I)$ weight prior) on
small training sets: ``minivae reproduce fullvb``.

Each dataset is trained twice from the same initial parameters, the same minibatch order and the
same step sizes (Adagrad, the paper's 0.02): once with :class:`minivae.Trainer` (``map``: a point
estimate of $\theta$, the weight prior scaled by $1/N$) and once with
:class:`minivae.fullvb.FullVBTrainer` (``fullvb``: $q_\phi(\theta)$, the minibatch form; the
encoder keeps the weight prior in both). Optionally Algorithm 2 (``algorithm2``) too. Then on the
test set:

* the test bound: for ``map`` the estimator-B bound at $\theta$; for full VB the predictive bound
  $\mathbb E_{q(\theta)}[\tilde{\mathcal L}(\theta, \phi; x)]$ (:func:`~minivae.fullvb.predictive_bound`)
  and the bound at the posterior mean $\mu_\theta$;
* $\log p(x)$ by importance sampling: $\log p_\theta(x)$ with ``k`` samples for ``map``
  (:func:`~minivae.marginal.importance.importance_log_px`), the predictive
  $\log \mathbb E_{q(\theta)}[p_\theta(x)]$ with ``n_theta`` draws of $\theta$ times ``k / n_theta``
  samples of $z$ for full VB (:func:`~minivae.fullvb.predictive_log_px`; the same total of ``k``).

Writes ``OUT/fullvb_<dataset>.json`` and each run's checkpoint under ``OUT/<dataset>/<run>/``.
"""
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..fullvb import FullVBTrainer, predictive_bound, predictive_log_px
from ..marginal.importance import importance_log_px
from ..model import VAE
from ..optim import Adagrad
from ..training import atomicfile, checkpoint
from ..training.evaluation import mean_bound
from ..training.trainer import Trainer
from .presets import get_preset

__all__ = ["FullVBSettings", "FAST", "RUNS", "reproduce_fullvb", "format_fullvb"]

RUNS = ("map", "fullvb", "algorithm2")


@dataclass(frozen=True)
class FullVBSettings:
    """One comparison's settings (defaults: a few minutes per run on a loaded 2-core machine)."""
    dataset: str = "frey"
    n_train: int | None = None   # the first rows of the training split (None: all)
    n_test: int = 200            # the first rows of the test split
    samples: int = 300_000       # training samples per run
    n_hidden: int = 200
    n_latent: int = 5
    lr: float = 0.02
    batch_size: int = 100
    init_logvar: float = -10.0
    runs: tuple = ("map", "fullvb")
    k: int = 1000                # importance samples per test row (full VB: n_theta * k/n_theta)
    n_theta: int = 20            # draws of theta for full VB's test scores
    seed: int = 0
    engine: str = "reference"    # the fused one steps the optimizer with kernels (module docstring)


FAST = FullVBSettings(n_train=100, n_test=20, samples=2_000, n_hidden=16, n_latent=2, k=20,
                      n_theta=4)
"""A tiny comparison for tests."""


def _data(settings):
    preset = get_preset(settings.dataset)
    X_train = preset.load("train")[:settings.n_train]
    X_test = preset.load("test")[:settings.n_test]
    return preset, X_train, X_test


def _trainer(run, settings, preset, X_train, X_test):
    model = VAE(X_train.shape[1], settings.n_hidden, settings.n_latent, decoder=preset.decoder,
                seed=settings.seed)
    common = dict(optimizer=Adagrad(lr=settings.lr), batch_size=settings.batch_size,
                  seed=settings.seed, engine=settings.engine, eval_train_size=len(X_train))
    if run == "map":
        return Trainer(model, X_train, X_test, **common)
    return FullVBTrainer(model, X_train, X_test, form="minibatch" if run == "fullvb" else "algorithm2",
                         init_logvar=settings.init_logvar, **common)


def _scores(trainer, settings):
    """The test scores of a finished run (module docstring), each from its own seeded generator."""
    model, X = trainer.model, trainer._eval_test
    rng = lambda stream: np.random.default_rng([settings.seed, 10 + stream])  # noqa: E731
    if not isinstance(trainer, FullVBTrainer):
        return {"test_bound": mean_bound(model, X, rng=rng(0), engine="reference"),
                "test_log_px": float(np.mean(importance_log_px(model, X, k=settings.k, rng=rng(1))))}
    k_each = max(1, settings.k // settings.n_theta)
    lv = trainer.theta_logvar
    sigma = np.concatenate([np.exp(0.5 * a).ravel() for a in lv.values()])
    return {"test_bound": float(np.mean(predictive_bound(model, lv, X, n_theta=settings.n_theta,
                                                         rng=rng(0)))),
            "test_bound_at_mean": mean_bound(model, X, rng=rng(2), engine="reference"),
            "test_log_px": float(np.mean(predictive_log_px(model, lv, X, n_theta=settings.n_theta,
                                                           k=k_each, rng=rng(1)))),
            "test_log_px_at_mean": float(np.mean(importance_log_px(model, X, k=settings.k,
                                                                   rng=rng(3)))),
            "theta_kl_per_datapoint": trainer.theta_kl_per_datapoint(),
            "sigma_theta_median": float(np.median(sigma)),
            "sigma_theta_above_half": float(np.mean(sigma > 0.5))}


def reproduce_fullvb(out, settings=FullVBSettings(), quiet=False):
    """Train and score every run of ``settings.runs``; write ``OUT/fullvb_<dataset>.json``.

    Returns
    -------
    dict: ``settings``, ``n_train``, and ``runs``: name -> the last record's train and test bound
    (the trainer's own evaluation), the test scores of :func:`_scores`, and the seconds spent
    training and scoring
    """
    unknown = sorted(set(settings.runs) - set(RUNS))
    if unknown:
        raise ValueError(f"unknown runs {unknown}; choose from {', '.join(RUNS)}")
    preset, X_train, X_test = _data(settings)
    result = {"settings": asdict(settings), "n_train": len(X_train), "runs": {}}
    for run in settings.runs:
        start = time.perf_counter()
        trainer = _trainer(run, settings, preset, X_train, X_test)
        trainer.run(settings.samples, eval_every=max(settings.samples // 5, settings.batch_size))
        trained = time.perf_counter() - start
        last = trainer.history[-1]
        scores = _scores(trainer, settings)
        entry = {"train_bound": last.train_bound, "trainer_test_bound": last.test_bound,
                 **scores, "train_seconds": trained,
                 "score_seconds": time.perf_counter() - start - trained}
        result["runs"][run] = entry
        checkpoint.save(Path(out) / settings.dataset / run, trainer.model, trainer,
                        extra={"dataset": settings.dataset})
        if not quiet:
            print(f"{settings.dataset} {run}: " + ", ".join(
                f"{k} {v:.4g}" for k, v in entry.items() if v is not None), flush=True)
    path = Path(out) / f"fullvb_{settings.dataset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomicfile.write_json(path, result)
    return result


def format_fullvb(result):
    """A text table of :func:`reproduce_fullvb`'s result, nats per test datapoint."""
    s = result["settings"]
    lines = [f"{s['dataset']}, {result['n_train']} training rows, {s['samples']:,} samples, "
             f"{s['n_hidden']} hidden, {s['n_latent']} latents; test rows {s['n_test']}",
             f"{'run':<11} {'train bound':>11} {'test bound':>10} {'test log p(x)':>13} "
             f"{'at mu_theta: bound':>18} {'log p(x)':>9} {'train s':>8}"]
    for name, r in result["runs"].items():
        mean_bound_ = r.get("test_bound_at_mean")
        mean_lp = r.get("test_log_px_at_mean")
        at_mean = (f"{mean_bound_:>18.2f} {mean_lp:>9.2f}" if mean_bound_ is not None
                   else f"{'':>18} {'':>9}")
        lines.append(f"{name:<11} {r['train_bound']:>11.2f} {r['test_bound']:>10.2f} "
                     f"{r['test_log_px']:>13.2f} {at_mean} {r['train_seconds']:>8.1f}")
    return "\n".join(lines)


def fast_settings(dataset):
    """:data:`FAST` for ``dataset``."""
    return replace(FAST, dataset=dataset)
