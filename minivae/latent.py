r"""The latent layer of the VAE: $q_\phi(z|x)$ and $p(z)$ from one location-scale family (Sec. 2.4).

The paper's VAE uses a Gaussian; Sec. 2.4 says any location-scale family reparameterizes the same
way. The encoder (:mod:`minivae.encoder`) gives two heads per latent dimension, ``mu`` and
``logvar``; a latent turns them into a posterior, a sample and log-densities:

* **gaussian** (the paper's, :class:`GaussianLatent`): $q_\phi(z|x) = \mathcal N(\mu, \sigma^2 I)$
  with $\sigma = e^{\frac12\text{logvar}}$, $p(z) = \mathcal N(0, I)$; the functions of
  :mod:`minivae.gaussian`, and the KL in closed form (App. B), so estimator B (eq. 7) applies.
* **any other location-scale family** (:class:`LocationScaleLatent`; ``laplace``, ``logistic``,
  ``student_t``, ``cauchy``, ``gumbel``, from :mod:`minivae.reparam`): location $= \mu$ and
  $\text{scale} = e^{\frac12\text{logvar}}$ (so ``logvar`` is $\log\text{scale}^2$, and $\sigma$
  for the Gaussian), $z = \text{loc} + \text{scale}\odot\epsilon$ with $\epsilon$ the family's
  noise, and the prior is the family with location 0 and scale ``prior_scale`` in every dimension.
  The KL has no closed form here: estimator A (eq. 6) only, a Monte Carlo KL,

  $$\tilde{\mathcal L}^A = \frac1L\sum_l \log p_\theta(x|z^{(l)}) + \log p(z^{(l)}) - \log q_\phi(z^{(l)}|x).$$

  The scale is positive for any head value, and
  $\partial\,\text{scale}/\partial\,\text{logvar} = \frac12\text{scale}$, the chain rule every
  backward below applies last.

Both latents offer the same pairs, with the shapes of :mod:`minivae.gaussian` (``mu, logvar
(M, J)``, ``eps, z (L, M, J)``, log-densities summed over the latent axis, ``(L, M)``):
``sample_forward(mu, logvar, eps) -> (z, cache)`` / ``sample_backward(dz, cache) -> (dmu,
dlogvar)``, ``log_prior_forward(z)`` / ``log_prior_backward(dlog_pz, cache) -> dz``,
``log_q_forward(z, mu, logvar)`` / ``log_q_backward(dlog_qz, cache) -> (dz, dmu, dlogvar)``, and
``draw_eps(rng, shape, dtype)``, ``sample_prior(rng, shape)``.

A family is named (:data:`LATENT_FAMILIES`), given as an instance (``StudentT(dof=3)``) or as the
record :func:`family_record` writes (``{"name": "location_scale/student_t", "dof": 3.0}``), which
is what a model's ``config()`` and so a checkpoint hold.
"""
from typing import NamedTuple

import numpy as np

from . import gaussian
from .reparam import FAMILIES, LocationScaleFamily, get_family

__all__ = ["LATENT_FAMILIES", "GaussianLatent", "LocationScaleLatent", "resolve_family",
           "family_record", "make_latent"]

LATENT_FAMILIES = ("gaussian", "laplace", "logistic", "student_t", "cauchy", "gumbel")
"""The names a model accepts: location-scale families whose support is the real line
(``student_t`` has 5 degrees of freedom; ``logistic`` is the location-scale one)."""

_KEYS = {name: "location_scale/logistic" if name == "logistic" else name for name in LATENT_FAMILIES}


def resolve_family(family):
    """The :class:`~minivae.reparam.LocationScaleFamily` that ``family`` names.

    Parameters
    ----------
    family : str (one of :data:`LATENT_FAMILIES`), a ``LocationScaleFamily`` instance, or a dict
        ``{"name": key, **hyperparameters}`` as :func:`family_record` writes it
    """
    if isinstance(family, str):
        if family not in LATENT_FAMILIES:
            raise ValueError(f"unknown latent family {family!r}; choose one of "
                             f"{', '.join(LATENT_FAMILIES)} or pass a location-scale family instance")
        family = get_family(_KEYS[family])
    elif isinstance(family, dict):
        family = _from_record(family)
    if not isinstance(family, LocationScaleFamily):
        raise ValueError(f"the latent family must be a location-scale family (one of "
                         f"{', '.join(LATENT_FAMILIES)}), got {family!r}")
    if family.support != "the real line":
        raise ValueError(f"{family.name}: the latent family needs the whole real line as support "
                         f"(got {family.support}); otherwise log p(z) is -inf where q puts mass")
    return family


def _from_record(record):
    hyperparameters = dict(record)
    name = hyperparameters.pop("name", None)
    if not isinstance(name, str):
        raise ValueError(f"a latent family given as a dict needs a 'name', got {record!r}")
    try:
        return get_family(_KEYS.get(name, name), **hyperparameters)
    except TypeError as exc:
        raise ValueError(f"latent family {record!r}: {exc}") from None


def family_record(family):
    """``family`` as JSON: its name if it is a named one, else ``{"name": key, **hyperparameters}``.

    :func:`resolve_family` of the record rebuilds an equal family. A family that is not in
    :data:`minivae.reparam.FAMILIES` (a class of one's own) cannot be recorded: ``ValueError``.
    """
    for name in LATENT_FAMILIES:
        if _same(family, get_family(_KEYS[name])):
            return name
    key = f"{family.recipe}/{family.name}"
    record = {"name": key, **{k: v for k, v in vars(family).items() if isinstance(v, (int, float))}}
    try:
        rebuilt = _from_record(record) if key in FAMILIES else None
    except ValueError:
        rebuilt = None
    if rebuilt is None or not _same(family, rebuilt):
        raise ValueError(f"the latent family {family!r} cannot be recorded by name and parameters "
                         f"(it is not one of minivae.reparam.FAMILIES), so the model's config() "
                         f"cannot rebuild it and a checkpoint cannot hold it; use one of "
                         f"{', '.join(LATENT_FAMILIES)} or a family of minivae.reparam")
    return record


