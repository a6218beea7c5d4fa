"""Tests for the families of minivae.reparam (Sec. 2.4): samples, log-densities, pathwise gradients.

Every family is compared with ``scipy.stats``, which is written independently: samples by a
Kolmogorov-Smirnov test and the first two moments (within five standard errors), log-densities
to 1e-10 relative. Pathwise gradients are checked three ways: against central differences of
``z`` with ``eps`` held fixed (single-op rung, 1e-7, random upstream ``dz``), for broadcasting
against a per-slice sum, and at distribution level: the Monte Carlo mean of the pathwise
estimate of d E[f(z)] / d param for the smooth f(z) = 1 / (1 + z^2) must match the derivative
of the expectation computed by quadrature (scipy's density, scipy's ``quad``).

The finite-difference checks use fixed seeds: an entry of dz/dparam that is close to zero
relative to z (e.g. d z / d scale = eps at eps ~ 0) has a large relative rounding error
although the backward is right (see tests/strategies.py).
"""
from typing import Callable, NamedTuple

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given
from hypothesis import strategies as hyp_st

from minivae.gradcheck import check_vjp
from minivae.reparam import (FAMILIES, Beta, Cauchy, ChiSquared, Dirichlet, Erlang, Exponential, F,
                             Gaussian, Gompertz, Gumbel, Laplace, Logistic, LogisticInverseCDF,
                             LogNormal, Pareto, Rayleigh, Reciprocal, StudentT, Triangular, Uniform,
                             Weibull, get_family)
from minivae.reparam.family import sum_to_param
from minivae.reparam.gradients import pathwise_samples
from minivae.reparam.noise import open_uniform
from minivae.reparam.standard import (CAUCHY, GUMBEL, LAPLACE, LOGISTIC, NORMAL, UNIFORM, student_t,
                                      triangular)
from strategies import floats, seeds, shapes

SINGLE_OP_TOL = 1e-7
LOGPDF_RTOL = 1e-10


class Case(NamedTuple):
    family: object
    params: dict
    scipy: Callable  # params dict (floats or arrays) -> frozen scipy distribution


CASES = {
    "exponential": Case(Exponential(), {"rate": 2.0}, lambda p: st.expon(scale=1 / p["rate"])),
    "cauchy": Case(Cauchy(), {"loc": 1.0, "scale": 2.0}, lambda p: st.cauchy(p["loc"], p["scale"])),
    "logistic-icdf": Case(LogisticInverseCDF(), {"loc": 1.0, "scale": 2.0},
                          lambda p: st.logistic(p["loc"], p["scale"])),
    "rayleigh": Case(Rayleigh(), {"scale": 1.5}, lambda p: st.rayleigh(scale=p["scale"])),
    "pareto": Case(Pareto(), {"scale": 1.5, "alpha": 5.0},
                   lambda p: st.pareto(p["alpha"], scale=p["scale"])),
    "weibull": Case(Weibull(), {"scale": 1.5, "shape": 2.5},
                    lambda p: st.weibull_min(p["shape"], scale=p["scale"])),
    "gumbel": Case(Gumbel(), {"loc": 1.0, "scale": 2.0}, lambda p: st.gumbel_r(p["loc"], p["scale"])),
    "gompertz": Case(Gompertz(), {"eta": 0.7, "scale": 2.0},
                     lambda p: st.gompertz(p["eta"], scale=p["scale"])),
    "reciprocal": Case(Reciprocal(), {"low": 0.5, "high": 4.0},
                       lambda p: st.loguniform(p["low"], p["high"])),
    "gaussian": Case(Gaussian(), {"loc": 1.0, "scale": 2.0}, lambda p: st.norm(p["loc"], p["scale"])),
    "laplace": Case(Laplace(), {"loc": 1.0, "scale": 2.0}, lambda p: st.laplace(p["loc"], p["scale"])),
    "logistic": Case(Logistic(), {"loc": -0.5, "scale": 0.7}, lambda p: st.logistic(p["loc"], p["scale"])),
    "uniform": Case(Uniform(), {"loc": 1.0, "scale": 2.0}, lambda p: st.uniform(p["loc"], p["scale"])),
    "triangular": Case(Triangular(c=0.3), {"loc": 1.0, "scale": 2.0},
                       lambda p: st.triang(0.3, p["loc"], p["scale"])),
    "student_t": Case(StudentT(dof=5.0), {"loc": 1.0, "scale": 2.0},
                      lambda p: st.t(5.0, p["loc"], p["scale"])),
    "lognormal": Case(LogNormal(), {"mu": 0.3, "sigma": 0.5},
                      lambda p: st.lognorm(p["sigma"], scale=np.exp(p["mu"]))),
    "erlang": Case(Erlang(k=3), {"rate": 2.0}, lambda p: st.gamma(3, scale=1 / p["rate"])),
    "chi2": Case(ChiSquared(dof=4), {}, lambda p: st.chi2(4)),
    "beta": Case(Beta(a=2, b=3), {}, lambda p: st.beta(2, 3)),
    "f": Case(F(d1=4, d2=6), {}, lambda p: st.f(4, 6)),
}
SCALAR_IDS = list(CASES)
WITH_PARAMS = [name for name, case in CASES.items() if case.params]
DIRICHLET = Dirichlet(alpha=(2, 3, 1))


