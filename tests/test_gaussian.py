"""Tests for minivae.gaussian (sampler, KL, log-densities) and minivae.broadcast.sum_to_shape.

Every forward/backward pair is checked by central differences with a random upstream gradient
at the single-op tolerance 1e-7. Backward passes sum over the feature axis (inside a
log-density) and over the sample axis L (when ``eps``/``z`` is ``(L, M, J)``), so the inputs are
drawn with the sign structure of ``strategies.py`` that keeps every true entry bounded away
from zero. Values are compared with ``scipy.stats``; the statistical properties (moments of
the sampler, KL >= 0 and its Monte Carlo estimate) are in ``test_distributions.py``.
"""

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from minivae.broadcast import sum_to_shape
from minivae.gaussian import (LOG_2PI, kl_backward, kl_forward, log_normal_backward,
                              log_normal_forward, log_q_backward, log_q_forward,
                              log_standard_normal_backward, log_standard_normal_forward,
                              sample_backward, sample_forward)
from minivae.gradcheck import check_vjp
from strategies import (dims, finite_arrays, floats, log_normal_inputs, magnitudes, seeds,
                        sign_arrays, signed_arrays)

SINGLE_OP_TOL = 1e-7  # docs/design.md, the tolerance ladder


# ----------------------------------------------------------------------------
# Reparameterized sampler z = mu + exp(logvar / 2) * eps
# ----------------------------------------------------------------------------


@st.composite
def sample_inputs(draw, with_L):
    """``mu, logvar (M, J)``, ``eps`` and ``dz`` of shape ``(M, J)`` or ``(L, M, J)``.

    The signs of ``eps`` and ``dz`` are shared along L, so that the sums over L in
    ``dmu = sum_l dz`` and ``dlogvar = sum_l dz sigma eps / 2`` do not cancel.
    """
    L, M, J = (draw(dims(3)) if with_L else None), draw(dims(5)), draw(dims(4))
    mu = draw(finite_arrays((M, J)))
    logvar = draw(finite_arrays((M, J), floats(-2.0, 2.0)))
    full = (L, M, J) if with_L else (M, J)
    eps = draw(sign_arrays((M, J))) * draw(magnitudes(full))
    dz = draw(sign_arrays((M, J))) * draw(magnitudes(full))
    return mu, logvar, eps, dz


@pytest.mark.parametrize("with_L", [False, True], ids=["eps(M,J)", "eps(L,M,J)"])
@given(data=st.data())
def test_sample_vjp(with_L, data):
    mu, logvar, eps, dz = data.draw(sample_inputs(with_L))
    z, cache = sample_forward(mu, logvar, eps)
    assert z.shape == eps.shape
    dmu, dlogvar = sample_backward(dz, cache)
    assert dmu.shape == dlogvar.shape == mu.shape
    check_vjp(lambda: sample_forward(mu, logvar, eps)[0], {"mu": mu, "logvar": logvar}, dz,
              {"mu": dmu, "logvar": dlogvar}, tol=SINGLE_OP_TOL)


@given(seeds(), dims(3), dims(5), dims(4))
def test_sample_forward_values(seed, L, M, J):
    rng = np.random.default_rng(seed)
    mu, logvar, eps = rng.standard_normal((M, J)), rng.standard_normal((M, J)), rng.standard_normal((L, M, J))
    z, _ = sample_forward(mu, logvar, eps)
    sigma = np.sqrt(np.exp(logvar))  # the standard deviation, not exp(logvar)
    for l in range(L):
        np.testing.assert_allclose(z[l], mu + sigma * eps[l], rtol=1e-14, atol=1e-14)


def test_sample_forward_with_zero_noise_returns_mu():
    mu, logvar = np.array([[1.0, -2.0]]), np.array([[3.0, -3.0]])
    np.testing.assert_array_equal(sample_forward(mu, logvar, np.zeros((4, 1, 2)))[0][2], mu[0][None])


def test_sample_with_tiny_variance_is_finite():
    mu, logvar = np.array([[0.3, -1.0]]), np.full((1, 2), -100.0)
    eps = np.array([[[1.0, -2.0]], [[0.5, 3.0]]])
    z, cache = sample_forward(mu, logvar, eps)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z, np.broadcast_to(mu, z.shape), rtol=1e-15)
    dmu, dlogvar = sample_backward(np.ones_like(z), cache)
    assert np.all(np.isfinite(dmu)) and np.all(np.isfinite(dlogvar))
    np.testing.assert_array_equal(dmu, [[2.0, 2.0]])


