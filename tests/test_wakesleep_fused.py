"""The fused wake-sleep step computes the readable phases' numbers, and the two engines of
WakeSleepTrainer train alike."""
import numpy as np
import pytest

import minivae
from minivae import flat
from minivae.fused import kernels
from minivae.fused.backend import use_backend
from minivae.datasets import load_mnist
from minivae.baselines.wakesleep import (WakeSleepTrainer, draw_dream_noise, dream,
                                         sleep_loss_and_grads, wake_loss_and_grads)
from minivae.baselines.wakesleep.fused import WakeSleepPath

CONFIGS = [
    dict(decoder="bernoulli"),
    dict(decoder="gaussian"),
    dict(decoder="gaussian", sigmoid_mean=False),
    dict(decoder="bernoulli", n_hidden=[7, 5]),
    dict(decoder="gaussian", n_hidden=[6, 5], activation="softplus"),
]


def _setup(config, L, M=5, seed=0):
    """A small model with parameters far from zero, a minibatch, and the step's noise."""
    model = minivae.VAE(12, **{"n_hidden": 7, "n_latent": 3, "init_std": 0.3, "seed": seed, **config})
    rng = np.random.default_rng(seed + 1)
    X = rng.random((M, 12))
    if model.decoder == "bernoulli":
        X = (X < 0.5).astype(float)
    eps = rng.standard_normal((L, M, 3))
    Z, noise = draw_dream_noise(rng, M, 3, 12, model.decoder)
    return model, X, eps, Z, noise


def _readable(model, X, eps, Z, noise):
    wake_loss, wake_grads, bound = wake_loss_and_grads(model, X, eps)
    X_dream = dream(Z, noise, model.params, len(model.n_hidden), model.activation, model.decoder,
                    model.sigmoid_mean)
    sleep_loss, sleep_grads = sleep_loss_and_grads(model, Z, X_dream)
    return wake_loss, sleep_loss, bound.mean(), {**wake_grads, **sleep_grads}, X_dream


