r"""The two objectives of wake-sleep as forward/backward pairs, and their per-minibatch losses.

**Wake phase** (updates $\theta$, the ``dec.*`` parameters). For real data $x$ and
$z = \mu_\phi(x) + \sigma_\phi(x) \odot \epsilon$, a sample of $q_\phi(z|x)$,

$$\log p_\theta(x, z) = \log p_\theta(x|z) + \log p(z).$$

The prior $p(z) = \mathcal N(0, I)$ has no parameters, so
$\nabla_\theta \log p_\theta(x, z) = \nabla_\theta \log p_\theta(x|z)$: for the same $\epsilon$ this is
exactly the $\theta$-gradient of AEVB's estimator B (the KL term of eq. 7 does not depend on
$\theta$). The difference is on the other side: wake-sleep treats $z$ as *data* and sends no
gradient through it into $\phi$.

**Sleep phase** (updates $\phi$, the ``enc.*`` parameters). For a dream $z \sim p(z)$,
$x \sim p_\theta(x|z)$ (:mod:`~minivae.baselines.wakesleep.dream`),

$$\log q_\phi(z|x) = \log \mathcal N(z;\ \mu_\phi(x),\ \sigma^2_\phi(x) I),$$

a maximum-likelihood fit of the recognition model to the generative model's own fantasies.
Here $x$ is data and $z$ the target; only the encoder is differentiated.

Shapes: ``X (M, D)``, ``eps (L, M, J)``, ``Z (M, J)``; per-sample objectives ``(L, M)`` (wake)
and ``(M,)`` (sleep). Each backward returns the gradient dict for its own half of the
parameters only.

**A second copy.** These pairs are what the reference engine runs. The fused engine composes
the same two phases again from its kernels (:mod:`minivae.baselines.wakesleep.fused`), reusing the
elementwise formulas but not this composition; ``tests/test_wakesleep_fused.py`` holds the two
to ``rtol=1e-12``.
"""
from typing import NamedTuple

import numpy as np

from ...decoder import LoglikCache, decoder_loglik_backward, decoder_loglik_forward, get_decoder
from ...encoder import EncoderCache, encoder_backward, encoder_forward
from ...estimators import sgvb_b_forward
from ...gaussian import (LogNormalCache, kl_forward, log_q_backward, log_q_forward,
                         log_standard_normal_forward, sample_forward)
from ...validation import as_float_array, check_data, check_eps

__all__ = ["WakeCache", "SleepCache", "wake_forward", "wake_backward", "sleep_forward",
           "sleep_backward", "wake_loss_and_grads", "sleep_loss_and_grads"]


class WakeCache(NamedTuple):
    """What :func:`wake_backward` needs, plus the pieces of the bound the trainer reports."""
    loglik: LoglikCache
    mu: np.ndarray          # (M, J), the encoder's outputs (held fixed in the wake phase)
    logvar: np.ndarray      # (M, J)
    log_px_z: np.ndarray    # (L, M)


class SleepCache(NamedTuple):
    encoder: EncoderCache
    log_q: LogNormalCache


def wake_forward(X, eps, params, n_layers, activation, kind, sigmoid_mean=True):
    r"""The wake objective $\log p_\theta(x, z) = \log p_\theta(x|z) + \log p(z)$ at $z \sim q_\phi(z|x)$.

    Parameters
    ----------
    X : ndarray (M, D), real data
    eps : ndarray (L, M, J), standard normal noise: $z = \mu + \sigma \odot \epsilon$
    params : dict with the ``enc.*`` and ``dec.*`` arrays
    n_layers, activation : the (mirrored) MLPs' depth and hidden activation
    kind, sigmoid_mean : the decoder, as in :func:`minivae.decoder.decoder_forward`

    Returns
    -------
    log_joint : ndarray (L, M)
    cache : WakeCache
    """
    mu, logvar, _ = encoder_forward(X, params, n_layers, activation)
    z, _ = sample_forward(mu, logvar, eps)
    log_px_z, loglik_cache = decoder_loglik_forward(X, z, params, n_layers, activation, kind,
                                                    sigmoid_mean)
    log_pz, _ = log_standard_normal_forward(z)
    return log_px_z + log_pz, WakeCache(loglik_cache, mu, logvar, log_px_z)


def wake_backward(dlog_joint, cache):
    r"""Backward of :func:`wake_forward` with respect to $\theta$ only.

    $\partial \log p(z) / \partial\theta = 0$, so the gradient is the decoder log-likelihood's
    backward; its gradient with respect to $z$ is discarded (no path into $\phi$).

    Parameters
    ----------
    dlog_joint : ndarray (L, M)

    Returns
    -------
    grads : dict, the gradient for every ``dec.*`` parameter
    """
    _, grads = decoder_loglik_backward(dlog_joint, cache.loglik)
    return grads


