"""A finite-difference check of the full loss of a small VAE, every parameter tensor, any latent family.

This is what ``minivae gradcheck`` prints; tests and tutorials call it too.
"""
import numpy as np

from .decoder import get_decoder
from .gradcheck import check_params
from .model import VAE

__all__ = ["check_model_gradients", "gradient_check_case", "KINK_MARGIN"]

KINK_MARGIN = 0.02
r"""How far every latent sample of a Laplace model's check is from $z = 0$, where the prior's
log-density $-|z|/b$ has a kink and no derivative: the stencil (parameter steps up to
$2h = 2\cdot10^{-3}$) moves $z$ less than this, so it never crosses the kink."""


def gradient_check_case(decoder="bernoulli", L=2, n_input=12, n_hidden=(7, 5), n_latent=3,
                        batch_size=5, activation="tanh", init_std=0.3, seed=0, family="gaussian",
                        prior_scale=1.0):
    """The model, data and noise :func:`check_model_gradients` checks, for the same arguments.

    Returns
    -------
    model : VAE
    X : ndarray (batch_size, D), binary for a decoder of binary data (Bernoulli), in (0, 1) else
    eps : ndarray (L, batch_size, J), the family's noise (:meth:`VAE.draw_eps`); for the Laplace
        family drawn again until every sample is :data:`KINK_MARGIN` away from the prior's kink
    rng : numpy.random.Generator, the generator that drew them, to pick the entries checked
    """
    rng = np.random.default_rng(seed)
    model = VAE(n_input, list(n_hidden), n_latent, decoder=decoder, activation=activation,
                init_std=init_std, seed=seed, family=family, prior_scale=prior_scale)
    X = rng.random((batch_size, n_input))
    if get_decoder(decoder).binary:
        X = (X < 0.5).astype(float)
    eps = model.draw_eps(rng, (L, batch_size, n_latent))
    for _ in range(100):
        if model.family_name != "laplace" or np.abs(_samples(model, X, eps)).min() > KINK_MARGIN:
            return model, X, eps, rng
        eps = model.draw_eps(rng, (L, batch_size, n_latent))
    raise ValueError(f"no noise found whose Laplace samples stay {KINK_MARGIN} away from the "
                     f"prior's kink at 0; try another seed")


def _samples(model, X, eps):
    mu, logvar = model.encode(X)
    return model.latent.sample_forward(mu, logvar, eps)[0]


def check_model_gradients(decoder="bernoulli", estimator="B", L=2, n_input=12, n_hidden=(7, 5),
                          n_latent=3, batch_size=5, activation="tanh", init_std=0.3, seed=0,
                          n_checks=20, tol=1e-6, h=1e-3, order=4, family="gaussian",
                          prior_scale=1.0):
    """Compare :meth:`VAE.loss_and_grads` with central differences on a small random model.

    Parameters
    ----------
    decoder, estimator, L, n_input, n_hidden, n_latent, activation
        The model and estimator to check (estimator B: the Gaussian family with prior scale 1 only).
    batch_size : int, rows of random data (binary for a Bernoulli decoder, in (0, 1) else)
    init_std : float
        Larger than the paper's 0.01, so that gradients are far from zero and relative
        errors measure the derivation rather than round-off.
    n_checks, tol : entries per tensor, and the largest accepted relative error
    h, order : the finite-difference step and stencil; the five-point stencil with
        ``h=1e-3`` keeps both truncation and rounding far below ``tol`` (see
        :mod:`minivae.gradcheck`, "Where the error comes from")
    family, prior_scale : the latent family (:mod:`minivae.latent`) and its prior's scale.
        The Laplace prior's log-density has a kink at 0; :func:`gradient_check_case` keeps
        every sample away from it.

    Returns
    -------
    GradCheckReport
    """
    model, X, eps, rng = gradient_check_case(decoder, L, n_input, n_hidden, n_latent, batch_size,
                                             activation, init_std, seed, family, prior_scale)
    _, grads = model.loss_and_grads(X, eps, estimator)
    return check_params(lambda: model.loss_and_grads(X, eps, estimator)[0], model.params, grads,
                        n_checks=n_checks, rng=rng, tol=tol, h=h, order=order)
