r"""Two unbiased estimators of $\nabla_\theta\,\mathbb E_{q_\theta(z)}[f(z)]$ (Sec. 2.2-2.4).

* **Score function** (REINFORCE, the "naive" estimator of Sec. 2.2):
  $\nabla_\theta \mathbb E[f(z)] = \mathbb E[f(z)\,\nabla_\theta\log q_\theta(z)]$, one term per
  sample $z \sim q_\theta$, with $z$ held fixed. It needs only $\log q$, but "exhibits very high
  variance" (Sec. 2.2).
* **Pathwise** (the reparameterization of Sec. 2.4): with $z = g(\epsilon, \theta)$,
  $\nabla_\theta \mathbb E[f(z)] = \mathbb E_\epsilon[f'(z)\,\partial g/\partial\theta]$, one term per
  noise draw. It needs $f'$ and the transform's derivative.

Both functions return **one estimate per draw** (params are broadcast to the batch shape before
the backward, so nothing is summed), so that a caller can take the mean and the variance.
"""
import numpy as np

__all__ = ["pathwise_samples", "score_function_samples"]


def _expanded(family, params, eps):
    batch = eps.shape[:eps.ndim - len(family.noise_shape)]
    return {name: np.broadcast_to(np.asarray(params[name], dtype=np.float64), batch).copy()
            for name in family.param_names}


def pathwise_samples(family, params, df, eps):
    r"""Per-draw pathwise estimates $f'(z)\,\partial z/\partial\theta$, $z = g(\epsilon, \theta)$.

    Parameters
    ----------
    family : Family, with scalar samples (``event_ndim == 0``)
    params : dict name -> float or ndarray broadcasting to the batch shape of ``eps``
    df : callable, $f'(z)$ elementwise
    eps : ndarray ``(n,) + family.noise_shape``, from ``family.draw_eps``

    Returns
    -------
    dict name -> ndarray ``(n,)``
    """
    z, cache = family.sample_forward(_expanded(family, params, eps), eps)
    return family.sample_backward(df(z), cache)


def score_function_samples(family, params, f, eps):
    r"""Per-draw score-function estimates $f(z)\,\nabla_\theta\log q_\theta(z)$ at $z = g(\epsilon, \theta)$.

    The sample is drawn with the same noise as :func:`pathwise_samples` so that the two can be
    compared draw for draw, but no derivative flows through $z$.

    Parameters
    ----------
    family, params, eps : as in :func:`pathwise_samples`
    f : callable, $f(z)$ elementwise

    Returns
    -------
    dict name -> ndarray ``(n,)``
    """
    expanded = _expanded(family, params, eps)
    z, _ = family.sample_forward(expanded, eps)
    _, cache = family.log_prob_forward(z, expanded)
    _, dparams = family.log_prob_backward(f(z), cache)
    return dparams