def rel(a, b):
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


def varied(params, n=5):
    """Parameter arrays of shape (n,): real ones shifted, positive ones scaled (keeps low < high)."""
    out = {}
    for name, value in params.items():
        out[name] = value * np.linspace(0.8, 1.25, n) if value > 0 else value + np.linspace(-0.5, 0.5, n)
    return out


@pytest.mark.parametrize("member,ref", [
    (NORMAL, st.norm()), (LAPLACE, st.laplace()), (LOGISTIC, st.logistic()), (CAUCHY, st.cauchy()),
    (GUMBEL, st.gumbel_r()), (UNIFORM, st.uniform()), (triangular(0.3), st.triang(0.3)),
    (student_t(5.0), st.t(5.0)), (student_t(1.5), st.t(1.5))], ids=lambda m: getattr(m, "name", ""))
def test_standard_member_variance(member, ref):
    expected = ref.var()
    if np.isfinite(expected):
        assert member.variance == pytest.approx(expected, rel=1e-12)
    else:
        assert member.variance == np.inf


def test_every_registered_family_is_tested():
    tested = {type(case.family) for case in CASES.values()} | {Dirichlet}
    assert tested == set(FAMILIES.values())


# ----------------------------------------------------------------------------
# Samples against scipy.stats
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCALAR_IDS)
def test_samples_pass_kolmogorov_smirnov(name):
    family, params, ref = CASES[name]
    z = family.sample(params, np.random.default_rng(0), (20_000,))
    assert z.shape == (20_000,)
    assert st.kstest(z, ref(params).cdf).pvalue > 1e-3


@pytest.mark.parametrize("name", SCALAR_IDS)
def test_sample_moments(name):
    family, params, ref = CASES[name]
    dist = ref(params)
    mean, var, kurt = (float(m) for m in dist.stats("mvk"))
    n = 100_000
    z = family.sample(params, np.random.default_rng(1), (n,))
    if not np.isfinite(mean):  # Cauchy: the median instead, whose standard error is 1 / (2 f(m) sqrt(n))
        median = dist.median()
        assert abs(np.median(z) - median) <= 5 / (2 * dist.pdf(median) * np.sqrt(n))
        return
    assert abs(z.mean() - mean) <= 5 * np.sqrt(var / n)
    if np.isfinite(kurt):  # the standard error of the sample variance needs the fourth moment
        assert abs(z.var(ddof=1) - var) <= 5 * var * np.sqrt((kurt + 2) / n)


def test_dirichlet_marginals_match_beta():
    alpha = np.array(DIRICHLET.alpha, dtype=float)
    z = DIRICHLET.sample({}, np.random.default_rng(2), (50_000,))
    assert z.shape == (50_000, 3)
    np.testing.assert_allclose(z.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    for k, a in enumerate(alpha):
        marginal = st.beta(a, alpha.sum() - a)
        assert st.kstest(z[:, k], marginal.cdf).pvalue > 1e-3
        assert abs(z[:, k].mean() - marginal.mean()) <= 5 * marginal.std() / np.sqrt(len(z))


# ----------------------------------------------------------------------------
# Log-densities against scipy.stats
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCALAR_IDS)
def test_log_prob_matches_scipy(name):
    family, params, ref = CASES[name]
    p = varied(params)
    z = family.sample(p, np.random.default_rng(3), (40, 5))
    assert rel(family.log_prob(z, p), ref(p).logpdf(z)) <= LOGPDF_RTOL


