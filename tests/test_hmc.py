"""HMC: the leapfrog integrator (exact formula, reversibility, O(eps^2) energy error), the Metropolis
transition (acceptance probability, rejected rows unchanged), invariance of a known Gaussian,
convergence to it from a bad start, step-size adaptation, and the sampler's bookkeeping."""
import numpy as np
import pytest

import minivae
from minivae.marginal.hmc import HMC, STEP_SIZE_MAX, STEP_SIZE_MIN, hmc_step, leapfrog
from minivae.marginal.posterior import Posterior

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.9], [0.9, 1.0]])          # principal standard deviations 1.38 and 0.32


class Gaussian:
    """The target N(m, S) as a callable Z (M, J) -> (log density (M,), gradient (M, J))."""

    def __init__(self, mean=MEAN, cov=COV):
        self.mean, self.cov = np.asarray(mean, float), np.asarray(cov, float)
        self.precision = np.linalg.inv(self.cov)
        self.calls = 0

    def __call__(self, Z):
        self.calls += 1
        d = Z - self.mean
        Pd = d @ self.precision
        return -0.5 * np.sum(d * Pd, axis=1), -Pd

    def sample(self, rng, M):
        return rng.multivariate_normal(self.mean, self.cov, size=M)


class Banana:
    """A non-Gaussian target: z0 ~ N(0, 1), z1 | z0 ~ N(z0^2 / 2, 0.5^2)."""

    def __call__(self, Z):
        z0, z1 = Z[:, 0], Z[:, 1]
        r = (z1 - 0.5 * z0 ** 2) / 0.25
        log_p = -0.5 * z0 ** 2 - 0.5 * r * (z1 - 0.5 * z0 ** 2)
        return log_p, np.stack([-z0 + r * z0, -r], axis=1)


def _tiny_posterior(seed=0, M=4):
    rng = np.random.default_rng(seed)
    model = minivae.VAE(n_input=6, n_hidden=4, n_latent=2, init_std=1.0, seed=seed)
    X = (rng.random((M, 6)) < 0.5) * 1.0
    return Posterior(model, X), rng


def _hamiltonian(log_joint, p):
    return -log_joint + 0.5 * np.sum(p * p, axis=1)


def _check_moments(Z, target, n_se=4.5):
    """Sample mean and covariance of independent draws Z (N, 2) within n_se standard errors."""
    N = len(Z)
    m, S = target.mean, target.cov
    se_mean = np.sqrt(np.diag(S) / N)
    assert np.all(np.abs(Z.mean(0) - m) < n_se * se_mean), (Z.mean(0), m)
    # var of a sample covariance entry (Gaussian): (S_ij^2 + S_ii S_jj) / N
    se_cov = np.sqrt((S ** 2 + np.outer(np.diag(S), np.diag(S))) / N)
    assert np.all(np.abs(np.cov(Z.T) - S) < n_se * se_cov), (np.cov(Z.T), S)


# -- leapfrog -------------------------------------------------------------------------------------
def test_one_leapfrog_step_is_the_textbook_formula():
    target, rng = Banana(), np.random.default_rng(0)
    z, p = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    eps = rng.uniform(0.05, 0.3, 6)
    g = target(z)[1]
    z1, p1, lj1, g1 = leapfrog(target, z, p, eps, 1, g)
    e = eps[:, None]
    np.testing.assert_allclose(z1, z + e * (p + 0.5 * e * g), rtol=1e-14)
    np.testing.assert_allclose(p1, p + 0.5 * e * (g + target(z1)[1]), rtol=1e-14)
    np.testing.assert_array_equal(lj1, target(z1)[0])
    np.testing.assert_array_equal(g1, target(z1)[1])


