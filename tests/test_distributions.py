"""Statistical tests: what gradient checks cannot see (docs/design.md, "Tests").

A model that is consistently wrong passes every gradient check: sampling with
``std = exp(logvar)`` and differentiating that faithfully gives a backward that agrees with
central differences. These tests compare the package with the distributions it claims to
implement:

(a) the reparameterized sampler has mean ``mu`` and variance ``exp(logvar)``;
(b) the analytic KL is >= 0, 0 at the prior, and equals E_q[log q(z) - log p(z)] estimated by
    Monte Carlo and computed by quadrature;
(c) the mean of estimator A (eq. 6) equals estimator B (eq. 7) on a small random VAE;
(d) for a VAE with a 1-D latent, log p(x) computed by quadrature bounds the exact ELBO, the
    gap equals KL(q(z|x) || p(z|x)), and the SGVB estimates agree with the quadrature ELBO.

Every statistical test has a fixed seed and a tolerance of ``Z = 5`` standard errors (a
two-sided 5-sigma band: a correct implementation fails with probability about 6e-7 per
compared quantity), with the standard error computed from the samples or from the
distribution under test, never tuned to pass. Sample sizes shrink in CI through ``budget``.
"""

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from minivae.gaussian import kl_forward, sample_forward
from minivae.model import VAE
from strategies import budget as budget_now
from strategies import dims, finite_arrays, floats, seeds

Z = 5.0  # standard errors
DECODERS = ["bernoulli", "gaussian"]


def _data(decoder, M, D, rng):
    """Binary data for a Bernoulli decoder, grey values in [0, 1] for a Gaussian one."""
    if decoder == "bernoulli":
        return (rng.uniform(size=(M, D)) < 0.5).astype(float)
    return rng.uniform(size=(M, D))


def _per_sample_bounds(model, X, eps, estimator):
    """The single-sample estimates of the bound, ``(L, M)``, for every row of ``eps (L, M, J)``.

    Row ``l * M + m`` of the tiled batch holds datapoint ``m`` with noise ``eps[l, m]``.
    """
    L, M, J = eps.shape
    bounds = model.elbo(np.tile(X, (L, 1)), eps.reshape(L * M, J), estimator)
    return bounds.reshape(L, M)


def _mean_and_se(samples):
    """Sample mean and its standard error along axis 0."""
    return samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])


# ----------------------------------------------------------------------------
# (a) moments of the reparameterized sampler
# ----------------------------------------------------------------------------


def _moments_agree(z, mu, var):
    """True if the sample mean and variance of ``z (N, ...)`` match ``mu`` and ``var`` within Z s.e.

    Standard errors under the claimed normal distribution: ``sqrt(var / N)`` for the mean and
    ``var * sqrt(2 / (N - 1))`` for the unbiased sample variance.
    """
    N = z.shape[0]
    mean_ok = np.abs(z.mean(axis=0) - mu) <= Z * np.sqrt(var / N)
    var_ok = np.abs(z.var(axis=0, ddof=1) - var) <= Z * var * np.sqrt(2.0 / (N - 1))
    return bool(np.all(mean_ok) and np.all(var_ok))


def _sampler_case(budget):
    rng = np.random.default_rng(20131220)  # arXiv 1312.6114
    M, J = 3, 4
    mu = rng.uniform(-2.0, 2.0, (M, J))
    logvar = rng.choice([-1.0, 1.0], (M, J)) * rng.uniform(0.5, 1.5, (M, J))  # |logvar| >= 0.5
    eps = rng.standard_normal((budget(100_000, 40_000), M, J))
    return mu, logvar, eps


def test_sampler_has_mean_mu_and_variance_exp_logvar(budget):
    mu, logvar, eps = _sampler_case(budget)
    z, _ = sample_forward(mu, logvar, eps)
    assert z.shape == eps.shape
    assert _moments_agree(z, mu, np.exp(logvar))


def test_moment_check_catches_std_equal_to_exp_logvar(budget):
    """The check above can fail: numpy-ml's bug, std = exp(logvar), is rejected."""
    mu, logvar, eps = _sampler_case(budget)
    assert not _moments_agree(mu + np.exp(logvar) * eps, mu, np.exp(logvar))
    assert not _moments_agree(mu + logvar * eps, mu, np.exp(logvar))


# ----------------------------------------------------------------------------
# (b) KL(q || N(0, I))
# ----------------------------------------------------------------------------


@given(st.data())
def test_kl_is_nonnegative(data):
    M, J = data.draw(dims(5)), data.draw(dims(4))
    mu = data.draw(finite_arrays((M, J), floats(-10.0, 10.0)))
    logvar = data.draw(finite_arrays((M, J), floats(-10.0, 10.0)))
    kl, _ = kl_forward(mu, logvar)
    assert np.all(kl >= 0)
    # and it grows away from the prior: KL >= mu^2 / 2 summed (the logvar part is >= 0)
    assert np.all(kl >= 0.5 * np.sum(mu**2, axis=-1) * (1 - 1e-12))


