"""The decoder's log joint log p(z) + log p(x|z): value against scipy, hand-derived gradients in z and
theta against finite differences, and the Posterior target HMC samples."""
import numpy as np
import pytest
from scipy.stats import norm

import minivae
from minivae.gradcheck import check_params, check_vjp, numerical_gradient, rel_error
from minivae.marginal.posterior import Posterior, log_joint_backward, log_joint_forward

DECODERS = ["bernoulli", "gaussian"]


def _small(decoder, seed=0, M=5):
    """A small two-layer model with parameters far from zero, and M datapoints."""
    rng = np.random.default_rng(seed)
    model = minivae.VAE(12, [7, 5], 3, decoder=decoder, init_std=0.4, seed=seed)
    X = rng.random((M, 12))
    return model, (X < 0.5) * 1.0 if decoder == "bernoulli" else X, rng


def _theta(model):
    return {name: p for name, p in model.params.items() if name.startswith("dec.")}


def _args(model):
    return model._decoder_args()


# -- the value ----------------------------------------------------------------------------------
@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("L", [None, 3])
def test_log_joint_is_log_prior_plus_log_likelihood(decoder, L):
    model, X, rng = _small(decoder)
    Z = rng.standard_normal((5, 3) if L is None else (L, 5, 3))
    log_joint, _ = log_joint_forward(X, Z, model.params, *_args(model))
    expected = norm.logpdf(Z).sum(axis=-1) + model.log_likelihood(X, Z)
    assert log_joint.shape == Z.shape[:-1]
    np.testing.assert_allclose(log_joint, expected, rtol=1e-12)


# -- gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("L", [None, 3])
def test_log_joint_gradient_in_z_matches_finite_differences(decoder, L):
    model, X, rng = _small(decoder, seed=1)
    Z = rng.standard_normal((5, 3) if L is None else (L, 5, 3))
    log_joint, cache = log_joint_forward(X, Z, model.params, *_args(model))
    dout = rng.standard_normal(log_joint.shape)
    dZ, _ = log_joint_backward(dout, cache)
    assert dZ.shape == Z.shape
    check_vjp(lambda: log_joint_forward(X, Z, model.params, *_args(model))[0], {"Z": Z}, dout,
              {"Z": dZ}, tol=1e-7)
    dZ_only, grads = log_joint_backward(dout, cache, param_grads=False)  # what HMC asks for
    np.testing.assert_array_equal(dZ_only, dZ)
    assert grads == {}


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("L", [None, 3])
def test_log_joint_gradient_in_theta_matches_finite_differences(decoder, L, budget):
    model, X, rng = _small(decoder, seed=2)
    Z = rng.standard_normal((5, 3) if L is None else (L, 5, 3))
    log_joint, cache = log_joint_forward(X, Z, model.params, *_args(model))
    dout = rng.standard_normal(log_joint.shape)
    _, grads = log_joint_backward(dout, cache)
    theta = _theta(model)
    assert grads.keys() == theta.keys()
    # a whole log-likelihood: the five-point stencil at h = 1e-3, as for the ELBO (gradcheck docs)
    report = check_params(
        lambda: np.sum(dout * log_joint_forward(X, Z, model.params, *_args(model))[0]), theta,
        grads, n_checks=budget(100, 20), rng=1, h=1e-3, tol=1e-6, order=4)
    assert report.passed, report


@pytest.mark.parametrize("decoder", DECODERS)
def test_backward_does_not_mutate_its_cache(decoder):
    model, X, rng = _small(decoder, seed=3)
    Z = rng.standard_normal((2, 5, 3))
    log_joint, cache = log_joint_forward(X, Z, model.params, *_args(model))
    dout = rng.standard_normal(log_joint.shape)
    first = log_joint_backward(dout, cache)
    second = log_joint_backward(dout, cache)
    np.testing.assert_array_equal(first[0], second[0])
    for name in first[1]:
        np.testing.assert_array_equal(first[1][name], second[1][name])


