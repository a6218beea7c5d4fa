r"""One run of Fig. 3: train one update rule on one training-set size, estimating $\log p(x)$ as it goes.

A run trains the paper's Fig. 3 model (MNIST, 3 latents, 100 tanh hidden units, Bernoulli
decoder, init $\mathcal N(0, 0.01^2)$, M = 100, Adagrad, the $\mathcal N(0, I)$ weight prior
scaled by 1/N) with AEVB, wake-sleep or MCEM on the first ``n_train`` training images. At every
point of its schedule it estimates the marginal likelihood of the generative model with the
App. D estimator (:func:`minivae.marginal.appendix_d.appendix_d_log_px`) on the first
``eval_size`` training and test images (fixed seeded binarization), and saves the run
(checkpoint, and for MCEM its chains) with ``marginal.json``, so that an interrupted run
continues where it stopped and a finished run is read, not retrained.

Layout: ``ROOT/mnist/N<n_train>/<algorithm>/``.
"""
import sys
import time
from dataclasses import asdict
from typing import NamedTuple

import numpy as np

from ..datasets import binarize_fixed
from ..marginal.appendix_d import appendix_d_log_px
from ..training import atomicfile, checkpoint
from ..training.progress import ProgressPrinter, format_seconds
from ..training.runlock import lock_run
from .spec import RunSpec, open_trainer, read_json, save_run

__all__ = ["FIG3_ALGORITHMS", "fig3_spec", "MarginalSettings", "evaluate_marginal",
           "train_fig3_run"]

FIG3_ALGORITHMS = ("aevb", "wakesleep", "mcem")
"""The three learning algorithms of Fig. 3."""


def fig3_spec(n_train, algorithm, lr=0.02, n_latent=3, n_hidden=100, seed=0):
    """The :class:`~minivae.experiments.spec.RunSpec` of a Fig. 3 run: MNIST's first ``n_train``
    training images, the train estimate on the first 1000 of them."""
    if algorithm not in FIG3_ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of "
                         f"{', '.join(FIG3_ALGORITHMS)}")
    return RunSpec("mnist", n_latent, n_hidden, algorithm, lr, seed,
                   eval_train_size=min(1000, n_train), n_train=n_train)


class MarginalSettings(NamedTuple):
    """The App. D estimate of each evaluation (App. E: 1000 datapoints, 50 samples, 4 leapfrog steps)."""
    eval_size: int = 1000
    n_samples: int = 50
    n_leapfrog: int = 4
    density: str = "kde"


def _estimate(model, X, settings, rng):
    return appendix_d_log_px(model, X, n_samples=settings.n_samples, n_leapfrog=settings.n_leapfrog,
                             density=settings.density, rng=rng).summary()


def evaluate_marginal(model, X_train_eval, X_test_eval, settings, seed, samples):
    r"""The mean App. D estimate of $\log p(x)$ over the evaluation rows of train and test.

    See :meth:`~minivae.marginal.appendix_d.MarginalEstimate.summary` for ``mc_stderr``.

    Returns
    -------
    dict, JSON-ready: ``samples``, ``train_log_px``, ``test_log_px``, their ``*_mc_stderr`` and
    ``*_acceptance``, and ``seconds`` spent estimating
    """
    start = time.perf_counter()
    record = {"samples": int(samples)}
    for split, X, stream in (("train", X_train_eval, 1), ("test", X_test_eval, 2)):
        est = _estimate(model, X, settings, np.random.default_rng([seed, stream, int(samples)]))
        record.update({f"{split}_{key}": value for key, value in est.items()})
    record["seconds"] = time.perf_counter() - start
    return record


def _open_trainer(spec, directory, X_train, X_test, callbacks):
    # MCEM's own evaluation is an App. D estimate too; the figure uses evaluate_marginal's, so
    # MCEM's history is kept to a cheap 10-row estimate rather than computed twice.
    settings = {"marginal_eval_size": 10} if spec.algorithm == "mcem" else {}
    return open_trainer(spec, directory, X_train, X_test, callbacks, **settings)


def _save(trainer, spec, directory, marginal, elapsed):
    save_run(trainer, spec, directory, "fig3", elapsed)
    atomicfile.write_json(directory / "marginal.json", marginal)


def train_fig3_run(spec, root, points, X_train, X_test, settings=MarginalSettings(), quiet=False,
                   stream=None):
    """Train (or resume, or read) the run ``spec`` through the sample counts ``points``.

    Parameters
    ----------
    spec : RunSpec, see :func:`fig3_spec`
    root : path, the experiment's output directory
    points : increasing sample counts (multiples of M) at which to estimate $\\log p(x)$
    X_train : ndarray (n_train, 784), grey values of the training images used
    X_test : ndarray (N_test, 784), grey values of the test images
    settings : MarginalSettings
    quiet : bool, no progress lines
    stream : file for progress lines, default ``sys.stderr``

    Returns
    -------
    dict: ``spec``, ``samples``, ``train_time`` (seconds in training steps), ``elapsed`` (seconds
    in all, with estimation and saving, over all resumes) and ``marginal`` (one record per point,
    see :func:`evaluate_marginal`)
    """
    stream = sys.stderr if stream is None else stream
    say = (lambda text: None) if quiet else (lambda text: print(text, file=stream, flush=True))
    directory = spec.directory(root)
    with lock_run(directory):
        return _fig3_locked(spec, directory, points, X_train, X_test, settings, quiet, stream, say)


def _fig3_locked(spec, directory, points, X_train, X_test, settings, quiet, stream, say):
    """:func:`train_fig3_run` under the run directory's lock."""
    marginal = read_json(directory / "marginal.json") or []
    done = marginal[-1]["samples"] if marginal else 0
    todo = [p for p in points if p > done]
    meta = checkpoint.read_meta(directory, missing_ok=True)
    before = meta["extra"].get("elapsed", 0.0) if meta else 0.0
    if not todo:
        return _result(spec, marginal, meta, before)
    start = time.perf_counter()
    callbacks = [] if quiet else [ProgressPrinter(points[-1], interval=10.0, stream=stream)]
    trainer = _open_trainer(spec, directory, X_train, X_test, callbacks)
    X_train_eval = binarize_fixed(X_train)[:settings.eval_size]
    X_test_eval = binarize_fixed(X_test)[:settings.eval_size]
    say(f"== Fig. 3 {spec.label()}: {'resuming at ' + format(done, ',') if done else 'training'} "
        f"-> {todo[-1]:,} samples")
    for point in todo:
        trainer.run(point, eval_every=point)
        record = evaluate_marginal(trainer.model, X_train_eval, X_test_eval, settings, spec.seed,
                                   trainer.samples)
        record["train_time"] = trainer.wall_time
        marginal.append(record)
        say(f"   {spec.label()} at {trainer.samples:,} samples: log p(x) train "
            f"{record['train_log_px']:.2f}, test {record['test_log_px']:.2f} "
            f"(HMC acceptance {record['train_acceptance']:.2f}; estimated in "
            f"{format_seconds(record['seconds'])})")
        _save(trainer, spec, directory, marginal, before + time.perf_counter() - start)
    return _result(spec, marginal, checkpoint.read_meta(directory), before)


def _result(spec, marginal, meta, elapsed_before):
    return {"spec": asdict(spec), "samples": marginal[-1]["samples"] if marginal else 0,
            "train_time": meta["trainer"]["wall_time"] if meta else 0.0,
            "elapsed": meta["extra"].get("elapsed", elapsed_before) if meta else 0.0,
            "marginal": marginal}
