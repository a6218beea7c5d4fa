"""The fused training path computes the reference model's numbers, on both backends."""
import numpy as np
import pytest

from minivae.fused.engine import fast_path
from minivae import VAE, Trainer
from minivae.fused.backend import use_backend
from minivae.optim import make_optimizer

CONFIGS = [
    dict(decoder="bernoulli"),
    dict(decoder="gaussian"),
    dict(decoder="gaussian", sigmoid_mean=False),
    dict(decoder="bernoulli", n_hidden=[7, 5, 4]),
    dict(decoder="bernoulli", activation="softplus"),
    dict(decoder="gaussian", activation="sigmoid", n_hidden=[6, 5]),
    dict(decoder="bernoulli", activation="relu"),
    dict(decoder="bernoulli", activation="identity"),
]


def setup(config, L, seed=0):
    model = VAE(12, **{"n_hidden": 7, "n_latent": 3, "init_std": 0.3, "seed": seed, **config})
    rng = np.random.default_rng(seed + 1)
    X = rng.random((5, 12))
    if model.decoder == "bernoulli":
        X = (X < 0.5).astype(float)
    return model, X, rng.standard_normal((L, 5, 3))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("L", [1, 3])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_fused_loss_and_grads_equal_the_reference(config, L, backend):
    model, X, eps = setup(config, L)
    loss, grads = model.loss_and_grads(X, eps, "B")
    with use_backend(backend):
        fused_loss, fused_grads = fast_path(model).loss_and_grads(X, eps)
        bound = fast_path(model).bound(X, eps)
    assert fused_loss == pytest.approx(loss, rel=1e-12)
    assert fused_grads.keys() == grads.keys()
    for name, g in grads.items():
        scale = np.max(np.abs(g))
        np.testing.assert_allclose(fused_grads[name], g, rtol=1e-12, atol=1e-13 * scale, err_msg=name)
    np.testing.assert_allclose(bound, model.elbo(X, eps, "B"), rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("config", CONFIGS[:4], ids=str)
def test_decoder_input_gradient_by_transpose_gives_the_same_numbers(config, backend, monkeypatch):
    """The float32 layout of the decoder heads' input gradient, ``(W @ dout.T).T``, checked in
    float64 against the reference at the backend tolerance."""
    model, X, eps = setup(config, 2)
    from minivae.fused.fastpath import FastPath
    monkeypatch.setattr(FastPath, "_dinput_by_transpose", lambda self: True)
    loss, grads = model.loss_and_grads(X, eps, "B")
    with use_backend(backend):
        fused_loss, fused_grads = fast_path(model).loss_and_grads(X, eps)
    assert fast_path(model)._workspace(5, 2).dec_tmp.shape == (model.n_hidden[0], 10)
    assert fused_loss == pytest.approx(loss, rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(fused_grads[name], g, rtol=1e-12, atol=1e-13 * np.max(np.abs(g)),
                                   err_msg=name)


def test_float32_fast_path_is_the_reference_in_float32():
    model32 = VAE(12, 7, 3, init_std=0.3, seed=0, dtype="float32")
    assert fast_path(model32)._dinput_by_transpose()
    model64 = VAE(12, 7, 3, init_std=0.3, seed=0)
    model64.params.update({k: p.astype(float) for k, p in model32.params.items()})
    _, X, eps = setup({}, 1)
    grads64 = model64.loss_and_grads(X, eps, "B")[1]
    with use_backend("numba"):
        grads32 = fast_path(model32).loss_and_grads(X.astype(np.float32), eps.astype(np.float32))[1]
    for name, g in grads64.items():
        np.testing.assert_allclose(grads32[name], g, rtol=1e-4, atol=1e-5 * np.max(np.abs(g)), err_msg=name)


@pytest.mark.parametrize("config", CONFIGS[:3], ids=str)
def test_backends_agree_to_1e12(config):
    model, X, eps = setup(config, 2)
    results = []
    for backend in ("numpy", "numba"):
        with use_backend(backend):
            loss, grads = fast_path(model).loss_and_grads(X, eps)
            results.append((loss, {k: g.copy() for k, g in grads.items()}))
    (a, ga), (b, gb) = results
    assert a == pytest.approx(b, rel=1e-12)
    for name in ga:
        np.testing.assert_allclose(ga[name], gb[name], rtol=1e-12, atol=1e-14 * np.max(np.abs(ga[name])))


def test_training_histories_agree_across_backends():
    X = (np.random.default_rng(3).random((400, 16)) < 0.3).astype(float)
    histories, params = [], []
    for backend in ("numpy", "numba"):
        with use_backend(backend):
            model = VAE(16, 8, 3, seed=4)
            trainer = Trainer(model, X, X[:50], batch_size=20, seed=5)
            trainer.run(300 * 20, eval_every=1000)
        histories.append([(r.samples, r.train_bound, r.test_bound) for r in trainer.history])
        params.append(model.params)
    (h0, h1), (p0, p1) = histories, params
    assert [r[0] for r in h0] == [r[0] for r in h1]
    np.testing.assert_allclose([r[1:] for r in h0], [r[1:] for r in h1], rtol=1e-9)
    for name in p0:
        np.testing.assert_allclose(p0[name], p1[name], rtol=1e-7, atol=1e-10)


def test_float32_model_trains_like_float64():
    X = (np.random.default_rng(3).random((400, 16)) < 0.3).astype(float)
    final = {}
    for dtype in ("float64", "float32"):
        model = VAE(16, 8, 3, seed=4, dtype=dtype)
        trainer = Trainer(model, X, batch_size=20, seed=5)
        trainer.run(200 * 20, eval_every=10_000)
        assert all(p.dtype == np.dtype(dtype) for p in model.params.values())
        final[dtype] = trainer.history[-1].train_bound
    start = trainer.history[0].train_bound
    assert final["float32"] > start + 1.0
    assert final["float32"] == pytest.approx(final["float64"], abs=0.1)


class _ReferenceVAE(VAE):
    """A VAE without a fast path: the trainer falls back to ``loss_and_grads``."""

    @property
    def fastpath(self):
        raise AttributeError("fastpath")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_adam_training_of_two_hidden_layers_follows_the_reference_path(backend):
    """The IWAE protocol's case: two hidden layers per side, Adam, minibatches of 20, no weight
    prior, dynamic binarization; 60 fused steps end where 60 reference steps end."""
    X = np.random.default_rng(3).random((200, 16))
    params = []
    for cls in (VAE, _ReferenceVAE):
        with use_backend(backend):
            model = cls(16, [9, 7], 3, init_std=0.3, seed=4)
            trainer = Trainer(model, X, optimizer=make_optimizer("adam", lr=1e-2, epsilon=1e-4),
                              batch_size=20, weight_prior=False, binarization="dynamic", seed=5)
            for _ in range(60):
                trainer.step()
        params.append(model.params)
    assert not hasattr(_ReferenceVAE(4, 2, 1), "fastpath")
    for name in params[0]:
        np.testing.assert_allclose(params[0][name], params[1][name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_workspace_is_reused_between_steps():
    model, X, eps = setup(CONFIGS[0], 1)
    _, g1 = fast_path(model).loss_and_grads(X, eps)
    _, g2 = fast_path(model).loss_and_grads(X, eps)
    assert all(g1[k] is g2[k] for k in g1)


@pytest.mark.slow
def test_float32_reaches_the_float64_bound_on_a_short_mnist_run(budget):
    from minivae.datasets import load_mnist
    X, _ = load_mnist("train")
    X_test, _ = load_mnist("test")
    samples = budget(60_000, 20_000)
    bounds = {"float64": [], "float32": []}
    for seed in range(4):
        for dtype in bounds:
            model = VAE(784, 200, 10, seed=seed, dtype=dtype)
            trainer = Trainer(model, X, X_test[:2000], seed=seed, eval_train_size=2000)
            trainer.run(samples, eval_every=samples)
            assert trainer.history[-1].test_bound > trainer.history[0].test_bound + 200  # learned
            bounds[dtype].append(trainer.history[-1].test_bound)
    # Round-off sends the two precisions down different trajectories, so compare means over
    # seeds. After 20,000 samples one seed's test bound differs from another's by up to 9 nats
    # (standard deviation 2.3-3.9 nats over seeds 0-3, both precisions, measured); the mean of
    # four has a standard deviation under 2, a difference of two means under 2.8.
    assert np.mean(bounds["float32"]) == pytest.approx(np.mean(bounds["float64"]), abs=9.0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sparse_binary_data_takes_the_same_numbers(backend):
    """Binarized-MNIST-like data (10% ones) runs the sparse products on Numba."""
    model, _, eps = setup(CONFIGS[0], 2)
    X = (np.random.default_rng(7).random((5, 12)) < 0.1).astype(float)
    X[0, 0] = 1.0
    loss, grads = model.loss_and_grads(X, eps, "B")
    with use_backend(backend):
        fused_loss, fused_grads = fast_path(model).loss_and_grads(X, eps)
    assert fused_loss == pytest.approx(loss, rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(fused_grads[name], g, rtol=1e-12, atol=1e-13 * np.max(np.abs(g)))


@pytest.mark.parametrize("n_threads", [2, 3])
@pytest.mark.parametrize("L", [1, 3])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_sharded_minibatch_gives_the_reference_numbers(config, L, n_threads, monkeypatch):
    """One shard of rows per thread, each with its own workspace; the summed gradients and the
    bound per datapoint are the reference's to float64 round-off, and a second call repeats the
    gradients bit for bit."""
    from minivae.fused import fastpath
    from minivae.fused.kernels import blas, threads
    if not blas.available():
        pytest.skip("sharding needs an OpenBLAS whose threads can be set")
    monkeypatch.setattr(fastpath, "MIN_SHARD_ROWS", 1)
    model, X, eps = setup(config, L)  # 5 rows: shards of 2 + 3, or 1 + 2 + 2
    loss, grads = model.loss_and_grads(X, eps, "B")
    before = threads.get_threads()
    threads.set_threads(n_threads)
    try:
        with use_backend("numba"):
            assert fast_path(model).n_shards(len(X)) == n_threads
            sharded = [fast_path(model).loss_and_grads(X, eps) for _ in range(2)]
            sharded = [(l_, {k: g.copy() for k, g in gs.items()}) for l_, gs in sharded]
            bound = fast_path(model).bound(X, eps)
    finally:
        threads.set_threads(before)
    np.testing.assert_allclose(bound, model.elbo(X, eps, "B"), rtol=1e-12)
    (first, g1), (second, g2) = sharded
    assert first == pytest.approx(loss, rel=1e-12) and second == first
    for name, g in grads.items():
        np.testing.assert_allclose(g1[name], g, rtol=1e-12, atol=1e-13 * np.max(np.abs(g)), err_msg=name)
        np.testing.assert_array_equal(g2[name], g1[name])


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_gradient_parts_sum_to_the_gradient_and_are_checked_per_shard(n_threads, monkeypatch):
    from minivae.fused import fastpath
    from minivae.fused.kernels import blas, threads
    if n_threads > 1 and not blas.available():
        pytest.skip("sharding needs an OpenBLAS whose threads can be set")
    monkeypatch.setattr(fastpath, "MIN_SHARD_ROWS", 1)
    model, X, eps = setup({}, 2)
    before = threads.get_threads()
    threads.set_threads(n_threads)
    try:
        with use_backend("numba"):
            loss, grads = fast_path(model).loss_and_grads(X, eps)
            grads = {k: g.copy() for k, g in grads.items()}
            loss_p, parts = fast_path(model).loss_and_grad_parts(X, eps)
            assert len(parts.parts) == n_threads and loss_p == loss
            assert parts.checked == (n_threads > 1)  # one part: the caller checks the gradient
            summed = parts.summed()
            assert len(parts.parts) == 1
            for k, g in grads.items():
                np.testing.assert_array_equal(summed[k], g, err_msg=k)
            if n_threads > 1:  # a parameter that makes the gradient NaN fails a shard's check
                model.params["dec.W_logits"][0, 0] = np.nan
                with np.errstate(invalid="ignore"):
                    assert not fast_path(model).loss_and_grad_parts(X, eps)[1].checked
    finally:
        threads.set_threads(before)


def test_shards_follow_threads_backend_and_size():
    from minivae.fused import fastpath
    from minivae.fused.kernels import blas, threads
    model = VAE(12, 7, 3, seed=0)
    before = threads.get_threads()
    try:
        threads.set_threads(2)
        with use_backend("numpy"):
            assert fast_path(model).n_shards(1000) == 1
        with use_backend("numba"):
            assert fast_path(model).n_shards(2 * fastpath.MIN_SHARD_ROWS - 1) == 1
            assert fast_path(model).n_shards(1000) == (2 if blas.available() else 1)
        threads.set_threads(1)
        with use_backend("numba"):
            assert fast_path(model).n_shards(1000) == 1
    finally:
        threads.set_threads(before)