def test_dirichlet_log_prob_matches_scipy():
    z = DIRICHLET.sample({}, np.random.default_rng(4), (30,))
    expected = [st.dirichlet(DIRICHLET.alpha).logpdf(v) for v in z]
    assert rel(DIRICHLET.log_prob(z, {}), np.array(expected)) <= LOGPDF_RTOL


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_log_prob_at_support_boundaries_matches_scipy():
    assert rel(Exponential().log_prob(np.array([0.0]), {"rate": 2.0}), st.expon(scale=0.5).logpdf([0.0])) == 0
    assert Beta(a=1, b=2).log_prob(np.array([0.0]), {}) == pytest.approx(st.beta(1, 2).logpdf(0.0))
    assert Beta(a=2, b=2).log_prob(np.array([0.0]), {}) == -np.inf


# ----------------------------------------------------------------------------
# Pathwise gradients: finite differences with eps held fixed
# ----------------------------------------------------------------------------


def _fd_eps(family, rng, shape):
    """Noise for a finite-difference check, kept away from where dz/dparam vanishes relative to z:
    uniforms in [0.05, 0.95], other noise with |eps| >= 0.1."""
    eps = family.draw_eps(rng, shape)
    if family.noise == "U(0, 1)":
        return 0.05 + 0.9 * eps
    return np.sign(eps) * np.maximum(np.abs(eps), 0.1)