def _same(a, b):
    return type(a) is type(b) and repr(a) == repr(b)


def make_latent(family, prior_scale=1.0):
    """The latent of ``family`` (resolved) with prior scale ``prior_scale``: the paper's
    :class:`GaussianLatent` for the Gaussian with prior N(0, I), else a :class:`LocationScaleLatent`."""
    if family.name == "gaussian" and family.recipe == "location_scale" and prior_scale == 1.0:
        return GaussianLatent()
    return LocationScaleLatent(family, prior_scale)


class GaussianLatent:
    r"""$q_\phi(z|x) = \mathcal N(\mu, \sigma^2 I)$, $p(z) = \mathcal N(0, I)$: the paper's latent,
    the functions of :mod:`minivae.gaussian` as they are (eq. 4, App. B)."""

    name = "gaussian"
    closed_form_kl = True
    prior_text = "N(0, I)"

    sample_forward = staticmethod(gaussian.sample_forward)
    sample_backward = staticmethod(gaussian.sample_backward)
    log_prior_forward = staticmethod(gaussian.log_standard_normal_forward)
    log_prior_backward = staticmethod(gaussian.log_standard_normal_backward)
    log_q_forward = staticmethod(gaussian.log_q_forward)
    log_q_backward = staticmethod(gaussian.log_q_backward)
    kl_forward = staticmethod(gaussian.kl_forward)
    kl_backward = staticmethod(gaussian.kl_backward)

    @staticmethod
    def draw_eps(rng, shape, dtype=np.float64):
        r"""$\epsilon \sim \mathcal N(0, I)$ of ``shape``, in ``dtype``."""
        return rng.standard_normal(shape, dtype=dtype)

    @staticmethod
    def sample_prior(rng, shape):
        r"""$z \sim \mathcal N(0, I)$ of ``shape``."""
        return rng.standard_normal(shape)


class ScaledCache(NamedTuple):
    scale: np.ndarray
    family: tuple


class LocationScaleLatent:
    r"""$q_\phi(z|x)$ = the family at $(\mu, e^{\frac12\text{logvar}})$, $p(z)$ = the family at
    $(0, \text{prior\_scale})$ in every dimension; the family's own forward/backward pairs
    (:class:`minivae.reparam.family.Family`) with the chain rule through the scale. Float64 only
    (the families compute in float64)."""

    closed_form_kl = False

    def __init__(self, family, prior_scale=1.0):
        self.family, self.name = family, family.name
        self.prior = {"loc": np.zeros(()), "scale": np.array(float(prior_scale))}
        self.prior_text = f"{family!r} with location 0 and scale {prior_scale:g}"

    def draw_eps(self, rng, shape, dtype=np.float64):
        """The family's noise of ``shape`` (standard Laplace, ``U(0, 1)`` for Cauchy, ...), float64."""
        return self.family.draw_eps(rng, shape)

    def sample_prior(self, rng, shape):
        """$z \\sim p(z)$ of ``shape``."""
        return self.family.sample(self.prior, rng, shape)

    def sample_forward(self, mu, logvar, eps):
        r"""$z = \mu + \text{scale}\odot g(\epsilon)$, $\text{scale} = e^{\frac12\text{logvar}}$
        ($g(\epsilon) = \epsilon$ for a standard-member noise, $F_0^{-1}(\epsilon)$ for a uniform one)."""
        scale = np.exp(0.5 * logvar)
        z, cache = self.family.sample_forward({"loc": mu, "scale": scale}, eps)
        return z, ScaledCache(scale, cache)

    def sample_backward(self, dz, cache):
        r"""``(dmu, dlogvar)``: $\bar\mu = \sum_l \bar z$, $\overline{\text{logvar}} = \frac12
        \text{scale}\sum_l \bar z\, g(\epsilon)$."""
        d = self.family.sample_backward(dz, cache.family)
        return d["loc"], 0.5 * cache.scale * d["scale"]

    def log_prior_forward(self, z):
        r"""$\log p(z) = \sum_j \log f(z_j; 0, \text{prior\_scale})$, ``(L, M)``."""
        log_p, cache = self.family.log_prob_forward(z, self.prior)
        return log_p.sum(axis=-1), cache

    def log_prior_backward(self, dlog_pz, cache):
        r"""$\bar z_j = \overline{\log p}\;\partial_{z_j}\log f(z_j; 0, \text{prior\_scale})$."""
        dz, _ = self.family.log_prob_backward(dlog_pz[..., None], cache)
        return dz

    def log_q_forward(self, z, mu, logvar):
        r"""$\log q_\phi(z|x) = \sum_j \log f(z_j; \mu_j, \text{scale}_j)$, ``(L, M)``."""
        scale = np.exp(0.5 * logvar)
        log_q, cache = self.family.log_prob_forward(z, {"loc": mu, "scale": scale})
        return log_q.sum(axis=-1), ScaledCache(scale, cache)

    def log_q_backward(self, dlog_qz, cache):
        r"""``(dz, dmu, dlogvar)`` of :meth:`log_q_forward`, the scale's gradient times
        $\frac12\text{scale}$."""
        dz, d = self.family.log_prob_backward(dlog_qz[..., None], cache.family)
        return dz, d["loc"], 0.5 * cache.scale * d["scale"]
