r"""The variational auto-encoder of the paper's experiments (Sec. 3, App. C).

Notation, stated once: $\phi$ are the recognition model's (encoder's) parameters, the
``enc.*`` entries of :attr:`VAE.params`; $\theta$ are the generative model's (decoder's)
parameters, the ``dec.*`` entries. ``mu`` and ``logvar`` $= \log\sigma^2$ are the encoder's
outputs, ``eps`` the noise of the reparameterization $z = \mu + \sigma\epsilon$, standard normal for
the paper's Gaussian latent. Another location-scale family (Sec. 2.4) changes the latent layer
only, :mod:`minivae.latent`: the same heads give its location and scale, ``eps`` is its noise, and
the prior $p(z)$ is the same family.

**Sign.** The paper maximizes the lower bound $\mathcal L(\theta, \phi; x)$. This code
reports the bound itself (:meth:`VAE.elbo`) but *minimizes* the loss
$-\frac1M\sum_i \tilde{\mathcal L}(\theta, \phi; x^{(i)})$ (:meth:`VAE.loss_and_grads`), so
every gradient it returns is the gradient of that loss.

**The reference composition.** :meth:`VAE.loss_and_grads` is what the reference engine trains
(:mod:`minivae.engine`). The fused engine composes the same steps a second time, fused
(:mod:`minivae.fused.fastpath`); ``tests/test_fastpath.py`` and ``tests/test_engines.py`` hold the
two to float64 round-off.
"""
from typing import NamedTuple

import numpy as np

from . import flat
from .activations import check_activation
from .decoder import (check_decoder, decoder_forward, decoder_loglik_backward,
                      decoder_loglik_forward, decoder_mean, decoder_shapes, get_decoder)
from .encoder import encoder_backward, encoder_forward, encoder_shapes
from .estimators import (check_estimator, minibatch_backward, minibatch_forward, sgvb_a_backward,
                         sgvb_a_forward, sgvb_b_backward, sgvb_b_forward)
from .latent import family_record, make_latent, resolve_family
from .validation import (as_float_array, check_bool, check_dtype, check_eps,
                         check_hidden_sizes, check_nonnegative_float, check_positive_float,
                         check_positive_int, check_seed)

__all__ = ["VAE"]


class BoundCache(NamedTuple):
    estimator: str
    encoder: tuple
    sample: tuple
    loglik: tuple
    estimate: tuple
    kl: tuple | None
    log_pz: tuple | None
    log_qz: tuple | None