@pytest.mark.parametrize("n_leapfrog", [1, 4, 10])
def test_leapfrog_is_reversible(n_leapfrog):
    posterior, rng = _tiny_posterior(1, M=6)
    z, p = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    eps = rng.uniform(0.05, 0.5, 6)
    z1, p1, _, g1 = leapfrog(posterior, z, p, eps, n_leapfrog, posterior(z)[1])
    assert np.all(np.abs(z1 - z) > 1e-3)                   # it went somewhere
    z2, p2, lj2, g2 = leapfrog(posterior, z1, -p1, eps, n_leapfrog, g1)
    np.testing.assert_allclose(z2, z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(p2, -p, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lj2, posterior(z)[0], rtol=1e-10)


def test_leapfrog_energy_error_shrinks_like_step_squared():
    # the same trajectory length T = n * eps with eps halved: |H_end - H_start| drops about 4x
    posterior, rng = _tiny_posterior(2, M=50)
    z, p = rng.standard_normal((50, 2)), rng.standard_normal((50, 2))
    lj, g = posterior(z)
    H0 = _hamiltonian(lj, p)
    errors = []
    for eps, n in [(0.04, 10), (0.02, 20), (0.01, 40)]:
        z1, p1, lj1, _ = leapfrog(posterior, z, p, eps, n, g)
        errors.append(np.mean(np.abs(_hamiltonian(lj1, p1) - H0)))
    assert errors[0] < 1e-2
    for coarse, fine in zip(errors, errors[1:]):
        assert 3.5 < coarse / fine < 4.5, errors


def test_leapfrog_per_row_step_sizes_equal_one_row_at_a_time():
    target, rng = Banana(), np.random.default_rng(3)
    z, p, eps = rng.standard_normal((5, 2)), rng.standard_normal((5, 2)), rng.uniform(0.1, 0.4, 5)
    z1, p1, _, _ = leapfrog(target, z, p, eps, 3, target(z)[1])
    for i in range(5):
        zi, pi, _, _ = leapfrog(target, z[i:i + 1], p[i:i + 1], eps[i], 3, target(z[i:i + 1])[1])
        np.testing.assert_allclose(z1[i], zi[0], rtol=1e-14)
        np.testing.assert_allclose(p1[i], pi[0], rtol=1e-14)


def test_leapfrog_evaluates_the_target_once_per_step():
    target, rng = Gaussian(), np.random.default_rng(0)
    z = rng.standard_normal((3, 2))
    leapfrog(target, z, z, 0.1, 7, target(z)[1])
    assert target.calls == 1 + 7


# -- one HMC transition ---------------------------------------------------------------------------
def test_accept_prob_is_min_one_exp_minus_energy_change():
    posterior, rng = _tiny_posterior(4, M=8)
    z = rng.standard_normal((8, 2))
    lj, g = posterior(z)
    eps = np.linspace(0.05, 1.5, 8)
    _, _, _, accept_prob = hmc_step(posterior, z, lj, g, eps, 4, np.random.default_rng(7))
    # replay: the same generator draws the same momenta first
    p = np.random.default_rng(7).standard_normal((8, 2))
    _, p1, lj1, _ = leapfrog(posterior, z, p, eps, 4, g)
    expected = np.minimum(1.0, np.exp(_hamiltonian(lj, p) - _hamiltonian(lj1, p1)))
    np.testing.assert_allclose(accept_prob, expected, rtol=1e-12)
    assert accept_prob.min() < 0.99 and accept_prob.max() == 1.0      # both cases occur


def test_rejected_rows_keep_their_state_and_accepted_rows_move():
    target, rng = Gaussian(), np.random.default_rng(1)
    M = 400
    z = target.sample(rng, M)
    lj, g = target(z)
    # the first half with absurd steps (H explodes: accept_prob 0), the rest tiny (accept_prob ~ 1)
    eps = np.where(np.arange(M) < M // 2, 1e3, 1e-3)
    z1, lj1, g1, accept_prob = hmc_step(target, z, lj, g, eps, 4, rng)
    bad, good = slice(0, M // 2), slice(M // 2, M)
    assert np.all(accept_prob[bad] == 0.0) and np.all(accept_prob[good] > 0.999)
    np.testing.assert_array_equal(z1[bad], z[bad])
    np.testing.assert_array_equal(lj1[bad], lj[bad])
    np.testing.assert_array_equal(g1[bad], g[bad])
    assert np.all(np.any(z1[good] != z[good], axis=1))
    np.testing.assert_allclose(lj1, target(z1)[0], rtol=1e-12)      # the state stays consistent
    np.testing.assert_allclose(g1, target(z1)[1], rtol=1e-12)


def test_moves_happen_with_the_acceptance_probability():
    target, rng = Gaussian(), np.random.default_rng(2)
    M = 20_000
    z = target.sample(rng, M)
    lj, g = target(z)
    z1, _, _, accept_prob = hmc_step(target, z, lj, g, 0.6, 4, rng)
    moved = np.any(z1 != z, axis=1)
    assert 0.2 < accept_prob.mean() < 0.9                           # a real mix of both
    se = np.sqrt(np.mean(accept_prob * (1 - accept_prob)) / M)
    assert abs(moved.mean() - accept_prob.mean()) < 5 * se


def test_non_finite_proposals_are_rejected_quietly():
    def cliff(Z):                    # log density -inf (and nan gradient) beyond z0 = 0.5
        log_p, grad = -0.5 * np.sum(Z * Z, axis=1), -Z.copy()
        out = Z[:, 0] > 0.5
        log_p[out], grad[out] = -np.inf, np.nan
        return log_p, grad

    rng = np.random.default_rng(3)
    z = np.column_stack([np.linspace(-0.5, 0.4, 50), np.zeros(50)])
    lj, g = cliff(z)
    with np.errstate(all="raise"):   # no floating-point warnings escape either
        z1, lj1, g1, accept_prob = hmc_step(cliff, z, lj, g, 0.5, 4, rng)
    rejected = accept_prob == 0.0
    assert rejected.any() and not rejected.all()
    np.testing.assert_array_equal(z1[rejected], z[rejected])
    assert np.all(np.isfinite(lj1)) and np.all(np.isfinite(g1)) and np.all(z1[:, 0] <= 0.5)


# -- invariance and convergence --------------------------------------------------------------------
def test_hmc_leaves_a_correlated_gaussian_invariant(budget):
    # M independent chains started exactly from N(m, S); after a few transitions each chain's state
    # is still a draw from N(m, S). The step size 0.55 is large for the narrow direction (sd 0.32),
    # so without the Metropolis correction the covariance would be far off (see the next test).
    target, rng = Gaussian(), np.random.default_rng(4)
    M = budget(40_000, 20_000)
    hmc = HMC(target, target.sample(rng, M), n_leapfrog=4, step_size=0.55, rng=5)
    Z = hmc.sample(5)
    assert 0.5 < hmc.acceptance.mean() < 0.8             # the correction is doing real work
    assert np.all(np.any(Z[-1] != Z[0], axis=1).mean() > 0.9)
    _check_moments(Z[-1], target)
    _check_moments(Z[2], target)


def test_the_invariance_test_detects_a_missing_metropolis_correction(budget):
    # leapfrog alone with the same step size and momentum refreshes: the covariance check fails
    target, rng = Gaussian(), np.random.default_rng(4)
    M = budget(40_000, 20_000)
    z = target.sample(rng, M)
    g = target(z)[1]
    for _ in range(5):
        z, _, _, g = leapfrog(target, z, rng.standard_normal(z.shape), 0.55, 4, g)
    with pytest.raises(AssertionError):
        _check_moments(z, target)


def test_hmc_converges_to_the_target_from_a_bad_start(budget):
    # every chain starts at the same far-away point and adapts its step size on the way
    target = Gaussian()
    M = budget(10_000, 5_000)
    hmc = HMC(target, np.tile([5.0, 3.0], (M, 1)), n_leapfrog=4, step_size=0.1, rng=6)
    hmc.warm_up(100)
    Z = hmc.sample(1, thin=10)
    _check_moments(Z[0], target)


# -- step-size adaptation ---------------------------------------------------------------------------
@pytest.mark.parametrize("target_name", ["gaussian", "banana", "posterior"])
@pytest.mark.parametrize("step_size", [0.01, 3.0])
def test_adaptation_reaches_the_target_acceptance_rate(target_name, step_size, budget):
    rng = np.random.default_rng(7)
    M = budget(500, 200)
    if target_name == "gaussian":
        target, z0 = Gaussian(), Gaussian().sample(rng, M)
    elif target_name == "banana":
        target, z0 = Banana(), rng.standard_normal((M, 2)) * [1, 0.1]
    else:
        target, _ = _tiny_posterior(8, M=M)
        z0 = rng.standard_normal((M, 2))
    hmc = HMC(target, z0, n_leapfrog=4, step_size=step_size, target_accept=0.9, rng=8)
    hmc.warm_up(200)
    hmc.sample(budget(100, 50))
    assert abs(hmc.acceptance.mean() - 0.9) < 0.05, hmc.acceptance.mean()
    assert np.median(hmc.acceptance) > 0.8


@pytest.mark.parametrize("target_accept", [0.6, 0.75])
def test_adaptation_follows_other_target_acceptance_rates(target_accept, budget):
    target, rng = Gaussian(), np.random.default_rng(9)
    hmc = HMC(target, target.sample(rng, budget(500, 200)), step_size=0.1,
              target_accept=target_accept, rng=10)
    hmc.warm_up(200)
    hmc.sample(budget(100, 50))
    assert abs(hmc.acceptance.mean() - target_accept) < 0.05, hmc.acceptance.mean()


def test_adaptation_scales_the_step_size_with_the_target():
    # the same Gaussian stretched 10x needs a 10x larger step for the same acceptance
    rng = np.random.default_rng(11)
    narrow, wide = Gaussian(MEAN, COV), Gaussian(MEAN, 100 * COV)
    steps = []
    for target in (narrow, wide):
        hmc = HMC(target, target.sample(rng, 300), step_size=1.0, rng=12)
        hmc.warm_up(200)
        steps.append(np.median(hmc.step_size))
    assert 7 < steps[1] / steps[0] < 14, steps


def test_sampling_does_not_adapt_and_warm_up_does():
    target, rng = Gaussian(), np.random.default_rng(13)
    hmc = HMC(target, target.sample(rng, 50), step_size=0.01, rng=14)
    hmc.sample(10)
    np.testing.assert_array_equal(hmc.step_size, 0.01)
    assert hmc.n_adapted == 0
    acceptance = hmc.warm_up(10)
    assert acceptance.shape == (50,) and hmc.n_adapted == 10
    assert np.all(hmc.step_size > 0.01)                    # near-certain acceptance: grow


def test_adapted_step_sizes_stay_in_range():
    # a flat target accepts everything (step sizes grow), a knife-edge one nothing (they shrink)
    def flat(Z):
        return np.zeros(len(Z)), np.zeros_like(Z)

    def knife(Z):
        return -0.5e14 * np.sum(Z * Z, axis=1), -1e14 * Z

    z0 = np.zeros((3, 2))
    up, down = HMC(flat, z0, step_size=5.0, rng=0), HMC(knife, z0, step_size=1e-5, rng=0)
    up.warm_up(200)
    with np.errstate(all="ignore"):
        down.warm_up(200)
    np.testing.assert_array_equal(up.step_size, STEP_SIZE_MAX)
    np.testing.assert_array_equal(down.step_size, STEP_SIZE_MIN)


# -- the sampler's bookkeeping -----------------------------------------------------------------------
def test_sample_shapes_thinning_and_acceptance():
    target, rng = Gaussian(), np.random.default_rng(15)
    z0 = target.sample(rng, 7)
    plain = HMC(target, z0, step_size=0.3, rng=16)
    every = plain.sample(6)
    thinned = HMC(target, z0, step_size=0.3, rng=16)
    Z = thinned.sample(3, thin=2)
    assert Z.shape == (3, 7, 2) and thinned.acceptance.shape == (7,)
    np.testing.assert_array_equal(Z, every[1::2])          # the same chain, every second state
    np.testing.assert_allclose(thinned.acceptance, plain.acceptance, rtol=1e-12)
    np.testing.assert_array_equal(plain.z, every[-1])


def test_same_seed_same_chains():
    posterior, rng = _tiny_posterior(17, M=5)
    z0 = rng.standard_normal((5, 2))
    a, b = HMC(posterior, z0, rng=3), HMC(posterior, z0, rng=3)
    a.warm_up(5), b.warm_up(5)
    np.testing.assert_array_equal(a.sample(4), b.sample(4))
    np.testing.assert_array_equal(a.step_size, b.step_size)


def test_state_is_consistent_and_refresh_follows_a_changed_target():
    posterior, rng = _tiny_posterior(18, M=6)
    hmc = HMC(posterior, rng.standard_normal((6, 2)), rng=1)
    hmc.warm_up(6)
    lj, g = posterior(hmc.z)
    np.testing.assert_allclose(hmc.log_joint, lj, rtol=1e-12)
    np.testing.assert_allclose(hmc.grad, g, rtol=1e-12)
    # a parameter update (as in MCEM) leaves the stored values stale until refresh()
    posterior.model.params["dec.b_logits"] -= 0.5
    stale = hmc.log_joint.copy()
    hmc.refresh()
    lj, g = posterior(hmc.z)
    assert np.all(hmc.log_joint != stale)
    np.testing.assert_array_equal(hmc.log_joint, lj)
    np.testing.assert_array_equal(hmc.grad, g)


def test_chains_can_be_rebuilt_from_stored_state():
    # MCEM keeps z and step sizes per datapoint and rebuilds a sampler for a minibatch
    target, rng = Gaussian(), np.random.default_rng(19)
    hmc = HMC(target, target.sample(rng, 10), rng=2)
    hmc.warm_up(20)
    rows = np.array([1, 4, 7])
    sub = HMC(target, hmc.z[rows], step_size=hmc.step_size[rows], rng=3)
    np.testing.assert_array_equal(sub.z, hmc.z[rows])
    np.testing.assert_array_equal(sub.step_size, hmc.step_size[rows])
    sub.z[0] = 0.0                                        # a copy: the source is untouched
    assert np.all(hmc.z[1] != 0.0)
    sub.step_size = 0.2
    np.testing.assert_array_equal(sub.step_size, [0.2, 0.2, 0.2])


def test_bad_arguments_are_reported():
    target = Gaussian()
    z0 = np.zeros((4, 2))
    with pytest.raises(ValueError, match="2-D"):
        HMC(target, np.zeros(4))
    with pytest.raises(ValueError, match="n_leapfrog"):
        HMC(target, z0, n_leapfrog=0)
    with pytest.raises(ValueError, match="target_accept"):
        HMC(target, z0, target_accept=1.0)
    with pytest.raises(ValueError, match="target_accept"):
        HMC(target, z0, target_accept=0.0)
    with pytest.raises(ValueError, match="step_size"):
        HMC(target, z0, step_size=0.0)
    with pytest.raises(ValueError, match="step_size"):
        HMC(target, z0, step_size=np.ones(3))
    with pytest.raises(ValueError, match="step_size"):
        HMC(target, z0, step_size=[0.1, 0.1, np.nan, 0.1])
    with pytest.raises(ValueError, match="target must map"):
        HMC(lambda Z: (np.zeros(len(Z)), np.zeros(len(Z))), z0)
    with pytest.raises(ValueError, match="z0 contains NaN or inf"):
        HMC(target, np.where(np.arange(4)[:, None] == 2, np.inf, z0))
    with pytest.raises(ValueError, match="not finite.*rows \\[2\\]"), np.errstate(divide="ignore"):
        HMC(lambda Z: (np.log(Z[:, 0]), 1 / Z), np.where(np.arange(4)[:, None] == 2, 0.0, 1 + z0))
    with pytest.raises(ValueError, match="n_leapfrog"):
        leapfrog(target, z0, z0, 0.1, 0, z0)
    with pytest.raises(ValueError, match="shapes"):
        hmc_step(target, z0, np.zeros(3), z0, 0.1, 4, np.random.default_rng())
    hmc = HMC(target, z0)
    with pytest.raises(ValueError, match="n_samples"):
        hmc.sample(0)
    with pytest.raises(ValueError, match="step_size"):
        hmc.step_size = -1.0