def test_sample_backward_does_not_mutate_cache_or_upstream():
    rng = np.random.default_rng(4)
    mu, logvar, eps = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.standard_normal((5, 3, 2))
    dz = rng.standard_normal((5, 3, 2))
    _, cache = sample_forward(mu, logvar, eps)
    before = (cache.eps.copy(), cache.sigma.copy(), dz.copy())
    first = sample_backward(dz, cache)
    second = sample_backward(dz, cache)
    for now, then in zip((cache.eps, cache.sigma, dz), before):
        np.testing.assert_array_equal(now, then)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------
# KL(q || N(0, I)) (App. B)
# ----------------------------------------------------------------------------


@given(data=st.data())
def test_kl_vjp(data):
    M, J = data.draw(dims(5)), data.draw(dims(4))
    mu = data.draw(signed_arrays((M, J)))  # dKL/dmu = mu: away from 0
    logvar = data.draw(signed_arrays((M, J), 0.5, 2.0))  # dKL/dlogvar = (e^logvar - 1)/2: away from 0
    dkl = data.draw(finite_arrays(M))
    kl, cache = kl_forward(mu, logvar)
    assert kl.shape == (M,)
    dmu, dlogvar = kl_backward(dkl, cache)
    check_vjp(lambda: kl_forward(mu, logvar)[0], {"mu": mu, "logvar": logvar}, dkl,
              {"mu": dmu, "logvar": dlogvar}, tol=SINGLE_OP_TOL)


@given(dims(5), dims(4))
def test_kl_is_exactly_zero_at_the_prior(M, J):
    kl, cache = kl_forward(np.zeros((M, J)), np.zeros((M, J)))
    np.testing.assert_array_equal(kl, np.zeros(M))
    dmu, dlogvar = kl_backward(np.ones(M), cache)
    np.testing.assert_array_equal(dmu, 0.0)
    np.testing.assert_array_equal(dlogvar, 0.0)


@given(seeds(), dims(5), dims(4))
def test_kl_equals_cross_entropy_minus_entropy(seed, M, J):
    """KL(q || p) = H(q, p) - H(q), with the entropy of q from scipy."""
    rng = np.random.default_rng(seed)
    mu, logvar = rng.standard_normal((M, J)), rng.standard_normal((M, J))
    sigma = np.exp(0.5 * logvar)
    entropy = scipy.stats.norm(mu, sigma).entropy().sum(axis=-1)
    cross_entropy = 0.5 * np.sum(LOG_2PI + mu**2 + sigma**2, axis=-1)  # E_q[-log N(z; 0, 1)]
    np.testing.assert_allclose(kl_forward(mu, logvar)[0], cross_entropy - entropy, rtol=1e-10, atol=1e-12)


def test_kl_known_value():
    # one dimension, mu = 1, sigma^2 = e: KL = (-1 - 1 + 1 + e) / 2 = (e - 1) / 2
    assert kl_forward(np.array([[1.0]]), np.array([[1.0]]))[0][0] == pytest.approx((np.e - 1) / 2, rel=1e-15)


@pytest.mark.parametrize("logvar", [-100.0, 100.0])
def test_kl_and_its_gradient_are_finite_at_extreme_logvar(logvar):
    mu, lv = np.array([[0.5, -2.0]]), np.full((1, 2), logvar)
    kl, cache = kl_forward(mu, lv)
    dmu, dlogvar = kl_backward(np.ones(1), cache)
    assert np.all(np.isfinite(kl)) and kl[0] > 0
    assert np.all(np.isfinite(dmu)) and np.all(np.isfinite(dlogvar))
    # -0.5 * sum(1 + logvar - mu^2 - e^logvar), term by term
    expected = -0.5 * sum(1.0 + logvar - m**2 - np.exp(logvar) for m in (0.5, -2.0))
    assert kl[0] == pytest.approx(expected, rel=1e-14)


