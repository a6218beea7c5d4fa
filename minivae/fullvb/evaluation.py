r"""Scoring a full-VB model on new data: the predictive density $\mathbb E_{q_\phi(\theta)}[p_\theta(x)]$.

Under full VB the model of a new datapoint is the predictive
$p(x \mid X) \approx \int q_\phi(\theta)\, p_\theta(x)\, d\theta$. Two estimates of its log:

* **the predictive bound** (:func:`predictive_bound`): by Jensen,
  $\log \mathbb E_{q(\theta)}[p_\theta(x)] \ge \mathbb E_{q(\theta)}[\log p_\theta(x)] \ge
  \mathbb E_{q(\theta)}[\mathcal L(\theta, \phi; x)]$, estimated with $S$ draws of $\theta$ and
  estimator B (eq. 7) at each; at $\sigma_\theta \to 0$ it is the plain test bound at $\mu_\theta$;
* **importance sampling** (:func:`predictive_log_px`): $S$ draws $\theta_s \sim q_\phi(\theta)$,
  $k$ draws $z \sim q_\phi(z|x)$ each, $\log \frac1S \sum_s \hat p_{\theta_s}(x)$ with
  $\hat p_{\theta_s}$ :func:`minivae.marginal.importance.importance_log_px`'s estimate: the
  weights $p_{\theta_s}(x, z)/q_\phi(z|x)$ have mean $\mathbb E_{q(\theta)}[p_\theta(x)]$, so this is a
  stochastic lower bound that tightens as $S k$ grows.

Both draw from their own ``rng``; ``theta_logvar`` is the trainer's
(:attr:`minivae.fullvb.trainer.FullVBTrainer.theta_logvar`), $\mu_\theta$ the model's ``dec.*``.
"""
import copy

import numpy as np

from ..marginal.importance import importance_log_px
from ..validation import check_positive_int
from .estimator import theta_mu
from .posterior import draw_zeta, theta_sample_forward

__all__ = ["sampled_model", "predictive_bound", "predictive_log_px"]


def sampled_model(model, theta):
    r"""A shallow copy of ``model`` whose ``dec.*`` parameters are ``theta`` (a draw of
    $q_\phi(\theta)$); ``model`` itself is unchanged."""
    copied = copy.copy(model)
    copied.__dict__.pop("_fast_path", None)  # the fused engine's workspaces view model.params
    copied.params = {**model.params, **theta}
    return copied


def _draws(model, theta_logvar, n_theta, rng):
    mu = theta_mu(model)
    for _ in range(check_positive_int("n_theta", n_theta)):
        theta, _ = theta_sample_forward(mu, theta_logvar, draw_zeta(rng, mu))
        yield sampled_model(model, theta)


def predictive_bound(model, theta_logvar, X, n_theta=1, L=1, rng=None, batch_size=1000):
    r"""$\frac1S\sum_s \tilde{\mathcal L}^B(\theta_s, \phi; x)$ for every row of ``X``, $\theta_s \sim q_\phi(\theta)$.

    Parameters
    ----------
    model : VAE, its ``dec.*`` are $\mu_\theta$
    theta_logvar : dict name -> ndarray, $\log\sigma_\theta^2$
    X : ndarray (n, D)
    n_theta : int, $S$, draws of $\theta$
    L : int, draws of $\epsilon$ per datapoint and per $\theta_s$
    rng : numpy.random.Generator, default ``default_rng(0)``
    batch_size : int, rows per forward pass

    Returns
    -------
    ndarray (n,)
    """
    rng = np.random.default_rng(0) if rng is None else rng
    L = check_positive_int("L", L)
    total = np.zeros(len(X))
    n = 0
    for sampled in _draws(model, theta_logvar, n_theta, rng):
        total += np.concatenate([sampled.elbo(X[i:i + batch_size], L=L, rng=rng, estimator="B")
                                 for i in range(0, len(X), batch_size)])
        n += 1
    return total / n


def predictive_log_px(model, theta_logvar, X, n_theta=10, k=500, rng=None, batch_size=100):
    r"""$\log \frac1S \sum_s \hat p_{\theta_s}(x)$, $\theta_s \sim q_\phi(\theta)$, each $\hat p$ an
    importance-sampled estimate with ``k`` samples, for every row of ``X``.

    Returns
    -------
    ndarray (n,)
    """
    rng = np.random.default_rng(0) if rng is None else rng
    logs = np.stack([importance_log_px(sampled, X, k=k, batch_size=batch_size, rng=rng)
                     for sampled in _draws(model, theta_logvar, n_theta, rng)])
    top = logs.max(axis=0)
    return top + np.log(np.mean(np.exp(logs - top), axis=0))
