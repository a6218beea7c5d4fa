r"""The M-step objective of Monte Carlo EM: the complete-data log-likelihood at sampled $z$.

For a minibatch of $M$ datapoints $x^{(i)}$ and one posterior sample $z^{(i)}$ each (from the
HMC chain of that datapoint), the M-step takes gradient steps on

$$\ell(\theta) = -\frac1M \sum_{i=1}^M \log p_\theta(x^{(i)}, z^{(i)})
              = -\frac1M \sum_{i=1}^M \left[\log p_\theta(x^{(i)}|z^{(i)}) + \log p(z^{(i)})\right].$$

The prior $p(z) = \mathcal N(0, I)$ has no parameters, so
$\nabla_\theta \ell = -\frac1M \sum_i \nabla_\theta \log p_\theta(x^{(i)}|z^{(i)})$: the decoder
log-likelihood's backward with an upstream gradient of $-1/M$ per row, with $z$ held fixed as
data (as in the wake phase of :mod:`minivae.baselines.wakesleep`). Only the ``dec.*`` parameters
($\theta$) enter; the encoder plays no part in MCEM.

Shapes: ``X (M, D)``, ``Z (M, J)``; ``log_joint (M,)``.
"""
import numpy as np

from ...decoder import decoder_loglik_backward, decoder_loglik_forward
from ...gaussian import log_standard_normal_forward

__all__ = ["decoder_params", "mstep_loss_and_grads"]


def decoder_params(model):
    r"""The ``dec.*`` entries of ``model.params`` ($\theta$): the same arrays, so that an in-place
    optimizer update on this dict changes the model."""
    return {name: p for name, p in model.params.items() if name.startswith("dec.")}


def mstep_loss_and_grads(model, X, Z):
    r"""The M-step loss $-\frac1M\sum_i \log p_\theta(x^{(i)}, z^{(i)})$ and its $\theta$-gradient.

    Parameters
    ----------
    model : VAE (only its decoder is used)
    X : ndarray (M, D), data (binary for the Bernoulli decoder); not validated
    Z : ndarray (M, J), one latent sample per row, treated as data

    Returns
    -------
    loss : float
    grads : dict with exactly the ``dec.*`` keys of ``model.params``, in their order
    log_joint : ndarray (M,), $\log p_\theta(x^{(i)}|z^{(i)}) + \log p(z^{(i)})$ per row
    """
    log_px_z, cache = decoder_loglik_forward(X, Z, model.params, *model._decoder_args())
    log_pz, _ = log_standard_normal_forward(Z)
    log_joint = log_px_z + log_pz
    _, grads = decoder_loglik_backward(np.full(log_px_z.shape, -1.0 / log_px_z.size), cache)
    grads = {name: grads[name] for name in model.params if name.startswith("dec.")}
    return -float(np.mean(log_joint)), grads, log_joint