def test_kl_is_nonnegative_and_accurate_near_the_prior():
    logvar = np.array([[-5.4352682762991974e-11], [1e-8], [-1e-7], [1e-5]])
    kl, _ = kl_forward(np.zeros_like(logvar), logvar)
    exact = 0.5 * (np.expm1(logvar) - logvar)[:, 0]
    assert np.all(kl >= 0)
    np.testing.assert_allclose(kl, exact, rtol=1e-10)


@given(dims(5), dims(4))
def test_kl_is_zero_at_the_prior(M, J):
    np.testing.assert_array_equal(kl_forward(np.zeros((M, J)), np.zeros((M, J)))[0], np.zeros(M))


def test_kl_equals_its_monte_carlo_estimate(budget):
    """KL = E_q[log q(z) - log p(z)], with z ~ q drawn and both densities from scipy."""
    rng = np.random.default_rng(1312)
    M, J, N = 4, 3, budget(200_000, 50_000)
    mu, logvar = rng.uniform(-2.0, 2.0, (M, J)), rng.uniform(-2.0, 1.0, (M, J))
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * rng.standard_normal((N, M, J))
    log_ratio = (scipy.stats.norm.logpdf(z, mu, sigma) - scipy.stats.norm.logpdf(z)).sum(axis=-1)
    estimate, se = _mean_and_se(log_ratio)
    kl, _ = kl_forward(mu, logvar)
    assert np.all(np.abs(kl - estimate) <= Z * se), (kl, estimate, se)


def test_kl_equals_quadrature():
    """One dimension at a time, KL = int q log(q / p) dz by adaptive quadrature (deterministic)."""
    rng = np.random.default_rng(6114)
    mu, logvar = rng.uniform(-3.0, 3.0, 6), rng.uniform(-4.0, 3.0, 6)
    kl, _ = kl_forward(mu[:, None], logvar[:, None])
    for m, (mean, lv) in enumerate(zip(mu, logvar)):
        q = scipy.stats.norm(mean, np.exp(0.5 * lv))
        value, abserr = scipy.integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - scipy.stats.norm.logpdf(z)),
                                             -np.inf, np.inf, epsabs=1e-13, epsrel=1e-11)
        assert kl[m] == pytest.approx(value, rel=1e-8, abs=1e-10)