# -- the Posterior target ------------------------------------------------------------------------
def _tiny(seed=0, M=4):
    """The tiny VAE of the HMC tests: 6 binary pixels, 4 hidden units, a 2-D latent."""
    rng = np.random.default_rng(seed)
    model = minivae.VAE(n_input=6, n_hidden=4, n_latent=2, init_std=1.0, seed=seed)
    X = (rng.random((M, 6)) < 0.5) * 1.0
    return model, X, rng


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_posterior_gradient_equals_finite_differences_of_its_log_joint(seed):
    model, X, rng = _tiny(seed)
    posterior = Posterior(model, X)
    Z = 1.5 * rng.standard_normal((4, 2))
    log_joint, grad = posterior(Z)
    np.testing.assert_allclose(log_joint, posterior.log_joint(Z), rtol=1e-14)
    numeric = numerical_gradient(lambda: np.sum(posterior.log_joint(Z)), Z)
    assert rel_error(numeric, grad) < 1e-7
    # rows are independent posteriors: row i's log joint depends on Z[i] alone
    Z2 = Z.copy()
    Z2[0] += 1.0
    np.testing.assert_array_equal(posterior.log_joint(Z2)[1:], log_joint[1:])


def test_posterior_of_a_gaussian_decoder_matches_the_functions():
    model, X, rng = _small("gaussian", seed=4)
    posterior = Posterior(model, X)
    assert (posterior.M, posterior.n_latent) == (5, 3)
    Z = rng.standard_normal((5, 3))
    log_joint, grad = posterior(Z)
    expected, cache = log_joint_forward(X, Z, model.params, *_args(model))
    np.testing.assert_array_equal(log_joint, expected)
    np.testing.assert_array_equal(grad, log_joint_backward(np.ones(5), cache)[0])


def test_posterior_reads_the_current_parameters():
    # MCEM updates theta in place between HMC sweeps; the posterior must follow.
    model, X, rng = _tiny(3)
    posterior = Posterior(model, X)
    Z = rng.standard_normal((4, 2))
    before, _ = posterior(Z)
    model.params["dec.b_logits"] += 1.0
    after, _ = posterior(Z)
    np.testing.assert_allclose(after, norm.logpdf(Z).sum(1) + model.log_likelihood(X, Z),
                               rtol=1e-12)
    assert np.all(after != before)


def test_posterior_gradient_over_a_wide_range_of_a_1d_latent():
    # Z (L, M, J) through the Posterior: a grid over [-8, 8]; the gradient agrees with the slope of
    # the log joint everywhere (far out the prior's -z dominates) and vanishes at its maximum.
    rng = np.random.default_rng(5)
    model = minivae.VAE(6, 4, 1, init_std=1.0, seed=5)
    X = (rng.random((1, 6)) < 0.5) * 1.0
    posterior = Posterior(model, X)
    grid = np.linspace(-8, 8, 1601)
    log_joint, grad = posterior(grid[:, None, None])
    slope = np.gradient(log_joint[:, 0], grid)             # second-order differences, step 0.01
    np.testing.assert_allclose(grad[1:-1, 0, 0], slope[1:-1], rtol=1e-3, atol=1e-3)
    mode = np.argmax(log_joint[:, 0])
    assert 0 < mode < len(grid) - 1
    assert grad[mode - 1, 0, 0] > 0 > grad[mode + 1, 0, 0]


def test_posterior_rejects_bad_inputs():
    model, X, rng = _tiny()
    with pytest.raises(ValueError, match="columns"):
        Posterior(model, X[:, :5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Posterior(model, X * 2)
    posterior = Posterior(model, X)
    with pytest.raises(ValueError, match="Z must have shape"):
        posterior(rng.standard_normal((3, 2)))
    with pytest.raises(ValueError, match="Z must have shape"):
        posterior(rng.standard_normal((4, 3)))


def test_posterior_lets_non_finite_z_through_for_hmc_to_reject():
    model, X, _ = _tiny()
    Z = np.zeros((4, 2))
    Z[1, 0] = np.nan
    with np.errstate(invalid="ignore"):
        log_joint, grad = Posterior(model, X)(Z)
    assert np.isnan(log_joint[1]) and np.all(np.isfinite(np.delete(log_joint, 1)))