def test_kl_backward_does_not_mutate_cache_or_upstream():
    rng = np.random.default_rng(5)
    mu, logvar, dkl = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.standard_normal(3)
    _, cache = kl_forward(mu, logvar)
    before = (cache.mu.copy(), cache.var_minus_1.copy(), dkl.copy())
    kl_backward(dkl, cache)
    for now, then in zip((cache.mu, cache.var_minus_1, dkl), before):
        np.testing.assert_array_equal(now, then)


# ----------------------------------------------------------------------------
# log N(z; 0, I), the prior over z
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("lead", [1, 2], ids=["z(M,J)", "z(L,M,J)"])
@given(data=st.data())
def test_log_standard_normal_vjp(lead, data):
    shape = tuple(data.draw(dims(4)) for _ in range(lead)) + (data.draw(dims(4)),)
    z = data.draw(signed_arrays(shape))  # d/dz = -z: away from 0
    dout = data.draw(finite_arrays(shape[:-1]))
    out, cache = log_standard_normal_forward(z)
    assert out.shape == shape[:-1]
    dz = log_standard_normal_backward(dout, cache)
    check_vjp(lambda: log_standard_normal_forward(z)[0], {"z": z}, dout, {"z": dz}, tol=SINGLE_OP_TOL)


@pytest.mark.parametrize("J", [1, 2, 5])
def test_log_standard_normal_at_zero(J):
    out, _ = log_standard_normal_forward(np.zeros((3, J)))
    np.testing.assert_allclose(out, np.full(3, -0.5 * J * np.log(2 * np.pi)), rtol=1e-15)


@given(seeds(), dims(3), dims(4), dims(4))
def test_log_standard_normal_matches_scipy(seed, L, M, J):
    z = 2.0 * np.random.default_rng(seed).standard_normal((L, M, J))
    expected = scipy.stats.multivariate_normal(mean=np.zeros(J), cov=np.eye(J)).logpdf(z.reshape(-1, J))
    np.testing.assert_allclose(log_standard_normal_forward(z)[0], np.reshape(expected, (L, M)), rtol=1e-12)


# ----------------------------------------------------------------------------
# log N(x; mean, diag(exp(logvar))) and log q(z|x)
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("broadcast", ["none", "x", "params"],
                         ids=["same shapes", "x(L,M,J) vs mean(M,J)", "x(M,J) vs mean(L,M,J)"])
@given(data=st.data())
def test_log_normal_vjp(broadcast, data):
    x, mean, logvar, dout = data.draw(log_normal_inputs(broadcast))
    out, cache = log_normal_forward(x, mean, logvar)
    assert out.shape == dout.shape
    dx, dmean, dlogvar = log_normal_backward(dout, cache)
    assert (dx.shape, dmean.shape, dlogvar.shape) == (x.shape, mean.shape, logvar.shape)
    check_vjp(lambda: log_normal_forward(x, mean, logvar)[0], {"x": x, "mean": mean, "logvar": logvar},
              dout, {"x": dx, "mean": dmean, "logvar": dlogvar}, tol=SINGLE_OP_TOL)


@pytest.mark.parametrize("broadcast", ["none", "x"], ids=["z(M,J)", "z(L,M,J)"])
@given(data=st.data())
def test_log_q_vjp(broadcast, data):
    z, mu, logvar, dout = data.draw(log_normal_inputs(broadcast))
    out, cache = log_q_forward(z, mu, logvar)
    assert out.shape == z.shape[:-1]
    dz, dmu, dlogvar = log_q_backward(dout, cache)
    check_vjp(lambda: log_q_forward(z, mu, logvar)[0], {"z": z, "mu": mu, "logvar": logvar}, dout,
              {"z": dz, "mu": dmu, "logvar": dlogvar}, tol=SINGLE_OP_TOL)