def _assert_grads_close(fused, readable):
    assert fused.keys() == readable.keys()
    for name, g in readable.items():
        np.testing.assert_allclose(fused[name], g, rtol=1e-12, atol=1e-13 * np.max(np.abs(g)),
                                   err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_fused_phases_equal_the_readable_phases(config, L, backend):
    model, X, eps, Z, noise = _setup(config, L)
    wake_loss, sleep_loss, bound, grads, X_dream = _readable(model, X, eps, Z, noise)
    path = WakeSleepPath(model)
    with use_backend(backend):
        result = path.run(X, eps, Z, noise)
        fused_grads = result.parts.summed()
    assert result.wake_loss == pytest.approx(wake_loss, rel=1e-12)
    assert result.sleep_loss == pytest.approx(sleep_loss, rel=1e-12)
    assert result.bound == pytest.approx(bound, rel=1e-12)
    _assert_grads_close(fused_grads, grads)
    np.testing.assert_allclose(path.dreams(5, L), X_dream, rtol=1e-12, atol=1e-14)


def test_fused_gradient_tiles_one_flat_buffer_in_parameter_order():
    """Both phases write one buffer: the optimizer updates every parameter in one call."""
    model, X, eps, Z, noise = _setup({}, 1)
    grads = WakeSleepPath(model).run(X, eps, Z, noise).parts.summed()
    assert list(grads) == list(model.params)
    assert flat.span(grads.values()) is not None


def test_sharded_fused_phases_equal_one_shard():
    """On the Numba backend with two threads a minibatch of 64 is cut into two shards of rows,
    as AEVB's fused step is; the shards' parts sum to the one-shard gradient."""
    model, X, eps, Z, noise = _setup({}, 1, M=64)
    before = kernels.get_threads()
    try:
        with use_backend("numba"):
            kernels.set_threads(1)
            one = WakeSleepPath(model).run(X, eps, Z, noise)
            kernels.set_threads(2)
            path = WakeSleepPath(model)
            if path.n_shards(64) != 2:
                pytest.skip("OpenBLAS's threads cannot be set here: the step is not sharded")
            two = path.run(X, eps, Z, noise)
    finally:
        kernels.set_threads(before)
    assert len(two.parts.parts) == 2 and two.parts.checked
    assert two.wake_loss == pytest.approx(one.wake_loss, rel=1e-12)
    assert two.sleep_loss == pytest.approx(one.sleep_loss, rel=1e-12)
    _assert_grads_close(two.parts.summed(), one.parts.summed())


def test_bad_noise_shapes_are_reported():
    model, X, eps, Z, noise = _setup({}, 1)
    with pytest.raises(ValueError, match="Z and noise must have shapes"):
        WakeSleepPath(model).run(X, eps, Z[:4], noise)


# -- the two engines of WakeSleepTrainer -------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_small():
    X, _ = load_mnist("train")
    return X[:600]


def _trainer(X, engine, decoder, n_hidden):
    model = minivae.VAE(784, n_hidden, 3, decoder=decoder, seed=0)
    return WakeSleepTrainer(model, X, optimizer=minivae.Adagrad(lr=0.02), batch_size=20, seed=0,
                            eval_train_size=50, engine=engine)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("decoder,n_hidden", [("bernoulli", 20), ("gaussian", 20),
                                              ("bernoulli", [20, 10])])
def test_fused_and_reference_engines_train_alike(mnist_small, decoder, n_hidden, backend, budget):
    steps = budget(300, 200)
    fused, reference = (_trainer(mnist_small, e, decoder, n_hidden) for e in ("fused", "reference"))
    with use_backend(backend):
        bounds = [(fused.step(), reference.step()) for _ in range(steps)]
    assert fused._wake_sleep_path() is not None and reference._wake_sleep_path() is None
    # the same draws in the same order: the generators end in the same state
    assert fused.rng.bit_generator.state == reference.rng.bit_generator.state
    np.testing.assert_allclose(*zip(*bounds), rtol=1e-9)
    # atol: entries near zero are sums of Adagrad steps that cancel, so they carry round-off of
    # their tensor's scale. Wake-sleep amplifies it: the reference engine against itself with
    # every parameter moved by one ulp differed by 1e-11 of the scale after 300 steps (Gaussian
    # decoder), as much as the two engines do here.
    for name, p in reference.model.params.items():
        np.testing.assert_allclose(fused.model.params[name], p, rtol=1e-9,
                                   atol=1e-10 * np.max(np.abs(p)), err_msg=name)
    assert fused.samples == reference.samples == 20 * steps


def test_the_engine_chooses_the_phases(mnist_small):
    assert isinstance(_trainer(mnist_small, "fused", "bernoulli", 20)._wake_sleep_path(), WakeSleepPath)
    assert _trainer(mnist_small, "reference", "bernoulli", 20)._wake_sleep_path() is None


def test_a_reference_wake_sleep_run_does_not_import_numba():
    """The fused phases, and with them Numba, load only when a fused step runs."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys; import numpy as np; import minivae; "
            "from minivae.baselines.wakesleep import WakeSleepTrainer; "
            "X = (np.random.default_rng(0).random((100, 12)) < 0.3) * 1.0; "
            "t = WakeSleepTrainer(minivae.VAE(12, 6, 2, seed=0), X, batch_size=20, seed=0, "
            "eval_train_size=20, engine='reference'); t.run(200); "
            "print('numba' in sys.modules)")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


@pytest.mark.parametrize("engine", ["fused", "reference"])
def test_wake_sleep_refuses_another_latent_family(engine):
    """The phases draw z and score log q as Gaussians (on either engine): a Laplace model, or a
    Gaussian with another prior scale, is refused, not trained as if it were N(0, I)."""
    X = (np.random.default_rng(0).random((40, 8)) < 0.5) * 1.0
    with pytest.raises(ValueError, match="wakesleep is written for the paper's Gaussian latent.*laplace"):
        WakeSleepTrainer(minivae.VAE(8, 6, 2, family="laplace", seed=0), X, engine=engine)
    with pytest.raises(ValueError, match="wakesleep is written for the paper's Gaussian latent"):
        WakeSleepTrainer(minivae.VAE(8, 6, 2, prior_scale=2.0, seed=0), X, engine=engine)