# ----------------------------------------------------------------------------
# (c) E[estimator A] = estimator B
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("decoder", DECODERS)
def test_estimator_a_is_unbiased_for_estimator_b(decoder, budget):
    """Same noise for both: A - B = mean_l [log p(z_l) - log q(z_l|x) + KL], of mean 0.

    The paired per-sample differences give the standard error of ``elbo(A) - elbo(B)``.
    """
    rng = np.random.default_rng(2013 + len(decoder))
    model = VAE(n_input=5, n_hidden=4, n_latent=2, decoder=decoder, init_std=0.3, seed=7)
    X = _data(decoder, 3, 5, rng)
    L = budget(50_000, 20_000)
    eps = rng.standard_normal((L, 3, 2))
    bound_a, bound_b = model.elbo(X, eps, "A"), model.elbo(X, eps, "B")
    per_a, per_b = _per_sample_bounds(model, X, eps, "A"), _per_sample_bounds(model, X, eps, "B")
    # elbo with L samples is the mean of the L single-sample estimates
    np.testing.assert_allclose(bound_a, per_a.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(bound_b, per_b.mean(axis=0), rtol=1e-10)
    _, se = _mean_and_se(per_a - per_b)
    assert np.all(se > 0)
    assert np.all(np.abs(bound_a - bound_b) <= Z * se), (bound_a, bound_b, se)


# ----------------------------------------------------------------------------
# (d) ELBO <= log p(x) for a 1-D latent, by quadrature
# ----------------------------------------------------------------------------


def _grid(mu, sigma):
    """Trapezoid nodes and log-weights covering N(0, 1) and every q(z|x) to 12 standard deviations.

    The step, at most 0.0025 and at most a 40th of the narrowest q, resolves every integrand;
    the trapezoid rule is spectrally accurate for smooth integrands that decay at both ends.
    """
    lo, hi = min(-12.0, np.min(mu - 12 * sigma)), max(12.0, np.max(mu + 12 * sigma))
    n = int(np.ceil((hi - lo) / min(0.0025, np.min(sigma) / 40))) + 1
    z = np.linspace(lo, hi, n)
    weights = np.full(n, z[1] - z[0])
    weights[[0, -1]] /= 2
    return z, np.log(weights)


def _quadrature(model, X):
    """Everything about a 1-D latent VAE on ``X (M, D)`` by quadrature over the grid of z.

    Returns
    -------
    dict with, per datapoint ``(M,)``: ``log_px`` = log int p(x|z) N(z; 0, 1) dz; ``elbo`` =
    E_q[log p(x|z) + log p(z) - log q(z|x)]; ``expected_loglik`` = E_q[log p(x|z)];
    ``kl_posterior`` = KL(q(z|x) || p(z|x)); ``q_mass`` = int q (should be 1); and ``mu``,
    ``logvar`` from the encoder.
    """
    M = X.shape[0]
    mu, logvar = model.encode(X)  # (M, 1)
    sigma = np.exp(0.5 * logvar[:, 0])
    z, log_weights = _grid(mu[:, 0], sigma)
    log_lik = model.log_likelihood(X, np.broadcast_to(z[:, None, None], (z.size, M, 1)))  # (G, M)
    log_prior = scipy.stats.norm.logpdf(z)[:, None]
    log_q = scipy.stats.norm.logpdf(z[:, None], mu[:, 0], sigma)  # (G, M)
    log_px = scipy.special.logsumexp(log_lik + log_prior + log_weights[:, None], axis=0)
    qw = np.exp(log_q + log_weights[:, None])
    log_posterior = log_lik + log_prior - log_px
    return {
        "log_px": log_px,
        "elbo": np.sum(qw * (log_lik + log_prior - log_q), axis=0),
        "expected_loglik": np.sum(qw * log_lik, axis=0),
        "kl_posterior": np.sum(qw * (log_q - log_posterior), axis=0),
        "q_mass": qw.sum(axis=0),
        "mu": mu,
        "logvar": logvar,
    }


def _tiny_model(decoder, seed, init_std=0.5):
    return VAE(n_input=4, n_hidden=3, n_latent=1, decoder=decoder, init_std=init_std, seed=seed)


@pytest.mark.parametrize("decoder", DECODERS)
def test_quadrature_of_log_px_agrees_with_adaptive_quad(decoder):
    """The grid is fine enough: log p(x) from the grid equals scipy's adaptive quad to 1e-9."""
    model = _tiny_model(decoder, seed=11)
    X = _data(decoder, 2, 4, np.random.default_rng(12))
    grid = _quadrature(model, X)
    np.testing.assert_allclose(grid["q_mass"], 1.0, rtol=0, atol=1e-10)
    for m in range(X.shape[0]):
        def integrand(z, m=m):
            log_lik = model.log_likelihood(X[m:m + 1], np.array([[[z]]]))[0, 0]
            return np.exp(log_lik + scipy.stats.norm.logpdf(z) - grid["log_px"][m])
        value, _ = scipy.integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-12, epsrel=1e-12)
        assert value == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("decoder", DECODERS)
@settings(max_examples=budget_now(20, 8))
@given(seed=seeds(), init_std=floats(0.1, 0.8))
def test_elbo_is_below_log_px_and_the_gap_is_kl_to_the_posterior(decoder, seed, init_std):
    model = _tiny_model(decoder, seed, init_std)
    X = _data(decoder, 3, 4, np.random.default_rng(seed))
    quad = _quadrature(model, X)
    np.testing.assert_allclose(quad["q_mass"], 1.0, rtol=0, atol=1e-9)
    # the exact ELBO with the package's analytic KL equals the fully numerical one
    kl, _ = kl_forward(quad["mu"], quad["logvar"])
    elbo = quad["expected_loglik"] - kl
    np.testing.assert_allclose(elbo, quad["elbo"], rtol=1e-9, atol=1e-9)
    # Jensen: the bound is below the evidence, and the gap is KL(q(z|x) || p(z|x)) >= 0
    assert np.all(elbo <= quad["log_px"])
    assert np.all(quad["kl_posterior"] >= 0)
    np.testing.assert_allclose(quad["log_px"] - elbo, quad["kl_posterior"], rtol=0, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("decoder", DECODERS)
def test_sgvb_estimates_agree_with_the_quadrature_elbo(decoder, budget):
    """Estimators A and B with many samples are unbiased for the exact (quadrature) ELBO."""
    rng = np.random.default_rng(1221)
    model = _tiny_model(decoder, seed=5)
    X = _data(decoder, 3, 4, rng)
    quad = _quadrature(model, X)
    assert np.all(quad["log_px"] - quad["elbo"] > 1e-4)  # q is not the posterior: a real gap
    L = budget(200_000, 50_000)
    eps = rng.standard_normal((L, 3, 1))
    for estimator in ("A", "B"):
        per_sample = _per_sample_bounds(model, X, eps, estimator)
        estimate, se = _mean_and_se(per_sample)
        np.testing.assert_allclose(model.elbo(X, eps, estimator), estimate, rtol=1e-10)
        assert np.all(np.abs(estimate - quad["elbo"]) <= Z * se), (estimator, estimate, quad["elbo"], se)
        # and the evidence is above the estimate by more than its noise
        assert np.all(estimate + Z * se < quad["log_px"])
