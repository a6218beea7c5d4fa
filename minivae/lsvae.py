r"""A VAE whose posterior $q_\phi(z|x)$ and prior $p(z)$ come from one location-scale family (Sec. 2.4).

The paper's VAE uses a Gaussian; Sec. 2.4 says any location-scale family reparameterizes the same
way. Here the encoder of :mod:`minivae.encoder` gives a location and a log-scale per latent
dimension, the family's sampler gives $z = \text{loc} + \text{scale}\odot\epsilon$ with $\epsilon$
from the family's standard member, the prior is that standard member (location 0, scale 1) in
every dimension, and the bound is estimator A (eq. 6), a Monte Carlo KL:

$$\tilde{\mathcal L}^A = \frac1L\sum_l \log p_\theta(x|z^{(l)}) + \log p(z^{(l)}) - \log q_\phi(z^{(l)}|x).$$

Estimator B (eq. 7) needs the KL in closed form; it is offered for the Gaussian family only
(App. B), where this model then computes exactly what :class:`minivae.VAE` computes.

**The encoder heads.** The parameters are those of :class:`minivae.VAE` with the same names, so
``enc.W_mu, enc.b_mu`` give the location and ``enc.W_logvar, enc.b_logvar`` give
$\log\text{scale}^2$: $\text{scale} = \exp(\frac12\,\text{head})$, which is $\sigma$ for the
Gaussian. The scale is positive for any head value, and
$\partial\,\text{scale}/\partial\,\text{head} = \frac12\text{scale}$.

**Sign.** As everywhere: :meth:`LocationScaleVAE.elbo` returns the bound,
:meth:`LocationScaleVAE.loss_and_grads` the loss $-\frac1M\sum_i\tilde{\mathcal L}(x^{(i)})$ and its gradient.

**Noise.** ``eps`` is the family's standard noise, not necessarily standard normal:
``model.draw_eps(rng, (L, M, J))`` draws it, and :class:`minivae.Trainer` and
:mod:`minivae.evaluation` draw every step's and evaluation's noise through that method, so
the model trains with the Trainer as it is. It has no ``fastpath`` (the fused estimator-B
kernels of :class:`minivae.VAE`), so the Trainer uses :meth:`LocationScaleVAE.loss_and_grads`
for it. Precision: float64 only (``dtype``).
"""
from typing import NamedTuple

import numpy as np

from .activations import check_activation
from .decoder import (check_decoder, decoder_forward, decoder_loglik_backward,
                      decoder_loglik_forward, decoder_mean, decoder_shapes)
from .encoder import encoder_backward, encoder_forward, encoder_shapes
from .estimators import check_estimator, sgvb_a_backward, sgvb_a_forward, sgvb_b_backward, sgvb_b_forward
from .gaussian import kl_backward, kl_forward
from .gradcheck import check_params
from .reparam import LocationScaleFamily, get_family
from .validation import (check_bool, check_data, check_eps, check_hidden_sizes,
                         check_nonnegative_float, check_positive_float, check_positive_int,
                         check_seed)

__all__ = ["LocationScaleVAE", "check_lsvae_gradients", "VAE_FAMILIES"]

VAE_FAMILIES = ("gaussian", "laplace", "logistic", "student_t", "cauchy", "gumbel")
"""Names :class:`LocationScaleVAE` accepts (location-scale families whose support is the real line)."""


def _resolve_family(family):
    if isinstance(family, str):
        if family not in VAE_FAMILIES:
            raise ValueError(f"unknown latent family {family!r}; choose one of {', '.join(VAE_FAMILIES)} "
                             f"or pass a location-scale family instance")
        family = get_family("location_scale/logistic" if family == "logistic" else family)
    if not isinstance(family, LocationScaleFamily):
        raise ValueError(f"the latent family must be a location-scale family, got {family!r}")
    if family.support != "the real line":
        raise ValueError(f"{family.name}: the latent family needs the whole real line as support "
                         f"(got {family.support}); otherwise log p(z) is -inf where q puts mass")
    return family


class BoundCache(NamedTuple):
    estimator: str
    encoder: tuple
    scale: np.ndarray
    sample: tuple
    loglik: tuple
    estimate: tuple
    log_pz: tuple | None
    log_qz: tuple | None
    kl: tuple | None


