r"""The "bound per datapoint" reduction: the mean SGVB estimate over a whole dataset.

The paper's Fig. 2 reports $\frac1N \sum_i \tilde{\mathcal L}(\theta, \phi; x^{(i)})$, the
estimated lower bound averaged over the training or test set, in nats. Evaluation draws its
noise from its own generator so that it never disturbs the training noise stream.
"""
import numpy as np

from ..estimators import check_estimator
from ..validation import check_positive_int
from .engines import make_engine

__all__ = ["bound_per_datapoint", "mean_bound"]


def bound_per_datapoint(model, X, L=1, estimator="B", batch_size=1000, rng=None, engine=None):
    r"""$\tilde{\mathcal L}(\theta, \phi; x^{(i)})$ for every row of ``X``, in batches.

    Parameters
    ----------
    model : VAE
    X : ndarray (N, D)
    L : int, samples per datapoint
    estimator : ``"A"`` or ``"B"``
    batch_size : int, rows per forward pass; it bounds memory, and with a seeded ``rng`` the
        noise (and so the result) is reproducible for a fixed batch size
    rng : numpy.random.Generator, default ``default_rng(0)``
    engine : ``"fused"`` or ``"reference"`` (:mod:`minivae.training.engines`), an engine object, or
        ``None`` for :func:`minivae.training.engines.default_engine`

    Returns
    -------
    ndarray (N,)
    """
    rng = np.random.default_rng(0) if rng is None else rng
    batch_size = check_positive_int("batch_size", batch_size)
    estimator, L = check_estimator(estimator), check_positive_int("L", L)
    engine = make_engine(engine, model) if engine is None or isinstance(engine, str) else engine
    out = [_batch_bound(engine, X[i:i + batch_size], L, estimator, rng)
           for i in range(0, len(X), batch_size)]
    if not out:
        raise ValueError("cannot evaluate the bound on an empty dataset")
    return np.concatenate(out)


def _batch_bound(engine, X, L, estimator, rng):
    """One batch's bounds, with noise drawn from ``rng``."""
    model = engine.model
    X = model._check_X(X)
    return engine.bound(X, model.draw_eps(rng, (L, len(X), model.n_latent)), estimator)


def mean_bound(model, X, **kwargs):
    """The bound per datapoint, :func:`bound_per_datapoint` averaged over ``X``, as a float."""
    return float(np.mean(bound_per_datapoint(model, X, **kwargs)))
