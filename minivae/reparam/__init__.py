r"""Reparameterizable families of Sec. 2.4: $z = g(\epsilon, \text{params})$ with parameter-free noise.

The paper names three recipes; each has a module:

* :mod:`~minivae.reparam.inverse_cdf` -- $\epsilon \sim U(0, 1)$, $z = F^{-1}(\epsilon)$:
  Exponential, Cauchy, Logistic, Rayleigh, Pareto, Weibull, Gumbel, Gompertz, Reciprocal.
* :mod:`~minivae.reparam.location_scale` -- $\epsilon$ from the standard member,
  $z = \text{loc} + \text{scale}\cdot\epsilon$: Gaussian, Laplace, Logistic, Uniform, Triangular,
  Student's t.
* :mod:`~minivae.reparam.composition` -- Log-Normal, Erlang (Gamma with integer shape),
  $\chi^2$ (even dof), Beta and Dirichlet (integer shapes), F (even dofs).

Every family follows one contract (:class:`~minivae.reparam.family.Family`):
``draw_eps(rng, shape)``, ``sample_forward(params, eps) -> (z, cache)``,
``sample_backward(dz, cache) -> dparams``, ``log_prob_forward(z, params) -> (log_p, cache)``,
``log_prob_backward(dlog_p, cache) -> (dz, dparams)`` and ``log_prob(z, params)``, with
``params`` and ``dparams`` dicts keyed by :attr:`~minivae.reparam.family.Family.param_names`.

:data:`FAMILIES` maps ``"<recipe>/<name>"`` to the class; :func:`get_family` builds one by name.
The pathwise and score-function estimators of $\nabla\,\mathbb E[f(z)]$ are in
:mod:`~minivae.reparam.gradients`.
"""
from .composition import F, Beta, ChiSquared, Dirichlet, Erlang, LogNormal
from .family import Family
from .inverse_cdf import (Cauchy, Exponential, Gompertz, Gumbel, LogisticInverseCDF, Pareto,
                          Rayleigh, Reciprocal, Weibull)
from .location_scale import (Gaussian, Laplace, LocationScaleFamily, Logistic, StudentT, Triangular,
                             Uniform)

__all__ = ["FAMILIES", "get_family", "Family", "LocationScaleFamily",
           "Exponential", "Cauchy", "LogisticInverseCDF", "Rayleigh", "Pareto", "Weibull", "Gumbel",
           "Gompertz", "Reciprocal",
           "Gaussian", "Laplace", "Logistic", "Uniform", "Triangular", "StudentT",
           "LogNormal", "Erlang", "ChiSquared", "Beta", "Dirichlet", "F"]

_CLASSES = (Exponential, Cauchy, LogisticInverseCDF, Rayleigh, Pareto, Weibull, Gumbel, Gompertz,
            Reciprocal, Gaussian, Laplace, Logistic, Uniform, Triangular, StudentT,
            LogNormal, Erlang, ChiSquared, Beta, Dirichlet, F)

FAMILIES = {f"{cls.recipe}/{cls.name}": cls for cls in _CLASSES}
"""``"<recipe>/<name>"`` -> family class, e.g. ``"inverse_cdf/exponential"``."""


def get_family(name, **hyperparameters):
    """Build a family by name.

    Parameters
    ----------
    name : str
        ``"<recipe>/<name>"`` (a key of :data:`FAMILIES`), or the bare name when only one recipe
        has it (``"logistic"`` is in two: ask for ``"location_scale/logistic"`` or
        ``"inverse_cdf/logistic"``).
    **hyperparameters
        Fixed, non-differentiated settings: ``k`` (Erlang), ``dof`` (chi2, Student's t),
        ``a, b`` (Beta), ``alpha`` (Dirichlet), ``d1, d2`` (F), ``c`` (Triangular).

    Returns
    -------
    Family
    """
    if name in FAMILIES:
        return FAMILIES[name](**hyperparameters)
    matches = [key for key in FAMILIES if key.split("/")[1] == name]
    if len(matches) == 1:
        return FAMILIES[matches[0]](**hyperparameters)
    if matches:
        raise ValueError(f"family {name!r} is ambiguous; choose one of {', '.join(matches)}")
    raise ValueError(f"unknown family {name!r}; choose one of {', '.join(FAMILIES)}")