class LocationScaleVAE:
    r"""A VAE with a location-scale latent family, trained by AEVB with estimator A.

    Parameters
    ----------
    n_input, n_hidden, n_latent, decoder, activation, init_std, seed, sigmoid_mean
        As for :class:`minivae.VAE`; with the same ``seed`` the initial parameters are identical.
    family : str or LocationScaleFamily
        One of :data:`VAE_FAMILIES` (``"gaussian"``, ``"laplace"``, ``"logistic"``, ``"student_t"``
        with 5 degrees of freedom, ``"cauchy"``, ``"gumbel"``) or an instance such as
        ``StudentT(dof=3)``. Posterior and prior come from it.
    prior_scale : float > 0
        The prior is the family with location 0 and this scale in every dimension (default 1,
        the standard member). ``1 / sqrt(family.standard.variance)`` gives every family a prior
        of unit variance, as the Gaussian's.
    """

    def __init__(self, n_input, n_hidden=500, n_latent=20, family="gaussian", decoder="bernoulli",
                 activation="tanh", init_std=0.01, seed=None, sigmoid_mean=True, prior_scale=1.0):
        self.n_input = check_positive_int("n_input", n_input)
        self.n_hidden = check_hidden_sizes(n_hidden)
        self.n_latent = check_positive_int("n_latent", n_latent)
        self.family = _resolve_family(family)
        self.prior_scale = check_positive_float("prior_scale", prior_scale)
        self._prior = {"loc": np.zeros(()), "scale": np.array(self.prior_scale)}
        self.decoder = check_decoder(decoder)
        self.activation = check_activation(activation)
        self.init_std = check_nonnegative_float("init_std", init_std)
        self.sigmoid_mean = check_bool("sigmoid_mean", sigmoid_mean)
        self.dtype = np.dtype(np.float64)
        self.seed = check_seed("seed", seed)
        self.rng = np.random.default_rng(seed)
        shapes = {**encoder_shapes(self.n_input, self.n_hidden, self.n_latent),
                  **decoder_shapes(self.n_latent, self.n_hidden[::-1], self.n_input, self.decoder)}
        self.params = {name: self.init_std * self.rng.standard_normal(shape)
                       for name, shape in shapes.items()}

    def config(self):
        """The constructor arguments, JSON-ready; the family as its ``repr``."""
        return {"n_input": self.n_input, "n_hidden": list(self.n_hidden), "n_latent": self.n_latent,
                "family": repr(self.family), "decoder": self.decoder, "activation": self.activation,
                "init_std": self.init_std, "seed": self.seed, "sigmoid_mean": self.sigmoid_mean,
                "prior_scale": self.prior_scale}

    def __repr__(self):
        return "LocationScaleVAE(" + ", ".join(f"{k}={v!r}" for k, v in self.config().items()) + ")"

    @property
    def n_params(self):
        return sum(p.size for p in self.params.values())

    def draw_eps(self, rng, shape):
        """The family's standard noise, ``shape = (L, M, J)``; what :meth:`loss_and_grads` expects.
        For the Gaussian family it is ``rng.standard_normal(shape)``, the stream :class:`minivae.VAE`
        draws."""
        return self.family.draw_eps(rng, shape)

    def _check_X(self, X):
        return check_data(X, self.n_input, bernoulli=self.decoder == "bernoulli")

    def _decoder_args(self):
        return len(self.n_hidden), self.activation, self.decoder, self.sigmoid_mean

    def encode(self, X):
        r"""The parameters of $q_\phi(z|x)$: ``(loc, scale)``, each ``(M, J)``."""
        loc, head, _ = encoder_forward(self._check_X(X), self.params, len(self.n_hidden), self.activation)
        return loc, np.exp(0.5 * head)

    def sample(self, n, rng=None):
        """``n`` points from the generative model: $z$ from the prior, then the decoder mean, ``(n, D)``."""
        rng = self.rng if rng is None else rng
        z = self.family.sample(self._prior, rng, (check_positive_int("n", n), self.n_latent))
        outputs, _ = decoder_forward(z, self.params, *self._decoder_args())
        return decoder_mean(outputs)

    # -- the bound and its gradient ---------------------------------------------------------
    def _check_estimator(self, estimator):
        estimator = check_estimator(estimator)
        if estimator == "B" and (self.family.name != "gaussian" or self.prior_scale != 1.0):
            raise ValueError(f"estimator 'B' needs the KL in closed form, which this package has for "
                             f"the gaussian family with prior N(0, I) only; use estimator 'A' for "
                             f"{self.family.name} with prior scale {self.prior_scale:g}")
        return estimator

    def _bound_forward(self, X, eps, estimator):
        loc, head, enc_cache = encoder_forward(X, self.params, len(self.n_hidden), self.activation)
        scale = np.exp(0.5 * head)
        q_params = {"loc": loc, "scale": scale}
        z, sample_cache = self.family.sample_forward(q_params, eps)
        log_px_z, loglik_cache = decoder_loglik_forward(X, z, self.params, *self._decoder_args())
        if estimator == "B":
            kl, kl_cache = kl_forward(loc, head)
            bound, est_cache = sgvb_b_forward(log_px_z, kl)
            return bound, BoundCache("B", enc_cache, scale, sample_cache, loglik_cache, est_cache,
                                     None, None, kl_cache)
        log_pz, pz_cache = self.family.log_prob_forward(z, self._prior)
        log_qz, qz_cache = self.family.log_prob_forward(z, q_params)
        bound, est_cache = sgvb_a_forward(log_px_z, log_pz.sum(axis=-1), log_qz.sum(axis=-1))
        return bound, BoundCache("A", enc_cache, scale, sample_cache, loglik_cache, est_cache,
                                 pz_cache, qz_cache, None)

    def _bound_backward(self, dbound, cache):
        family = self.family
        if cache.estimator == "B":
            dlog_px_z, dkl = sgvb_b_backward(dbound, cache.estimate)
            dz, grads = decoder_loglik_backward(dlog_px_z, cache.loglik)
            dloc, dhead = kl_backward(dkl, cache.kl)
            dscale = 0.0
        else:
            dlog_px_z, dlog_pz, dlog_qz = sgvb_a_backward(dbound, cache.estimate)
            dz, grads = decoder_loglik_backward(dlog_px_z, cache.loglik)
            J = dz.shape[-1]  # the sum over latent dimensions broadcasts back
            dz_p, _ = family.log_prob_backward(np.repeat(dlog_pz[..., None], J, axis=-1), cache.log_pz)
            dz_q, dq = family.log_prob_backward(np.repeat(dlog_qz[..., None], J, axis=-1), cache.log_qz)
            dz = dz + dz_p + dz_q
            dloc, dhead, dscale = dq["loc"], 0.0, dq["scale"]
        ds = family.sample_backward(dz, cache.sample)
        dhead = dhead + 0.5 * cache.scale * (dscale + ds["scale"])
        grads.update(encoder_backward(dloc + ds["loc"], dhead, cache.encoder))
        return grads

    def elbo(self, X, eps=None, estimator="A", L=1, rng=None):
        r"""The estimate of the bound $\tilde{\mathcal L}(\theta, \phi; x^{(i)})$ per datapoint, ``(M,)``.

        ``eps`` is the family's noise ``(M, J)`` or ``(L, M, J)``; when not given it is drawn
        from ``rng`` (default: the model's generator) with ``L`` samples per datapoint.
        """
        X = self._check_X(X)
        if eps is None:
            rng = self.rng if rng is None else rng
            eps = self.draw_eps(rng, (check_positive_int("L", L), X.shape[0], self.n_latent))
        eps = check_eps(eps, X.shape[0], self.n_latent)
        bound, _ = self._bound_forward(X, eps, self._check_estimator(estimator))
        return bound

    def loss_and_grads(self, X, eps, estimator="A", validate=True):
        r"""The loss $-\frac1M\sum_i\tilde{\mathcal L}(\theta, \phi; x^{(i)})$ and its gradient.

        Parameters
        ----------
        X : ndarray (M, D)
        eps : ndarray (M, J) or (L, M, J), the family's noise (:meth:`draw_eps`)
        estimator : ``"A"`` (any family) or ``"B"`` (Gaussian only)
        validate : bool, check ``X`` and the shape of ``eps`` (the family always checks its values)

        Returns
        -------
        loss : float
        grads : dict with exactly the keys of :attr:`params`
        """
        if validate:
            X = self._check_X(X)
            eps = check_eps(eps, X.shape[0], self.n_latent)
        elif eps.ndim == 2:
            eps = eps[None]
        bound, cache = self._bound_forward(X, eps, self._check_estimator(estimator))
        M = X.shape[0]
        grads = self._bound_backward(np.full(M, -1.0 / M), cache)
        return -float(np.mean(bound)), grads


