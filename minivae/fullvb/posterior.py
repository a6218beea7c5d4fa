r"""The variational posterior over the decoder's parameters, $q_\phi(\theta)$ (App. F.1).

Mean-field Gaussian, one mean and one log-variance per entry of every ``dec.*`` tensor:

$$q_\phi(\theta) = \mathcal N(\theta; \mu_\theta, \operatorname{diag}\sigma_\theta^2),
\qquad \sigma_\theta = e^{\frac12\,\text{logvar}_\theta},$$

with the prior (App. F's hyperprior $p_\alpha(\theta)$, typed there as $\mathcal N(z; 0, I)$)
$p(\theta) = \mathcal N(\theta; 0, I)$, the same weight prior as Algorithm 1's MAP setup.

``theta_mu``, ``theta_logvar``, ``zeta`` and ``theta`` are dicts keyed by the decoder's parameter
names (``"dec.W1"``, ``"dec.b_logits"``, ...), each entry of the tensor's shape. The pairs here are
the dict versions of :func:`minivae.gaussian.sample_forward` and
:func:`minivae.gaussian.kl_forward`, summed over *all* of $\theta$'s entries (App. F's
$\sum_{j=1}^J$ reuses the latent dimension $J$ by mistake).
"""
from typing import NamedTuple

import numpy as np

from ..gaussian import kl_term

__all__ = ["ThetaSampleCache", "ThetaKLCache", "decoder_names", "draw_zeta",
           "theta_sample_forward", "theta_sample_backward", "theta_kl_forward",
           "theta_kl_backward"]


class ThetaSampleCache(NamedTuple):
    zeta: dict
    sigma: dict


class ThetaKLCache(NamedTuple):
    mu: dict
    var_minus_1: dict


def decoder_names(params):
    r"""The names of $\theta$'s tensors: the ``dec.*`` keys of ``params``, in their order."""
    return [name for name in params if name.startswith("dec.")]


def draw_zeta(rng, theta_mu):
    r"""$\zeta \sim \mathcal N(0, I)$, one draw per entry of $\theta$, in ``theta_mu``'s key order
    and dtypes (the order fixes the random stream, so a resumed run draws the same $\zeta$)."""
    return {name: rng.standard_normal(mu.shape, dtype=mu.dtype) for name, mu in theta_mu.items()}


def theta_sample_forward(theta_mu, theta_logvar, zeta):
    r"""The reparameterized sample $\tilde\theta = h_\phi(\zeta) = \mu_\theta + \sigma_\theta \odot \zeta$
    (App. F.1), tensor by tensor.

    Parameters
    ----------
    theta_mu, theta_logvar, zeta : dict name -> ndarray, the same keys and shapes

    Returns
    -------
    theta : dict name -> ndarray
    cache : ThetaSampleCache
    """
    sigma = {name: np.exp(0.5 * lv) for name, lv in theta_logvar.items()}
    theta = {name: theta_mu[name] + sigma[name] * zeta[name] for name in theta_mu}
    return theta, ThetaSampleCache(zeta, sigma)


def theta_sample_backward(dtheta, cache):
    r"""Backward of :func:`theta_sample_forward`:
    $\bar\mu_\theta = \bar\theta$ and $\overline{\text{logvar}}_\theta = \tfrac12\,\bar\theta\,\sigma_\theta\,\zeta$.

    Parameters
    ----------
    dtheta : dict name -> ndarray, the gradient at $\tilde\theta$

    Returns
    -------
    dmu, dlogvar : dict name -> ndarray
    """
    dmu = {name: d.copy() for name, d in dtheta.items()}
    dlogvar = {name: 0.5 * d * cache.sigma[name] * cache.zeta[name] for name, d in dtheta.items()}
    return dmu, dlogvar


def theta_kl_forward(theta_mu, theta_logvar):
    r"""$D_{KL}(q_\phi(\theta) \,\|\, \mathcal N(0, I))$, summed over every entry of $\theta$ (App. B
    applied to $\theta$):

    $$D_{KL} = \tfrac12 \sum_k \left(\mu_{\theta,k}^2 + \sigma_{\theta,k}^2 - 1 - \log\sigma_{\theta,k}^2\right),$$

    computed per entry as :func:`minivae.gaussian.kl_term` does (``expm1``, so that it stays
    non-negative near the prior).

    Returns
    -------
    kl : float
    cache : ThetaKLCache
    """
    kl = sum(float(np.sum(kl_term(theta_mu[name], lv))) for name, lv in theta_logvar.items())
    var_minus_1 = {name: np.expm1(lv) for name, lv in theta_logvar.items()}
    return kl, ThetaKLCache(dict(theta_mu), var_minus_1)


def theta_kl_backward(dkl, cache):
    r"""Backward of :func:`theta_kl_forward`: $\partial D_{KL}/\partial\mu_\theta = \mu_\theta$,
    $\partial D_{KL}/\partial\,\text{logvar}_\theta = \tfrac12(\sigma_\theta^2 - 1)$.

    Parameters
    ----------
    dkl : float

    Returns
    -------
    dmu, dlogvar : dict name -> ndarray
    """
    dmu = {name: dkl * mu for name, mu in cache.mu.items()}
    dlogvar = {name: dkl * 0.5 * v for name, v in cache.var_minus_1.items()}
    return dmu, dlogvar
