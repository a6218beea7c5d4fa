"""The App. D estimator (minivae.marginal.appendix_d): agreement with quadrature (tanh Bernoulli
decoder, 1-D and 2-D latents) and with the closed form (linear Gaussian decoder), the ELBO below
all of them, the delta-method standard error on independent weights, the fitted densities, and
the step-size jitter that keeps HMC from standing still on a Gaussian posterior."""
import re

import numpy as np
import pytest
from scipy.stats import gaussian_kde, multivariate_normal

from marginal_cases import (binary_rows, linear_gaussian, linear_gaussian_log_px,
                            linear_gaussian_rows, tiny_bernoulli)
from minivae import VAE
from minivae.cli.commands import build_parser
from minivae.marginal import (HMC, MarginalEstimate, appendix_d_log_px, importance_log_px,
                              quadrature_log_px)
from minivae.marginal.appendix_d import (KDE_FACTORS, _draw, delta_method, gaussian_log_density,
                                         kde_factor, kde_log_density)


# -- the estimator against exact values ----------------------------------------------------------
@pytest.mark.parametrize("J", [1, 2])
def test_agrees_with_quadrature_and_importance_sampling_above_the_elbo(J, budget):
    model = tiny_bernoulli(J)
    X = binary_rows(4, 12)
    log_px = quadrature_log_px(model, X)
    est = appendix_d_log_px(model, X, n_samples=budget(1000, 600), thin=2, rng=J,
                            init="prior" if J == 1 else "encoder")
    assert isinstance(est, MarginalEstimate)
    assert est.log_px.shape == est.stderr.shape == est.acceptance.shape == (12,)
    assert np.abs(est.log_px - log_px).max() < 0.1
    iwae = importance_log_px(model, X, k=10000, rng=np.random.default_rng(0))
    assert np.abs(est.log_px - iwae).max() < 0.1
    elbo = model.elbo(X, L=4000, rng=np.random.default_rng(2))
    assert np.all(elbo < est.log_px) and np.all(elbo < log_px) and np.all(elbo < iwae)
    assert np.mean(log_px - elbo) > 0.15  # q is not the posterior: the bound has a gap
    # tuned to 90%; the step-size jitter spreads each row's rate a little around it
    assert abs(est.acceptance.mean() - 0.9) < 0.04 and np.all(est.acceptance > 0.75)


@pytest.mark.parametrize("J, density", [(2, "gaussian"), (3, "gaussian"), (2, "kde")])
def test_agrees_with_the_closed_form_gaussian_decoder(J, density, budget):
    model = linear_gaussian(J)
    X = linear_gaussian_rows(model, 1, 10)
    est = appendix_d_log_px(model, X, n_samples=budget(1000, 600), thin=2, density=density, rng=0)
    exact = linear_gaussian_log_px(model, X)
    assert np.abs(est.log_px - exact).max() < 0.1
    assert np.all(model.elbo(X, L=4000, rng=np.random.default_rng(2)) < est.log_px)


def test_paper_protocol_is_the_default_and_right_on_average():
    # App. E: 50 posterior samples, 4 leapfrog steps, 90% acceptance. One datapoint's estimate
    # then scatters by a few tenths of a nat, but the average over rows is within 0.1 nat.
    model = tiny_bernoulli(2)
    X = binary_rows(8, 40)
    est = appendix_d_log_px(model, X, rng=3)
    assert abs(np.mean(est.log_px - quadrature_log_px(model, X))) < 0.1
    assert abs(est.acceptance.mean() - 0.9) < 0.03
    assert np.all(est.stderr > 0) and np.all(np.isfinite(est.stderr))


# -- the pieces ----------------------------------------------------------------------------------
def test_delta_method_standard_error_matches_the_spread_of_independent_replicates():
    # log w = log(q / p(x, z)) iid; each column is a replicate. The estimate is -log mean(w) and
    # its spread across replicates is what the delta method predicts. A huge offset in log w
    # (weights that overflow if exponentiated) moves the estimate and nothing else.
    rng = np.random.default_rng(0)
    log_w = 0.5 * rng.standard_normal((400, 4000)) + 7.0
    log_px, stderr = delta_method(log_w)
    np.testing.assert_allclose(log_px, -np.log(np.mean(np.exp(log_w), axis=0)), rtol=1e-12)
    assert abs(np.std(log_px) / np.mean(stderr) - 1) < 0.05
    shifted_px, shifted_se = delta_method(log_w + 1e4)
    np.testing.assert_allclose(shifted_px, log_px - 1e4, rtol=1e-12)
    np.testing.assert_allclose(shifted_se, stderr, rtol=1e-10)


