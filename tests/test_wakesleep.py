"""Wake-sleep: hand-derived gradients vs finite differences, the objectives against independent
formulas, the dream sampler's distribution, and training, resuming and failing loudly."""
import numpy as np
import pytest
from scipy.stats import norm

import minivae
from minivae.training import checkpoint
from minivae.datasets import load_mnist
from minivae.decoder import decoder_forward
from minivae.gradcheck import check_params
from minivae.baselines.wakesleep import (WakeSleepTrainer, draw_dream_noise, dream, sleep_forward,
                                         sleep_loss_and_grads, wake_loss_and_grads)

DECODERS = ["bernoulli", "gaussian"]


def _small(decoder, seed=0):
    """A small model with parameters far from zero, and a minibatch of 5 datapoints."""
    rng = np.random.default_rng(seed)
    model = minivae.VAE(12, [7, 5], 3, decoder=decoder, init_std=0.3, seed=seed)
    X = rng.random((5, 12))
    return model, (X < 0.5) * 1.0 if decoder == "bernoulli" else X, rng


def _half(model, prefix):
    return {name: p for name, p in model.params.items() if name.startswith(prefix)}


def _dreams(model, rng, M=5):
    Z, noise = draw_dream_noise(rng, M, model.n_latent, model.n_input, model.decoder)
    X = dream(Z, noise, model.params, len(model.n_hidden), model.activation, model.decoder,
              model.sigmoid_mean)
    return Z, X


# -- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("decoder", DECODERS)
def test_wake_gradient_matches_finite_differences_for_every_decoder_tensor(decoder, budget):
    model, X, rng = _small(decoder)
    eps = rng.standard_normal((2, 5, 3))
    _, grads, _ = wake_loss_and_grads(model, X, eps)
    theta = _half(model, "dec.")
    assert grads.keys() == theta.keys()
    report = check_params(lambda: wake_loss_and_grads(model, X, eps)[0], theta, grads,
                          n_checks=budget(100, 20), rng=1, h=1e-3, tol=1e-6, order=4)
    assert report.passed, report


@pytest.mark.parametrize("decoder", DECODERS)
def test_sleep_gradient_matches_finite_differences_for_every_encoder_tensor(decoder, budget):
    model, _, rng = _small(decoder)
    Z, X_dream = _dreams(model, rng)
    _, grads = sleep_loss_and_grads(model, Z, X_dream)
    phi = _half(model, "enc.")
    assert grads.keys() == phi.keys()
    report = check_params(lambda: sleep_loss_and_grads(model, Z, X_dream)[0], phi, grads,
                          n_checks=budget(100, 20), rng=2, h=1e-3, tol=1e-6, order=4)
    assert report.passed, report