@given(seeds(), dims(3), dims(4), dims(4))
def test_log_normal_matches_scipy_with_broadcasting(seed, L, M, J):
    rng = np.random.default_rng(seed)
    x, mean, logvar = rng.standard_normal((L, M, J)), rng.standard_normal((M, J)), rng.standard_normal((M, J))
    expected = scipy.stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * logvar)).sum(axis=-1)
    np.testing.assert_allclose(log_normal_forward(x, mean, logvar)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(log_normal_forward(mean, x, logvar)[0], expected, rtol=1e-12)


@given(seeds(), dims(3), dims(4), dims(4))
def test_log_q_matches_scipy_multivariate_normal(seed, L, M, J):
    rng = np.random.default_rng(seed)
    mu, logvar = rng.standard_normal((M, J)), rng.standard_normal((M, J))
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((L, M, J))
    log_qz, _ = log_q_forward(z, mu, logvar)
    assert log_qz.shape == (L, M)
    for m in range(M):
        q = scipy.stats.multivariate_normal(mean=mu[m], cov=np.diag(np.exp(logvar[m])))
        np.testing.assert_allclose(log_qz[:, m], q.logpdf(z[:, m, :]), rtol=1e-11)


@pytest.mark.parametrize("logvar", [-100.0, 100.0])
def test_log_normal_and_its_gradient_are_finite_at_extreme_logvar(logvar):
    x, mean, lv = np.array([[[0.5, -1.0]], [[2.0, 0.0]]]), np.array([[0.0, 1.0]]), np.full((1, 2), logvar)
    out, cache = log_normal_forward(x, mean, lv)
    grads = log_normal_backward(np.ones(out.shape), cache)
    assert np.all(np.isfinite(out))
    assert all(np.all(np.isfinite(g)) for g in grads)
    expected = scipy.stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * logvar)).sum(axis=-1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_log_normal_backward_does_not_mutate_cache_or_upstream():
    rng = np.random.default_rng(6)
    x, mean, logvar = rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    dout = rng.standard_normal((4, 3))
    _, cache = log_normal_forward(x, mean, logvar)
    before = (cache.diff_over_var.copy(), cache.sq_over_var.copy(), dout.copy())
    first = log_normal_backward(dout, cache)
    second = log_normal_backward(dout, cache)
    for now, then in zip((cache.diff_over_var, cache.sq_over_var, dout), before):
        np.testing.assert_array_equal(now, then)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------
# sum_to_shape: the backward of broadcasting over leading axes
# ----------------------------------------------------------------------------


@given(seeds(), st.lists(dims(3), max_size=2), st.lists(dims(4), max_size=2))
def test_sum_to_shape_sums_the_leading_axes(seed, lead, shape):
    lead, shape = tuple(lead), tuple(shape)
    g = np.random.default_rng(seed).standard_normal(lead + shape)
    out = sum_to_shape(g, shape)
    assert out.shape == shape
    expected = g.reshape((-1,) + shape).sum(axis=0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@given(seeds(), st.lists(dims(3), max_size=2), st.lists(dims(4), max_size=2))
def test_sum_to_shape_is_the_adjoint_of_broadcasting(seed, lead, shape):
    """<broadcast_to(x), g> = <x, sum_to_shape(g)>: exactly the VJP of broadcasting."""
    lead, shape = tuple(lead), tuple(shape)
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal(shape), rng.standard_normal(lead + shape)
    lhs = np.sum(np.broadcast_to(x, lead + shape) * g)
    rhs = np.sum(x * sum_to_shape(g, shape))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_sum_to_shape_without_extra_axes_is_the_identity():
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(sum_to_shape(g, (2, 3)), g)


@pytest.mark.parametrize("g_shape, shape", [
    ((3, 4), (4, 3)),      # trailing axes differ
    ((4,), (3, 4)),        # the target has more axes than the gradient
    ((2, 3, 4), (2, 4)),   # trailing axes differ after the leading ones
    ((3, 4), (1, 4)),      # size-1 broadcasting is not a leading axis
    ((3, 4), [5]),
])
def test_sum_to_shape_rejects_impossible_shapes(g_shape, shape):
    with pytest.raises(ValueError, match="cannot reduce"):
        sum_to_shape(np.ones(g_shape), shape)


def test_kl_known_answers():
    """The values on docs/derivation/kl.md: KL(mu=2, log sigma=0) = 2, KL(mu=0, log sigma=1) = 2.194528."""
    kl, _ = kl_forward(np.array([[2.0], [0.0]]), np.array([[0.0], [2.0]]))
    np.testing.assert_allclose(kl, [2.0, 0.5 * (np.exp(2.0) - 3.0)], rtol=1e-15)
    assert kl[1] == pytest.approx(2.194528, abs=5e-7)