def test_gaussian_density_is_the_sample_gaussian():
    rng = np.random.default_rng(1)
    Z_fit = rng.standard_normal((30, 3, 2)) @ np.array([[1.0, 0.5], [0.0, 0.3]]) + 2.0
    Z_eval = rng.standard_normal((7, 3, 2))
    got = gaussian_log_density(Z_fit, Z_eval)
    for i in range(3):
        ref = multivariate_normal(Z_fit[:, i].mean(0), np.cov(Z_fit[:, i].T)).logpdf(Z_eval[:, i])
        np.testing.assert_allclose(got[:, i], ref, rtol=1e-12)


def test_kde_bandwidth_is_chosen_on_held_out_samples():
    # Scott's rule suits one Gaussian and oversmooths two narrow, distant modes: held-out
    # log-likelihood picks a smaller multiple for the mixture.
    rng = np.random.default_rng(2)
    gaussian = rng.standard_normal((400, 1))
    modes = np.where(rng.random((400, 1)) < 0.5, -3.0, 3.0) + 0.2 * rng.standard_normal((400, 1))
    assert 0.6 <= kde_factor(gaussian) <= 2.0
    assert kde_factor(modes) <= 0.4
    # the fitted KDE is a density close to the truth: average log density at fresh points
    fresh = rng.standard_normal((2000, 1, 1))
    log_q = kde_log_density(gaussian[:, None, :], fresh)
    assert abs(log_q.mean() - (-0.5 * np.log(2 * np.pi * np.e))) < 0.05


def test_jitter_keeps_hmc_moving_where_a_fixed_step_size_resonates():
    # On N(0, 1), leapfrog with step sqrt(2) is a quarter turn: four steps return (z, p) to
    # where it started, every proposal is accepted and the chain never moves.
    def std_normal(Z):
        return -0.5 * np.sum(Z * Z, axis=1), -Z

    rng = np.random.default_rng(0)
    fixed = HMC(std_normal, rng.standard_normal((200, 1)), step_size=np.sqrt(2.0), rng=1)
    Z, acceptance = _draw(fixed, 100, 1, 0.0, rng)
    assert np.all(acceptance > 0.99) and np.abs(Z - Z[0]).max() < 1e-8
    jittered = HMC(std_normal, rng.standard_normal((200, 1)), step_size=np.sqrt(2.0), rng=1)
    Z, _ = _draw(jittered, 100, 1, 0.2, rng)
    assert abs(Z.var() - 1.0) < 0.1 and np.all(Z.std(axis=0) > 0.3)
    np.testing.assert_allclose(jittered.step_size, np.sqrt(2.0))  # restored after sampling


def test_reproducible_for_a_seed():
    model = tiny_bernoulli(1)
    X = binary_rows(0, 4)
    a = appendix_d_log_px(model, X, n_samples=20, burn_in=20, rng=5)
    b = appendix_d_log_px(model, X, n_samples=20, burn_in=20, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.log_px, b.log_px)


@pytest.mark.parametrize("kwargs, match", [
    (dict(density="histogram"), "density"), (dict(init="posterior"), "init"),
    (dict(init=np.zeros((3, 2))), "init"), (dict(n_samples=3), "n_samples"),
    (dict(density="gaussian", n_samples=2), "n_samples"), (dict(jitter=1.0), "jitter")])
def test_rejects_bad_arguments(kwargs, match):
    model = tiny_bernoulli(2)
    with pytest.raises(ValueError, match=match):
        appendix_d_log_px(model, binary_rows(0, 4), burn_in=2, **kwargs)


@pytest.mark.parametrize("fit", [kde_log_density, gaussian_log_density])
def test_a_stuck_chain_is_a_clear_error(fit):
    Z = np.random.default_rng(0).standard_normal((20, 3, 2))
    Z[:, 1] = 0.5  # row 1 never moved
    with pytest.raises(ValueError, match="row 1") as info:
        fit(Z, Z)
    # the hint names flags that `minivae evaluate` has (it named burn_in and thin, which it has not)
    flags = re.findall(r"--[a-z-]+", str(info.value))
    evaluate = build_parser()._subparsers._group_actions[0].choices["evaluate"]
    assert flags and set(flags) <= set(evaluate._option_string_actions)