@pytest.mark.parametrize("decoder", DECODERS)
def test_wake_theta_gradient_is_aevb_estimator_b_theta_gradient(decoder):
    # log p(z) and the KL of eq. 7 have no theta: for the same eps the two agree on the decoder
    # and differ only in what they do with the encoder.
    model, X, rng = _small(decoder)
    eps = rng.standard_normal((2, 5, 3))
    aevb_loss, aevb_grads = model.loss_and_grads(X, eps, "B")
    _, wake_grads, bound = wake_loss_and_grads(model, X, eps)
    for name, g in wake_grads.items():
        np.testing.assert_allclose(g, aevb_grads[name], rtol=1e-10, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(bound.mean(), -aevb_loss, rtol=1e-12)


# -- the objectives, against formulas written independently with scipy --------------------------
@pytest.mark.parametrize("decoder", DECODERS)
def test_wake_loss_is_minus_mean_log_joint(decoder):
    model, X, rng = _small(decoder)
    eps = rng.standard_normal((1, 5, 3))
    mu, logvar = model.encode(X)
    z = mu + np.exp(0.5 * logvar) * eps[0]
    log_joint = model.log_likelihood(X, z) + norm.logpdf(z).sum(axis=1)
    loss, _, _ = wake_loss_and_grads(model, X, eps)
    np.testing.assert_allclose(loss, -log_joint.mean(), rtol=1e-12)


@pytest.mark.parametrize("decoder", DECODERS)
def test_sleep_loss_is_minus_mean_log_q_of_the_dream(decoder):
    model, _, rng = _small(decoder)
    Z, X_dream = _dreams(model, rng)
    mu, logvar = model.encode(X_dream)
    expected = norm.logpdf(Z, loc=mu, scale=np.exp(0.5 * logvar)).sum(axis=1)
    loss, _ = sleep_loss_and_grads(model, Z, X_dream)
    np.testing.assert_allclose(loss, -expected.mean(), rtol=1e-12)


# -- dreams -------------------------------------------------------------------------------------
def test_bernoulli_dreams_are_binary_with_the_decoder_probabilities():
    model, _, rng = _small("bernoulli")
    N = 40_000
    Z = np.repeat(rng.standard_normal((1, 3)), N, axis=0)
    _, noise = draw_dream_noise(rng, N, 3, 12, "bernoulli")
    X = dream(Z, noise, model.params, 2, "tanh", "bernoulli")
    assert set(np.unique(X)) <= {0.0, 1.0}
    p = model.decode(Z[:1])[0]
    se = np.sqrt(p * (1 - p) / N)
    assert np.all(np.abs(X.mean(axis=0) - p) < 5 * se + 1e-12)


def test_gaussian_dreams_have_the_decoder_mean_and_variance():
    model, _, rng = _small("gaussian")
    N = 40_000
    Z = np.repeat(rng.standard_normal((1, 3)), N, axis=0)
    _, noise = draw_dream_noise(rng, N, 3, 12, "gaussian")
    X = dream(Z, noise, model.params, 2, "tanh", "gaussian")
    outputs, _ = decoder_forward(Z[:1], model.params, 2, "tanh", "gaussian")
    var = np.exp(outputs["logvar"][0])
    assert np.all(np.abs(X.mean(axis=0) - outputs["mean"][0]) < 5 * np.sqrt(var / N))
    assert np.all(np.abs(X.var(axis=0) / var - 1) < 5 * np.sqrt(2 / N))


def test_dream_is_a_deterministic_function_of_its_noise():
    model, _, rng = _small("bernoulli")
    Z, noise = draw_dream_noise(rng, 4, 3, 12, "bernoulli")
    args = (model.params, 2, "tanh", "bernoulli")
    np.testing.assert_array_equal(dream(Z, noise, *args), dream(Z, noise.copy(), *args))


# -- input checks -------------------------------------------------------------------------------
def test_bad_shapes_are_reported():
    model, X, rng = _small("bernoulli")
    with pytest.raises(ValueError, match="eps must have shape"):
        wake_loss_and_grads(model, X, rng.standard_normal((5, 4)))
    with pytest.raises(ValueError, match="Z must have shape"):
        sleep_loss_and_grads(model, rng.standard_normal((4, 3)), X)
    with pytest.raises(ValueError, match="unknown decoder"):
        draw_dream_noise(rng, 2, 3, 12, "poisson")
    with pytest.raises(ValueError, match="unknown algorithm"):
        checkpoint.restore_trainer("anywhere", X, algorithm="sleepwalk")


# -- training -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_small():
    X, _ = load_mnist("train")
    X_test, _ = load_mnist("test")
    return X[:1000], X_test[:500]


def _trainer(data, seed=0, engine="fused"):
    model = minivae.VAE(784, 50, 5, seed=seed)
    return WakeSleepTrainer(model, *data, optimizer=minivae.Adagrad(lr=0.02), seed=seed,
                            eval_train_size=500, engine=engine)


def test_a_short_wake_sleep_run_improves_the_bound_and_the_recognition_model(mnist_small):
    trainer = _trainer(mnist_small)
    phi0 = {k: p.copy() for k, p in _half(trainer.model, "enc.").items()}
    history = trainer.run(4000, eval_every=1000)   # under a second; the same in CI
    assert history[-1].train_bound > history[0].train_bound + 50
    assert history[-1].test_bound > history[0].test_bound + 50
    # the sleep phase: the trained encoder explains the trained decoder's dreams better than the
    # initial one (a paired comparison on the same 2000 dreams, by more than 5 standard errors)
    model = trainer.model
    Z, X_dream = _dreams(model, np.random.default_rng(5), M=2000)
    trained, _ = sleep_forward(Z, X_dream, model.params, 1, "tanh")
    initial, _ = sleep_forward(Z, X_dream, {**model.params, **phi0}, 1, "tanh")
    gain = trained - initial
    assert gain.mean() > 5 * gain.std() / np.sqrt(len(gain))


def test_resumed_wake_sleep_run_equals_an_uninterrupted_one(mnist_small, tmp_path):
    straight = _trainer(mnist_small)
    straight.run(1200, eval_every=600)
    first = _trainer(mnist_small)
    first.run(600, eval_every=600)
    checkpoint.save(tmp_path, first.model, first)
    assert checkpoint.load(tmp_path).algorithm == "wakesleep"
    resumed = checkpoint.restore_trainer(tmp_path, *mnist_small)
    assert isinstance(resumed, WakeSleepTrainer)
    resumed.run(1200, eval_every=600)
    for name, p in straight.model.params.items():
        np.testing.assert_array_equal(p, resumed.model.params[name], err_msg=name)
    assert [r.test_bound for r in resumed.history] == [r.test_bound for r in straight.history]


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("engine", ["fused", "reference"])
def test_non_finite_wake_sleep_step_stops_loudly(mnist_small, engine):
    trainer = _trainer(mnist_small, engine=engine)
    trainer.model.params["dec.b_logits"][0] = np.inf
    before = {name: p.copy() for name, p in trainer.model.params.items()}
    with pytest.raises(FloatingPointError, match="wake-sleep"):
        trainer.step()
    for name, p in before.items():  # nothing reached the parameters
        np.testing.assert_array_equal(trainer.model.params[name], p, err_msg=name)
