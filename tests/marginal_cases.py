"""Tiny models whose log p(x) is known, shared by the marginal-likelihood tests.

* :func:`tiny_bernoulli` -- an 8-5-J tanh VAE with large decoder weights (init_std 0.7), so that
  the posterior is far from the prior; its log p(x) comes from quadrature. The random encoder
  is made broad (sigma near 1, means shrunk), a poor fit to the posterior (the ELBO lies
  0.3-0.8 nat below log p(x)) but with tails heavy enough for importance sampling to converge.
* :func:`linear_gaussian` -- a Gaussian decoder with an identity activation and a constant
  variance: x = z A + c + noise, noise ~ N(0, Psi), i.e. factor analysis, with the closed form
  p(x) = N(x; c, A^T A + Psi) (:func:`linear_gaussian_log_px`). Its encoder is set to the exact
  posterior's mean and marginal variances, then perturbed, so it is a good but imperfect
  proposal.
"""
import numpy as np
from scipy.stats import multivariate_normal

import minivae

D = 8


def binary_rows(seed, M, D=D):
    return (np.random.default_rng(seed).random((M, D)) < 0.5) * 1.0


def tiny_bernoulli(J, seed=3, init_std=0.7):
    model = minivae.VAE(D, 5, J, init_std=init_std, seed=seed)
    model.params["enc.W_mu"] *= 0.5
    model.params["enc.W_logvar"] *= 0.1
    model.params["enc.b_logvar"][:] = 0.0
    return model


def linear_gaussian(J, seed=0, noise_std=0.5, shift=0.3, inflate=0.5, D=D):
    """A factor-analysis model as a ``minivae.VAE`` (decoder ``D-D-J``, identity activation).

    The encoder's mean is the exact posterior mean plus ``shift`` posterior standard deviations
    (in every coordinate), its log-variance the exact marginal log-variance plus ``inflate``.
    """
    rng = np.random.default_rng(seed)
    model = minivae.VAE(D, D, J, decoder="gaussian", activation="identity", init_std=0.7,
                        seed=seed, sigmoid_mean=False)
    p = model.params
    p["dec.W_logvar"][:] = 0.0
    p["dec.b_logvar"][:] = 2 * np.log(noise_std) + 0.2 * rng.standard_normal(D)
    A, c, Psi = _factor_analysis(model)
    precision = np.eye(J) + (A / Psi) @ A.T
    S = np.linalg.inv(precision)
    B = (A / Psi).T @ S                      # posterior mean = (x - c) B
    p["enc.W1"][:], p["enc.b1"][:] = np.eye(D), 0.0
    p["enc.W_mu"][:], p["enc.b_mu"][:] = B, -c @ B + shift * np.sqrt(np.diag(S))
    p["enc.W_logvar"][:], p["enc.b_logvar"][:] = 0.0, np.log(np.diag(S)) + inflate
    return model


def _factor_analysis(model):
    p = model.params
    A = p["dec.W1"] @ p["dec.W_mean"]                         # (J, D)
    c = p["dec.b1"] @ p["dec.W_mean"] + p["dec.b_mean"]       # (D,)
    return A, c, np.exp(p["dec.b_logvar"])


def linear_gaussian_log_px(model, X):
    """The closed form log N(x; c, A^T A + Psi) of :func:`linear_gaussian`'s model, ``(M,)``."""
    A, c, Psi = _factor_analysis(model)
    return np.atleast_1d(multivariate_normal(c, A.T @ A + np.diag(Psi)).logpdf(X))


def linear_gaussian_rows(model, seed, M):
    """Data drawn from the model itself: z ~ N(0, I), x = z A + c + noise."""
    rng = np.random.default_rng(seed)
    A, c, Psi = _factor_analysis(model)
    Z = rng.standard_normal((M, model.n_latent))
    return Z @ A + c + np.sqrt(Psi) * rng.standard_normal((M, model.n_input))