def sleep_forward(Z, X_dream, params, n_layers, activation):
    r"""The sleep objective $\log q_\phi(z|x)$ of dreams $(z, x)$.

    Parameters
    ----------
    Z : ndarray (M, J), the dreams' latents, drawn from $p(z)$
    X_dream : ndarray (M, D), the dreams' images, drawn from $p_\theta(x|z)$
    params : dict with the ``enc.*`` arrays
    n_layers, activation : the encoder's depth and hidden activation

    Returns
    -------
    log_qz : ndarray (M,)
    cache : SleepCache
    """
    mu, logvar, enc_cache = encoder_forward(X_dream, params, n_layers, activation)
    log_qz, q_cache = log_q_forward(Z, mu, logvar)
    return log_qz, SleepCache(enc_cache, q_cache)


def sleep_backward(dlog_qz, cache):
    r"""Backward of :func:`sleep_forward` with respect to $\phi$ only.

    $\partial \log q / \partial\mu = (z - \mu)/\sigma^2$ and
    $\partial \log q / \partial\,\text{logvar} = \tfrac12\left((z-\mu)^2/\sigma^2 - 1\right)$
    (:func:`minivae.gaussian.log_normal_backward`), then the encoder's backward. ``Z`` is a target,
    not a parameter: its gradient is discarded.

    Parameters
    ----------
    dlog_qz : ndarray (M,)

    Returns
    -------
    grads : dict, the gradient for every ``enc.*`` parameter
    """
    _, dmu, dlogvar = log_q_backward(dlog_qz, cache.log_q)
    return encoder_backward(dmu, dlogvar, cache.encoder)


# -- per-minibatch losses of a VAE ---------------------------------------------------------------
def _arch(model):
    return len(model.n_hidden), model.activation


def wake_loss_and_grads(model, X, eps, validate=True):
    r"""The wake loss $-\frac1{LM}\sum_{l,i} \log p_\theta(x^{(i)}, z^{(i,l)})$ and its $\theta$-gradient.

    Parameters
    ----------
    model : VAE
    X : ndarray (M, D), real data (binary for the Bernoulli decoder)
    eps : ndarray (M, J) or (L, M, J), standard normal noise for $z \sim q_\phi(z|x)$
    validate : bool, check ``X`` and ``eps`` (a trainer that checked its data once may skip it)

    Returns
    -------
    loss : float
    grads : dict with exactly the ``dec.*`` keys of ``model.params``
    bound : ndarray (M,), a by-product: the SGVB estimator B (eq. 7) of every datapoint at this
        ``eps``, $\frac1L\sum_l \log p_\theta(x|z^{(l)}) - D_{KL}(q_\phi(z|x)\|p(z))$, for progress
        reports (the wake phase does not optimize it)
    """
    if validate:
        X = get_decoder(model.decoder).check_data(X, model.n_input)
        eps = check_eps(eps, X.shape[0], model.n_latent)
    elif eps.ndim == 2:
        eps = eps[None]
    log_joint, cache = wake_forward(X, eps, model.params, *_arch(model), model.decoder,
                                    model.sigmoid_mean)
    grads = wake_backward(np.full(log_joint.shape, -1.0 / log_joint.size), cache)
    kl, _ = kl_forward(cache.mu, cache.logvar)
    bound, _ = sgvb_b_forward(cache.log_px_z, kl)
    return -float(np.mean(log_joint)), grads, bound


def sleep_loss_and_grads(model, Z, X_dream, validate=True):
    r"""The sleep loss $-\frac1M\sum_i \log q_\phi(z^{(i)}|x^{(i)})$ of dreams and its $\phi$-gradient.

    Parameters
    ----------
    model : VAE
    Z : ndarray (M, J), the dreams' latents
    X_dream : ndarray (M, D), the dreams' images (:func:`minivae.baselines.wakesleep.dream`)
    validate : bool, check the shapes and values of ``Z`` and ``X_dream``

    Returns
    -------
    loss : float
    grads : dict with exactly the ``enc.*`` keys of ``model.params``
    """
    if validate:
        X_dream = check_data(X_dream, model.n_input, name="X_dream")
        Z = as_float_array("Z", Z)
        if Z.shape != (X_dream.shape[0], model.n_latent):
            raise ValueError(f"Z must have shape (M, J) = ({X_dream.shape[0]}, {model.n_latent}), "
                             f"got {Z.shape}")
    log_qz, cache = sleep_forward(Z, X_dream, model.params, *_arch(model))
    grads = sleep_backward(np.full(log_qz.shape, -1.0 / log_qz.size), cache)
    return -float(np.mean(log_qz)), grads
