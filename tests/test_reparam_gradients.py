"""Tests for minivae.reparam.gradients: pathwise and score-function estimators of d E[f(z)] / d param.

Both estimators are unbiased when the support of q does not depend on the parameter, so their
Monte Carlo means must match the derivative of the expectation computed by quadrature (scipy's
density and ``quad``) within five standard errors. When the support moves with the parameter
(the Pareto's minimum) the score-function identity loses a boundary term, -f(x_m) q(x_m); the
pathwise estimator does not, and the tests show both facts.
"""
import numpy as np
import pytest
import scipy.stats as st

from minivae.reparam import (Erlang, Exponential, Gaussian, Gumbel, Laplace, LogNormal, Pareto,
                             Weibull)
from minivae.reparam.gradients import pathwise_samples, score_function_samples


def f(z):
    return 1.0 / (1.0 + z * z)


def df(z):
    return -2.0 * z / (1.0 + z * z) ** 2


def quadrature_gradient(ref, params, name):
    h = 1e-4 * max(1.0, abs(params[name]))
    up, down = {**params, name: params[name] + h}, {**params, name: params[name] - h}
    with np.errstate(over="ignore"):
        return (ref(up).expect(f, epsabs=1e-13, epsrel=1e-12)
                - ref(down).expect(f, epsabs=1e-13, epsrel=1e-12)) / (2 * h)


FIXED_SUPPORT = {
    "gaussian": (Gaussian(), {"loc": 1.0, "scale": 2.0}, lambda p: st.norm(p["loc"], p["scale"])),
    "laplace": (Laplace(), {"loc": 0.5, "scale": 1.0}, lambda p: st.laplace(p["loc"], p["scale"])),
    "gumbel": (Gumbel(), {"loc": 0.0, "scale": 1.0}, lambda p: st.gumbel_r(p["loc"], p["scale"])),
    "exponential": (Exponential(), {"rate": 2.0}, lambda p: st.expon(scale=1 / p["rate"])),
    "weibull": (Weibull(), {"scale": 1.5, "shape": 2.5},
                lambda p: st.weibull_min(p["shape"], scale=p["scale"])),
    "lognormal": (LogNormal(), {"mu": 0.3, "sigma": 0.5},
                  lambda p: st.lognorm(p["sigma"], scale=np.exp(p["mu"]))),
    "erlang": (Erlang(k=3), {"rate": 1.5}, lambda p: st.gamma(3, scale=1 / p["rate"])),
}


def _mean_and_se(g):
    return g.mean(), g.std(ddof=1) / np.sqrt(g.size)


@pytest.mark.parametrize("name", list(FIXED_SUPPORT))
def test_both_estimators_are_unbiased_when_the_support_is_fixed(name, budget):
    family, params, ref = FIXED_SUPPORT[name]
    n = budget(100_000, 50_000)
    eps = family.draw_eps(np.random.default_rng(0), (n,))
    pathwise = pathwise_samples(family, params, df, eps)
    score = score_function_samples(family, params, f, eps)
    for param in family.param_names:
        exact = quadrature_gradient(ref, params, param)
        for estimates in (pathwise[param], score[param]):
            assert estimates.shape == (n,)
            mean, se = _mean_and_se(estimates)
            assert abs(mean - exact) <= 5 * se + 1e-7, param


def test_score_function_misses_the_boundary_term_when_the_support_moves(budget):
    family, params = Pareto(), {"scale": 1.5, "alpha": 3.0}
    ref = lambda p: st.pareto(p["alpha"], scale=p["scale"])  # noqa: E731
    n = budget(100_000, 50_000)
    eps = family.draw_eps(np.random.default_rng(1), (n,))
    exact = quadrature_gradient(ref, params, "scale")
    pw_mean, pw_se = _mean_and_se(pathwise_samples(family, params, df, eps)["scale"])
    sf_mean, sf_se = _mean_and_se(score_function_samples(family, params, f, eps)["scale"])
    boundary = -f(params["scale"]) * params["alpha"] / params["scale"]  # -f(x_m) q(x_m)
    assert abs(pw_mean - exact) <= 5 * pw_se
    assert abs(sf_mean - exact) > 50 * sf_se
    assert abs(sf_mean + boundary - exact) <= 5 * sf_se
    # alpha does not move the support: there the score function is unbiased
    exact_alpha = quadrature_gradient(ref, params, "alpha")
    sf_alpha = score_function_samples(family, params, f, eps)["alpha"]
    assert abs(sf_alpha.mean() - exact_alpha) <= 5 * _mean_and_se(sf_alpha)[1]


def test_variances_for_a_quadratic_on_the_gaussian_match_their_closed_forms():
    # f(z) = z^2 on N(mu, s^2), d/dmu: pathwise 2z has variance 4 s^2 = 16. The score function
    # z^2 (z - mu) / s^2 = (mu + s e)^2 e / s has second moment E[(mu + s e)^4 e^2] / s^2
    # = (mu^4 + 6 mu^2 s^2 * 3 + s^4 * 15) / s^2 = (1 + 72 + 240) / 4 = 78.25 and mean 2 mu = 2,
    # so variance 74.25: 4.6 times the pathwise one.
    family, params = Gaussian(), {"loc": 1.0, "scale": 2.0}
    eps = family.draw_eps(np.random.default_rng(2), (200_000,))
    pw = pathwise_samples(family, params, lambda z: 2 * z, eps)["loc"]
    sf = score_function_samples(family, params, lambda z: z * z, eps)["loc"]
    assert pw.var() == pytest.approx(4 * params["scale"] ** 2, rel=0.02)
    assert abs(pw.mean() - 2.0) < 5 * _mean_and_se(pw)[1] and abs(sf.mean() - 2.0) < 5 * _mean_and_se(sf)[1]
    assert sf.var() == pytest.approx(74.25, rel=0.05)


def test_per_draw_estimates_keep_the_batch_shape():
    family = Erlang(k=2)
    eps = family.draw_eps(np.random.default_rng(3), (4, 5))
    g = pathwise_samples(family, {"rate": 2.0}, df, eps)["rate"]
    s = score_function_samples(family, {"rate": 2.0}, f, eps)["rate"]
    assert g.shape == s.shape == (4, 5)