class VAE:
    r"""A VAE with MLP encoder and decoder, trained by AEVB.

    Parameters
    ----------
    n_input : int
        $D$, the number of visible units (784 for MNIST, 560 for Frey Face).
    n_hidden : int or list of int
        Hidden layer sizes of the encoder; the decoder mirrors them (paper: 500 for MNIST,
        200 for Frey Face).
    n_latent : int
        $J$, the dimension of $z$.
    decoder : str
        The observation model $p_\theta(x|z)$, a kind registered in
        :data:`minivae.decoder.DECODERS`: ``"bernoulli"`` (MNIST, App. C.1), ``"gaussian"``
        (Frey Face, App. C.2), or one of your own (:mod:`minivae.decoder` says how to add one).
    activation : str
        Hidden activation: ``tanh`` (paper), ``sigmoid``, ``softplus``, ``relu``, ``identity``.
    init_std : float
        Every parameter starts as a draw from $\mathcal N(0, \text{init\_std}^2)$ (paper: 0.01).
    seed : int or None
        Seeds the initialization and the noise that :meth:`elbo` draws when given no ``eps``.
    sigmoid_mean : bool
        For the Gaussian decoder, squash the mean head with a sigmoid (Frey Face, App. C.2); in
        general, the kind's ``sigmoid_head``.
    dtype : ``"float64"`` (default; the only precision for gradient checks) or ``"float32"``
        (a speed option, Gaussian family only). Initial values are drawn in float64 and rounded.
    family : str, dict or LocationScaleFamily
        The latent family of $q_\phi(z|x)$ and $p(z)$ (:mod:`minivae.latent`): ``"gaussian"``
        (the paper's, default), ``"laplace"``, ``"logistic"``, ``"student_t"`` (5 degrees of
        freedom), ``"cauchy"``, ``"gumbel"``, an instance such as ``StudentT(dof=3)``, or its
        record ``{"name": "location_scale/student_t", "dof": 3.0}``. Estimator B and the fused
        path need the Gaussian with ``prior_scale`` 1; every family trains with estimator A.
    prior_scale : float > 0
        The prior is the family with location 0 and this scale in every dimension (default 1,
        the standard member). ``1 / sqrt(family.standard.variance)`` gives every family a prior
        of unit variance, as the Gaussian's.

    Notes
    -----
    With the same ``seed`` the initial parameters are the same for every family.
    """

    def __init__(self, n_input, n_hidden=500, n_latent=20, decoder="bernoulli", activation="tanh",
                 init_std=0.01, seed=None, sigmoid_mean=True, dtype="float64", family="gaussian",
                 prior_scale=1.0):
        self.dtype = check_dtype("dtype", dtype)
        self.family = resolve_family(family)
        self.prior_scale = check_positive_float("prior_scale", prior_scale)
        self.latent = make_latent(self.family, self.prior_scale)
        if not self.latent.closed_form_kl and self.dtype != np.float64:
            raise ValueError(f"dtype {self.dtype.name} is for the Gaussian family with prior scale 1; "
                             f"the {self.family.name} family computes in float64 only")
        self.n_input = check_positive_int("n_input", n_input)
        self.n_hidden = check_hidden_sizes(n_hidden)
        self.n_latent = check_positive_int("n_latent", n_latent)
        self.decoder = check_decoder(decoder)
        self.activation = check_activation(activation)
        self.init_std = check_nonnegative_float("init_std", init_std)
        self.sigmoid_mean = check_bool("sigmoid_mean", sigmoid_mean)
        self.seed = check_seed("seed", seed)
        self.rng = np.random.default_rng(seed)
        shapes = {**encoder_shapes(self.n_input, self.n_hidden, self.n_latent),
                  **decoder_shapes(self.n_latent, self.n_hidden[::-1], self.n_input, self.decoder)}
        self.params = flat.pack({name: self.init_std * self.rng.standard_normal(shape)
                                 for name, shape in shapes.items()}, self.dtype)

    def config(self):
        """The constructor arguments, as a JSON-ready dict (``VAE(**model.config())`` rebuilds it);
        the family as :func:`minivae.latent.family_record` writes it (``ValueError`` for a family
        class of one's own, which cannot be rebuilt from a record)."""
        return self._config(family_record(self.family))

    def _config(self, family):
        return {"n_input": self.n_input, "n_hidden": list(self.n_hidden), "n_latent": self.n_latent,
                "decoder": self.decoder, "activation": self.activation, "init_std": self.init_std,
                "seed": self.seed, "sigmoid_mean": self.sigmoid_mean, "dtype": self.dtype.name,
                "family": family, "prior_scale": self.prior_scale}

    def __repr__(self):
        try:
            config = self.config()
        except ValueError:
            config = self._config(self.family)
        return "VAE(" + ", ".join(f"{k}={v!r}" for k, v in config.items()) + ")"

    @property
    def family_name(self):
        """The latent family's name: ``"gaussian"`` (the paper's), ``"laplace"``, ..."""
        return self.family.name

    @property
    def n_params(self):
        """The total number of scalar parameters."""
        return sum(p.size for p in self.params.values())

    # -- the pieces -------------------------------------------------------------------------
    def _check_X(self, X):
        return get_decoder(self.decoder).check_data(X, self.n_input, dtype=self.dtype)

    def _decoder_args(self):
        return len(self.n_hidden), self.activation, self.decoder, self.sigmoid_mean

    def encode(self, X):
        r"""The parameters of $q_\phi(z|x)$: ``(mu, logvar)``, each ``(M, J)``; for a family other
        than the Gaussian, its location and $\log\text{scale}^2$."""
        mu, logvar, _ = encoder_forward(self._check_X(X), self.params, len(self.n_hidden),
                                        self.activation)
        return mu, logvar

    def decode(self, Z):
        r"""The mean of $p_\theta(x|z)$ for ``Z (M, J)`` or ``(L, M, J)``, shape ``(..., D)``:
        Bernoulli probabilities, the Gaussian mean, or another kind's
        (:meth:`minivae.decoder.Decoder.mean`)."""
        Z = self._check_Z(Z)
        outputs, _ = decoder_forward(Z, self.params, *self._decoder_args())
        return decoder_mean(outputs, self.decoder)

    def _check_Z(self, Z):
        Z = as_float_array("Z", Z, self.dtype)
        if Z.ndim < 2 or Z.shape[-1] != self.n_latent:
            raise ValueError(f"Z must have shape (M, {self.n_latent}) or (L, M, {self.n_latent}), "
                             f"got {Z.shape}")
        return Z

    def log_likelihood(self, X, Z):
        r"""$\log p_\theta(x|z)$: ``(M,)`` for ``Z (M, J)``, ``(L, M)`` for ``Z (L, M, J)``."""
        X, Z = self._check_X(X), self._check_Z(Z)
        if Z.shape[-2] != X.shape[0]:
            raise ValueError(f"Z has {Z.shape[-2]} rows but X has {X.shape[0]}")
        log_px_z, _ = decoder_loglik_forward(X, Z, self.params, *self._decoder_args())
        return log_px_z

    def draw_eps(self, rng, shape):
        r"""Noise for the reparameterization, of ``shape``, in the model's dtype: the family's
        (:meth:`minivae.latent.GaussianLatent.draw_eps`, $\epsilon \sim \mathcal N(0, I)$, for the
        paper's model); what :meth:`loss_and_grads` expects as ``eps``."""
        return self.latent.draw_eps(rng, shape, self.dtype)

    def sample(self, n, rng=None):
        r"""Draw ``n`` points from the generative model: $z \sim p(z)$ ($\mathcal N(0, I)$ for the
        paper's model), then the decoder mean.

        Returns
        -------
        ndarray (n, D)
        """
        rng = self.rng if rng is None else rng
        return self.decode(self.latent.sample_prior(rng, (check_positive_int("n", n), self.n_latent)))

    # -- the bound and its gradient ---------------------------------------------------------
    def _check_estimator(self, estimator):
        """``"B"`` or ``"A"``; ``None`` picks B where the KL has a closed form, A elsewhere."""
        if estimator is None:
            return "B" if self.latent.closed_form_kl else "A"
        estimator = check_estimator(estimator)
        if estimator == "B" and not self.latent.closed_form_kl:
            raise ValueError(f"estimator 'B' needs the KL in closed form, which this package has for "
                             f"the gaussian family with prior N(0, I) only; use estimator 'A' for "
                             f"{self.family_name} with prior scale {self.prior_scale:g}")
        return estimator

    def _bound_forward(self, X, eps, estimator):
        r"""The forward pass of one AEVB step: $x \to (\mu, \log\sigma^2) \to z \to \log p_\theta(x|z)$,
        then estimator B (eq. 7, with the closed-form KL) or A (eq. 6, with $\log p(z)$ and
        $\log q_\phi(z|x)$).

        Parameters
        ----------
        X : ndarray (M, D)
        eps : ndarray (L, M, J), the noise of the reparameterization
        estimator : ``"A"`` or ``"B"``

        Returns
        -------
        bound : ndarray (M,), $\tilde{\mathcal L}(\theta, \phi; x^{(i)})$ per datapoint
        cache : BoundCache, every piece's cache, for :meth:`_bound_backward`
        """
        latent = self.latent
        # exercise: aevb_step begin
        mu, logvar, enc_cache = encoder_forward(X, self.params, len(self.n_hidden), self.activation)
        z, sample_cache = latent.sample_forward(mu, logvar, eps)
        log_px_z, loglik_cache = decoder_loglik_forward(X, z, self.params, *self._decoder_args())
        if estimator == "B":
            kl, kl_cache = latent.kl_forward(mu, logvar)
            bound, est_cache = sgvb_b_forward(log_px_z, kl)
            return bound, BoundCache("B", enc_cache, sample_cache, loglik_cache, est_cache, kl_cache,
                                     None, None)
        log_pz, pz_cache = latent.log_prior_forward(z)
        log_qz, qz_cache = latent.log_q_forward(z, mu, logvar)
        bound, est_cache = sgvb_a_forward(log_px_z, log_pz, log_qz)
        return bound, BoundCache("A", enc_cache, sample_cache, loglik_cache, est_cache, None,
                                 pz_cache, qz_cache)
        # exercise: end

    def _bound_backward(self, dbound, cache):
        r"""The backward pass of one AEVB step: from $\partial/\partial\tilde{\mathcal L}$ per
        datapoint back through the estimator, the decoder, the KL (B) or $\log p(z)$ and
        $\log q_\phi(z|x)$ (A), the sampler and the encoder. $z$ depends on $\mu$ and logvar, so
        their gradients have two paths (the KL or $\log q$, and the sampler) that add up.

        Parameters
        ----------
        dbound : ndarray (M,), the upstream gradient of every datapoint's bound
        cache : BoundCache, from :meth:`_bound_forward`

        Returns
        -------
        grads : dict, the gradient of ``sum(dbound * bound)`` for every parameter, the keys of
            ``self.params``
        """
        latent = self.latent
        # exercise: aevb_step begin
        if cache.estimator == "B":
            dlog_px_z, dkl = sgvb_b_backward(dbound, cache.estimate)
            dz, grads = decoder_loglik_backward(dlog_px_z, cache.loglik)
            dmu, dlogvar = latent.kl_backward(dkl, cache.kl)
        else:
            dlog_px_z, dlog_pz, dlog_qz = sgvb_a_backward(dbound, cache.estimate)
            dz, grads = decoder_loglik_backward(dlog_px_z, cache.loglik)
            dz = dz + latent.log_prior_backward(dlog_pz, cache.log_pz)
            dz_q, dmu, dlogvar = latent.log_q_backward(dlog_qz, cache.log_qz)
            dz = dz + dz_q
        dmu_s, dlogvar_s = latent.sample_backward(dz, cache.sample)
        grads.update(encoder_backward(dmu + dmu_s, dlogvar + dlogvar_s, cache.encoder))
        # exercise: end
        return grads

    def elbo(self, X, eps=None, estimator=None, L=1, rng=None):
        r"""The SGVB estimate of the lower bound $\tilde{\mathcal L}(\theta, \phi; x^{(i)})$ per datapoint.

        Parameters
        ----------
        X : ndarray (M, D)
        eps : ndarray (M, J) or (L, M, J), optional
            The family's noise (standard normal for the Gaussian); drawn by :meth:`draw_eps` from
            ``rng`` (default: the model's generator) with ``L`` samples per datapoint when not given.
        estimator : ``"A"`` (eq. 6) or ``"B"`` (eq. 7, Gaussian family with prior scale 1 only);
            default B where it applies, else A

        Returns
        -------
        bound : ndarray (M,), in nats
        """
        X = self._check_X(X)
        eps = self._eps(X, eps, L, rng)
        bound, _ = self._bound_forward(X, eps, self._check_estimator(estimator))
        return bound

    def _eps(self, X, eps, L, rng):
        if eps is None:
            rng = self.rng if rng is None else rng
            eps = self.draw_eps(rng, (check_positive_int("L", L), X.shape[0], self.n_latent))
        return check_eps(eps, X.shape[0], self.n_latent, self.dtype)

    def loss_and_grads(self, X, eps, estimator=None, validate=True):
        r"""The loss $-\frac1M \sum_i \tilde{\mathcal L}(\theta, \phi; x^{(i)})$ and its gradient.

        Parameters
        ----------
        X : ndarray (M, D)
        eps : ndarray (M, J) or (L, M, J), the family's noise (:meth:`draw_eps`)
        estimator : ``"A"`` or ``"B"``, default as for :meth:`elbo`
        validate : bool
            Check ``X`` and ``eps``; a caller that checked its data once may skip it per step.

        Returns
        -------
        loss : float
        grads : dict with exactly the keys of :attr:`params`
        """
        if validate:
            X = self._check_X(X)
            eps = check_eps(eps, X.shape[0], self.n_latent, self.dtype)
        elif eps.ndim == 2:
            eps = eps[None]
        bound, cache = self._bound_forward(X, eps, self._check_estimator(estimator))
        estimate, minibatch_cache = minibatch_forward(bound, 1)  # eq. 8 per datapoint: N = 1
        grads = self._bound_backward(minibatch_backward(-1.0, minibatch_cache), cache)
        return -estimate, grads
