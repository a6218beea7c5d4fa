r"""The unnormalised posterior of a decoder, $p_\theta(z|x) \propto p(z)\, p_\theta(x|z)$, and its gradient.

The log joint density

$$\log p_\theta(x, z) = \log p(z) + \log p_\theta(x|z), \qquad p(z) = \mathcal N(z; 0, I),$$

is what the HMC sampler (:mod:`~minivae.marginal.hmc`) needs, with its gradient in $z$,

$$\nabla_z \log p_\theta(x, z) = -z + \nabla_z \log p_\theta(x|z),$$

the second term being the decoder's backward pass into its input
(:func:`minivae.decoder.decoder_loglik_backward`), the first the prior's
(:func:`minivae.gaussian.log_standard_normal_backward`). Its gradient in $\theta$ (the ``dec.*``
parameters) is the decoder's alone: $p(z)$ has no parameters. MCEM uses it for the M-step.

Unlike the wake phase (:func:`minivae.baselines.wakesleep.wake_forward`), $z$ here is an input of its own, not
$\mu_\phi(x) + \sigma_\phi(x)\odot\epsilon$: the encoder plays no part.

Shapes: ``X (M, D)``; ``Z (M, J)`` or ``(L, M, J)``; the log joint ``(M,)`` or ``(L, M)``.
"""
from typing import NamedTuple

import numpy as np

from ..decoder import LoglikCache, decoder_loglik_backward, decoder_loglik_forward
from ..gaussian import StdNormalCache, log_standard_normal_backward, log_standard_normal_forward

__all__ = ["LogJointCache", "log_joint_forward", "log_joint_backward", "Posterior"]


class LogJointCache(NamedTuple):
    """What :func:`log_joint_backward` needs."""
    loglik: LoglikCache         # the decoder's log-likelihood
    prior: StdNormalCache       # log p(z)


def log_joint_forward(X, Z, params, n_layers, activation, kind, sigmoid_mean=True):
    r"""The log joint $\log p(z) + \log p_\theta(x|z)$ of every row of ``X`` and its latent(s).

    Parameters
    ----------
    X : ndarray (M, D), the data (binary for the Bernoulli decoder)
    Z : ndarray (M, J) or (L, M, J), latents; ``Z[..., i, :]`` belongs to ``X[i]``
    params : dict with the ``dec.*`` arrays
    n_layers, activation : the decoder MLP's depth and hidden activation
    kind, sigmoid_mean : the decoder, as in :func:`minivae.decoder.decoder_forward`

    Returns
    -------
    log_joint : ndarray (M,) or (L, M)
    cache : LogJointCache
    """
    log_px_z, loglik_cache = decoder_loglik_forward(X, Z, params, n_layers, activation, kind,
                                                    sigmoid_mean)
    log_pz, prior_cache = log_standard_normal_forward(Z)
    return log_pz + log_px_z, LogJointCache(loglik_cache, prior_cache)


def log_joint_backward(dout, cache, param_grads=True):
    r"""Backward of :func:`log_joint_forward`.

    $\partial/\partial z = -z\cdot$ ``dout`` $+$ the decoder's VJP into $z$;
    $\partial/\partial\theta$ is the decoder's alone.

    Parameters
    ----------
    dout : ndarray (M,) or (L, M), upstream gradient of the log joint

    Returns
    -------
    dZ : ndarray, the shape of ``Z``
    grads : dict, the gradient for every ``dec.*`` parameter (empty with ``param_grads=False``)
    """
    dZ, grads = decoder_loglik_backward(dout, cache.loglik, param_grads)
    return dZ + log_standard_normal_backward(dout, cache.prior), grads


class Posterior:
    r"""The unnormalised posterior $p_\theta(z|x) \propto p(z)\, p_\theta(x|z)$ of a model's decoder,
    one independent posterior per row of ``X``: the ``target`` of :class:`~minivae.marginal.hmc.HMC`.

    Only the ``dec.*`` parameters and decoder settings of ``model`` are used, and they are read
    at every call: after a parameter update (MCEM) the posterior follows the new $\theta$.

    Parameters
    ----------
    model : minivae.VAE
    X : array_like (M, D), the data, already binarized for the Bernoulli decoder

    Attributes
    ----------
    model, X : as given (``X`` validated and converted to the model's dtype)
    n_latent : int, $J$
    M : int, the number of rows (independent posteriors)

    Examples
    --------
    >>> import numpy as np, minivae
    >>> model = minivae.VAE(6, 4, 2, init_std=1.0, seed=0)
    >>> posterior = Posterior(model, np.eye(3, 6))
    >>> log_joint, grad = posterior(np.zeros((3, 2)))
    >>> log_joint.shape, grad.shape
    ((3,), (3, 2))
    """

    def __init__(self, model, X):
        if model.family_name != "gaussian" or model.prior_scale != 1.0:
            raise ValueError(f"the posterior of App. D has the prior N(0, I) of the gaussian latent "
                             f"family; this model has the {model.family_name} family with prior "
                             f"scale {model.prior_scale:g} (use importance sampling, --marginal is)")
        self.model = model
        self.X = model._check_X(X)
        self.n_latent = model.n_latent
        self.M = self.X.shape[0]

    def __repr__(self):
        return f"Posterior(M={self.M}, n_latent={self.n_latent}, decoder={self.model.decoder!r})"

    def _check_Z(self, Z):
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim not in (2, 3) or Z.shape[-2:] != (self.M, self.n_latent):
            raise ValueError(f"Z must have shape (M, J) = ({self.M}, {self.n_latent}) or "
                             f"(L, {self.M}, {self.n_latent}), got {Z.shape}")
        return Z

    def log_joint(self, Z):
        r"""$\log p(z) + \log p_\theta(x|z)$ without the gradient: ``(M,)`` or ``(L, M)``."""
        log_joint, _ = log_joint_forward(self.X, self._check_Z(Z), self.model.params,
                                         *self.model._decoder_args())
        return log_joint

    def __call__(self, Z):
        r"""The log joint and its gradient $\nabla_z [\log p(z) + \log p_\theta(x|z)]$.

        ``Z`` need not be finite: an HMC trajectory that diverges yields non-finite values, which
        the sampler rejects, rather than an exception.

        Parameters
        ----------
        Z : ndarray (M, J) (or (L, M, J))

        Returns
        -------
        log_joint : ndarray (M,) (or (L, M))
        grad : ndarray, the shape of ``Z``
        """
        log_joint, cache = log_joint_forward(self.X, self._check_Z(Z), self.model.params,
                                             *self.model._decoder_args())
        dZ, _ = log_joint_backward(np.ones_like(log_joint), cache, param_grads=False)
        return log_joint, dZ