def check_lsvae_gradients(family="laplace", estimator="A", L=2, decoder="bernoulli", n_input=12,
                          n_hidden=(7, 5), n_latent=3, batch_size=5, init_std=0.3, seed=0,
                          n_checks=20, tol=1e-6, h=1e-3, order=4, prior_scale=1.0):
    """Compare :meth:`LocationScaleVAE.loss_and_grads` with finite differences on a small random model.

    The counterpart of :func:`minivae.modelcheck.check_model_gradients`: every parameter tensor,
    ``n_checks`` entries each, five-point stencil with ``h = 1e-3``.

    Returns
    -------
    report : GradCheckReport
    z : ndarray (L, M, J), the latent samples, so that a caller can see how far they are from a
        kink of the family's log-density (the Laplace prior at 0)
    """
    rng = np.random.default_rng(seed)
    model = LocationScaleVAE(n_input, list(n_hidden), n_latent, family=family, decoder=decoder,
                             init_std=init_std, seed=seed, prior_scale=prior_scale)
    X = rng.random((batch_size, n_input))
    if decoder == "bernoulli":
        X = (X < 0.5).astype(float)
    eps = model.draw_eps(rng, (L, batch_size, n_latent))
    _, grads = model.loss_and_grads(X, eps, estimator)
    loc, scale = model.encode(X)
    z, _ = model.family.sample_forward({"loc": loc, "scale": scale}, eps)
    report = check_params(lambda: model.loss_and_grads(X, eps, estimator)[0], model.params, grads,
                          n_checks=n_checks, rng=rng, tol=tol, h=h, order=order)
    return report, z