def test_summary_is_the_mean_over_rows_with_the_rows_errors_combined():
    est = MarginalEstimate(np.array([-3.0, -5.0]), np.array([0.3, 0.4]), np.array([0.8, 1.0]))
    assert est.summary() == pytest.approx({"log_px": -4.0, "mc_stderr": 0.25, "acceptance": 0.9})


# -- 20 latent dimensions with the paper's 50 samples (the README's model) -----------------------
def repeated_samples(rng, n=50, J=20, distinct_first_half=18):
    """``n`` HMC-like samples in ``J`` dimensions whose first half holds only
    ``distinct_first_half`` distinct points (rejected moves repeat the previous sample), so that
    half's covariance is singular while all ``n`` samples span the space."""
    Z = rng.standard_normal((n, J))
    half = n // 2
    for k in range(distinct_first_half, half):
        Z[k] = Z[k - 1]
    assert np.linalg.matrix_rank(np.cov(Z[:half].T)) < J <= np.linalg.matrix_rank(np.cov(Z.T))
    return Z


def test_kde_fits_samples_whose_half_does_not_span_the_latent_space():
    """Each half borrows the covariance of all the samples; the KDE on all of them is scipy's."""
    rng = np.random.default_rng(0)
    Z = repeated_samples(rng)
    fresh = rng.standard_normal((30, 20))
    log_q = kde_log_density(Z[:, None, :], fresh[:, None, :])[:, 0]
    c = kde_factor(Z)
    ref = gaussian_kde(Z.T, bw_method=c * 50 ** (-1.0 / 24)).logpdf(fresh.T)
    np.testing.assert_allclose(log_q, ref, rtol=1e-10)


def test_kde_matches_scipy_where_the_halves_span():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((60, 1, 3)) @ np.array([[1.0, 0.4, 0.0], [0.0, 0.5, 0.2], [0, 0, 2.0]])
    fresh = rng.standard_normal((25, 1, 3))
    c = kde_factor(Z[:, 0])
    ref = gaussian_kde(Z[:, 0].T, bw_method=c * 60 ** (-1.0 / 7)).logpdf(fresh[:, 0].T)
    np.testing.assert_allclose(kde_log_density(Z, fresh)[:, 0], ref, rtol=1e-10)
    halves = (Z[:30, 0], Z[30:, 0])  # the held-out score the bandwidth is chosen by
    scores = [sum(gaussian_kde(a.T, bw_method=f * 30 ** (-1.0 / 7)).logpdf(b.T).sum()
                  for a, b in (halves, halves[::-1])) for f in KDE_FACTORS]
    assert c == KDE_FACTORS[int(np.argmax(scores))]


def test_paper_protocol_runs_with_20_latents():
    """The README's ``evaluate --marginal hmc`` on a 20-latent model: 50 samples, 4 leapfrog
    steps, the KDE. It used to stop with "singular covariance" for some row."""
    model = VAE(16, n_hidden=8, n_latent=20, init_std=0.5, seed=0)
    X = binary_rows(1, 20, D=16)
    est = appendix_d_log_px(model, X, rng=0)
    assert np.all(np.isfinite(est.log_px)) and np.all(np.isfinite(est.stderr))
    assert abs(est.acceptance.mean() - 0.9) < 0.05


@pytest.mark.slow
def test_in_20_dimensions_the_paper_protocol_overestimates_and_200_samples_of_a_gaussian_do_not(budget):
    """What the README's 20-latent model can expect, on factor analysis (D = 60, J = 20), whose
    log p(x) is known: with 50 samples a KDE (and less so a Gaussian) fitted in 20 dimensions
    puts too little mass where the posterior has it, and log p(x) comes out too high on
    average; 200 samples of a Gaussian fit come close. Printed with ``-s``."""
    model = linear_gaussian(20, D=60)
    X = linear_gaussian_rows(model, 1, budget(40, 20))
    exact = linear_gaussian_log_px(model, X)
    error = {}
    for density, n_samples in (("kde", 50), ("gaussian", 50), ("gaussian", 200)):
        est = appendix_d_log_px(model, X, n_samples=n_samples, density=density, rng=0)
        error[density, n_samples] = float(np.mean(est.log_px - exact))
    print("mean error of log p(x), nats:", error)
    assert error["kde", 50] > 1.0
    assert error["kde", 50] > error["gaussian", 50] > error["gaussian", 200]
    assert abs(error["gaussian", 200]) < 0.3