def _live(params, shape, rng):
    """Float64 parameter arrays of ``shape`` around the case's values (perturbed in place by the check)."""
    return {k: v * np.exp(0.1 * rng.standard_normal(shape)) if v > 0 else v + 0.3 * rng.standard_normal(shape)
            for k, v in params.items()}


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_sample_vjp_matches_finite_differences(name):
    family, params, _ = CASES[name]
    rng = np.random.default_rng(5)
    p = _live(params, (3, 4), rng)
    eps = _fd_eps(family, rng, (3, 4))
    z, cache = family.sample_forward(p, eps)
    dz = rng.standard_normal(z.shape)
    analytic = family.sample_backward(dz, cache)
    assert list(analytic) == list(family.param_names)
    check_vjp(lambda: family.sample_forward(p, eps)[0], p, dz, analytic, tol=SINGLE_OP_TOL)


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_sample_backward_sums_over_broadcast_axes(name):
    family, params, _ = CASES[name]
    rng = np.random.default_rng(6)
    p = _live(params, (1, 4), rng)  # broadcasts against eps (L=3, M=2, J=4): a leading and a size-1 axis
    eps = family.draw_eps(rng, (3, 2, 4))
    z, cache = family.sample_forward(p, eps)
    dz = rng.standard_normal(z.shape)
    got = family.sample_backward(dz, cache)
    for name_ in family.param_names:
        per_entry = np.broadcast_to(p[name_], z.shape).copy()
        _, c = family.sample_forward({**p, name_: per_entry}, eps)
        expected = family.sample_backward(dz, c)[name_].sum(axis=(0, 1), keepdims=True)[0]
        assert got[name_].shape == (1, 4)
        np.testing.assert_allclose(got[name_], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", SCALAR_IDS)
def test_log_prob_vjp_matches_finite_differences(name):
    family, params, _ = CASES[name]
    rng = np.random.default_rng(7)
    p = _live(params, (3, 4), rng)
    z, _ = family.sample_forward(p, _fd_eps(family, rng, (3, 4)))
    dlogp = rng.standard_normal(z.shape)
    _, cache = family.log_prob_forward(z, p)
    dz, dparams = family.log_prob_backward(dlogp, cache)
    check_vjp(lambda: family.log_prob(z, p), {"z": z, **p}, dlogp, {"z": dz, **dparams},
              tol=SINGLE_OP_TOL)


def test_dirichlet_log_density_gradient_in_ambient_coordinates():
    # Perturbing one z_k leaves the simplex, which log_prob refuses; check the formula itself.
    z = DIRICHLET.sample({}, np.random.default_rng(8), (4,))
    dlogp = np.random.default_rng(9).standard_normal(4)
    _, cache = DIRICHLET.log_prob_forward(z, {})
    dz, dparams = DIRICHLET.log_prob_backward(dlogp, cache)
    assert dparams == {} and dz.shape == z.shape
    check_vjp(lambda: DIRICHLET._log_density(z)[0], {"z": z}, dlogp, {"z": dz}, tol=SINGLE_OP_TOL)


@pytest.mark.parametrize("family", [ChiSquared(4), Beta(2, 3), F(4, 6), DIRICHLET], ids=repr)
def test_families_with_only_integer_shapes_have_nothing_to_differentiate(family):
    eps = family.draw_eps(np.random.default_rng(0), (5,))
    z, cache = family.sample_forward({}, eps)
    assert family.param_names == () and family.sample_backward(np.ones_like(z), cache) == {}


# ----------------------------------------------------------------------------
# Pathwise gradients at distribution level: d E[f(z)] / d param by quadrature
# ----------------------------------------------------------------------------


def f(z):
    return 1.0 / (1.0 + z * z)


def df(z):
    return -2.0 * z / (1.0 + z * z) ** 2


def expectation(ref, params):
    with np.errstate(over="ignore"):  # scipy's Gumbel pdf overflows to 0 far in the tail
        return ref(params).expect(f, epsabs=1e-13, epsrel=1e-12)


def quadrature_gradient(ref, params, name):
    h = 1e-4 * abs(params[name])
    up, down = dict(params), dict(params)
    up[name] += h
    down[name] -= h
    return (expectation(ref, up) - expectation(ref, down)) / (2 * h)


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_pathwise_gradient_of_expectation_matches_quadrature(name, budget):
    family, params, ref = CASES[name]
    n = budget(100_000, 40_000)
    samples = pathwise_samples(family, params, df, family.draw_eps(np.random.default_rng(10), (n,)))
    for param in family.param_names:
        g = samples[param]
        assert g.shape == (n,)
        se = g.std(ddof=1) / np.sqrt(n)
        assert abs(g.mean() - quadrature_gradient(ref, params, param)) <= 5 * se + 1e-7, param


# ----------------------------------------------------------------------------
# Constraints and the registry
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_bad_parameters_raise(name):
    family, params, _ = CASES[name]
    eps = family.draw_eps(np.random.default_rng(0), (3,))
    for param, value in params.items():
        wrong = -1.0 if family.constraints[param].text == "> 0" else np.nan
        bad = {**params, param: np.array([value, wrong, value])}
        with pytest.raises(ValueError, match=rf"{family.name}.*'{param}'"):
            family.sample_forward(bad, eps)
    with pytest.raises(ValueError, match="missing"):
        family.sample_forward({}, eps)
    with pytest.raises(ValueError, match="unexpected"):
        family.log_prob(np.ones(3), {**params, "oops": 1.0})


@pytest.mark.parametrize("name", SCALAR_IDS)
def test_noise_outside_its_support_raises(name):
    family, params, _ = CASES[name]
    eps = family.draw_eps(np.random.default_rng(0), (2,))
    eps[0] = 1.0 if family.noise in ("U(0, 1)",) else np.inf
    with pytest.raises(ValueError, match=rf"{family.name}: noise eps"):
        family.sample_forward(params, eps)


@pytest.mark.parametrize("family,params,z", [
    (Exponential(), {"rate": 1.0}, -0.5), (Rayleigh(), {"scale": 1.0}, 0.0),
    (Pareto(), {"scale": 2.0, "alpha": 3.0}, 1.5), (Weibull(), {"scale": 1.0, "shape": 2.0}, -1.0),
    (Gompertz(), {"eta": 1.0, "scale": 1.0}, -0.1), (Reciprocal(), {"low": 1.0, "high": 2.0}, 2.5),
    (Uniform(), {"loc": 0.0, "scale": 1.0}, 1.5), (Triangular(0.5), {"loc": 0.0, "scale": 1.0}, -0.1),
    (LogNormal(), {"mu": 0.0, "sigma": 1.0}, 0.0), (Erlang(2), {"rate": 1.0}, -1.0),
    (ChiSquared(2), {}, -1.0), (Beta(2, 2), {}, 1.5), (F(2, 2), {}, 0.0),
    (Gaussian(), {"loc": 0.0, "scale": 1.0}, np.inf),
], ids=lambda v: repr(v) if not isinstance(v, (dict, float)) else "")
def test_z_outside_the_support_raises(family, params, z):
    with pytest.raises(ValueError, match=rf"{family.name}: .*outside the support"):
        family.log_prob(np.array([1.0, z]) if family.name != "pareto" else np.array([2.5, z]), params)


def test_dirichlet_off_the_simplex_raises():
    with pytest.raises(ValueError, match="outside the support"):
        DIRICHLET.log_prob(np.array([0.5, 0.3, 0.3]), {})
    with pytest.raises(ValueError, match="last axis of length 3"):
        DIRICHLET.log_prob(np.array([0.5, 0.5]), {})


def test_joint_and_hyperparameter_constraints_raise():
    with pytest.raises(ValueError, match="low < high"):
        Reciprocal().sample_forward({"low": 2.0, "high": 1.0}, np.array([0.5]))
    with pytest.raises(ValueError, match="whole number.*implicit reparameterization"):
        Erlang(k=2.5)
    with pytest.raises(ValueError, match="must be even"):
        ChiSquared(dof=3)
    with pytest.raises(ValueError, match="must be even"):
        F(d1=4, d2=5)
    with pytest.raises(ValueError, match="positive whole number"):
        Beta(a=0, b=1)
    with pytest.raises(ValueError, match="at least 2"):
        Dirichlet(alpha=(3,))
    with pytest.raises(ValueError, match="open interval"):
        Triangular(c=1.0)
    with pytest.raises(ValueError, match="dof"):
        StudentT(dof=0.0)
    with pytest.raises(ValueError, match="noise axes"):
        Erlang(k=3).sample_forward({"rate": 1.0}, np.full((4, 2), 0.5))


def test_registry():
    for key, cls in FAMILIES.items():
        assert isinstance(get_family(key), cls)
    assert isinstance(get_family("erlang", k=4), Erlang) and get_family("erlang", k=4).k == 4
    assert isinstance(get_family("location_scale/logistic"), Logistic)
    with pytest.raises(ValueError, match="ambiguous"):
        get_family("logistic")
    with pytest.raises(ValueError, match="unknown family"):
        get_family("gamma")


def test_open_uniform_stays_inside_the_open_interval():
    u = open_uniform(np.random.default_rng(0), (1_000_000,))
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    with pytest.raises(TypeError):
        open_uniform(np.random.RandomState(0), (3,))


# ----------------------------------------------------------------------------
# Properties over random parameters (hypothesis)
# ----------------------------------------------------------------------------

LOCATION_SCALE = ["cauchy", "logistic-icdf", "gumbel", "gaussian", "laplace", "logistic", "uniform",
                  "triangular", "student_t"]


@pytest.mark.parametrize("name", LOCATION_SCALE)
@given(seed=seeds(), loc=floats(-3.0, 3.0), log_scale=floats(-2.0, 2.0))
def test_location_scale_sample_and_density_at_random_parameters(name, seed, loc, log_scale):
    family, _, ref = CASES[name]
    params = {"loc": loc, "scale": float(np.exp(log_scale))}
    eps = family.draw_eps(np.random.default_rng(seed), (6,))
    z, cache = family.sample_forward(params, eps)
    standard, _ = family.sample_forward({"loc": 0.0, "scale": 1.0}, eps)
    np.testing.assert_allclose(z, loc + params["scale"] * standard, rtol=1e-12, atol=1e-12)
    grads = family.sample_backward(np.ones_like(z), cache)
    assert grads["loc"] == pytest.approx(6.0) and grads["scale"] == pytest.approx(standard.sum())
    assert rel(family.log_prob(z, params), ref(params).logpdf(z)) <= LOGPDF_RTOL


@given(seed=seeds(), k=hyp_st.integers(1, 6), log_rate=floats(-2.0, 2.0))
def test_erlang_at_random_shapes_and_rates(seed, k, log_rate):
    family, rate = Erlang(k=k), float(np.exp(log_rate))
    z = family.sample({"rate": rate}, np.random.default_rng(seed), (8,))
    assert np.all(z > 0)
    assert rel(family.log_prob(z, {"rate": rate}), st.gamma(k, scale=1 / rate).logpdf(z)) <= LOGPDF_RTOL


@given(data=hyp_st.data())
def test_sum_to_param_undoes_broadcasting(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    trailing = shape[data.draw(hyp_st.integers(0, len(shape))):]
    param_shape = tuple(data.draw(hyp_st.sampled_from([1, n])) for n in trailing)
    g = np.random.default_rng(data.draw(seeds())).standard_normal(shape)
    expected = np.zeros(param_shape)  # brute force: every entry of g goes to the entry it broadcast from
    for index in np.ndindex(shape):
        tail = index[len(shape) - len(param_shape):]
        expected[tuple(0 if n == 1 else i for i, n in zip(tail, param_shape))] += g[index]
    np.testing.assert_allclose(sum_to_param(g, param_shape), expected, rtol=1e-12, atol=1e-12)
