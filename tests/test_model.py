"""Tests for minivae.model.VAE: the full loss gradient, the API's shapes and contracts, numerics.

Gradient checks follow the tolerance ladder of docs/design.md: every parameter tensor of the
full loss within 1e-6 (five-point stencil, ``h = 1e-3``, the defaults of
``check_model_gradients``); ReLU, which has a kink, within 1e-4. Distribution-level checks (a gradient check cannot see a
model that is consistently wrong): the reconstruction term is ``-D log 2`` at zero logits,
estimator A's mean equals estimator B's, and the bound stays below ``log p(x)`` computed by
quadrature for a 1-D latent.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minivae import flat
from minivae.gradcheck import check_params, rel_error
from minivae.model import VAE
from minivae.modelcheck import check_model_gradients
from strategies import seeds

MODEL_TOL = 1e-6   # docs/design.md: full ELBO, every parameter tensor
KINK_TOL = 1e-4    # docs/design.md: anything with a kink (ReLU), away from it
RAISE = dict(over="raise", divide="raise", invalid="raise")  # underflow to 0 is harmless


def binary_data(rng, M, D):
    return (rng.random((M, D)) < 0.5).astype(float)


def small_model(decoder="bernoulli", **kwargs):
    kwargs = {"n_hidden": 6, "n_latent": 3, "init_std": 0.3, "seed": 0, **kwargs}
    return VAE(8, decoder=decoder, **kwargs)


# ----------------------------------------------------------------------------------------
# 1. The full loss against finite differences, every parameter tensor
# ----------------------------------------------------------------------------------------

GRAD_CASES = [
    pytest.param(dict(decoder=dec, estimator=est, L=L), id=f"{dec}-{est}-L{L}")
    for dec in ("bernoulli", "gaussian") for est in ("A", "B") for L in (1, 3)
] + [
    pytest.param(dict(decoder=dec, estimator=est, n_hidden=(7, 5, 4)), id=f"deep-{dec}-{est}")
    for dec in ("bernoulli", "gaussian") for est in ("A", "B")
] + [
    pytest.param(dict(activation=act, L=2, seed=1), id=f"act-{act}")
    for act in ("softplus", "sigmoid", "identity")
]


@pytest.mark.parametrize("case", GRAD_CASES)
def test_loss_gradients_every_tensor(case):
    report = check_model_gradients(tol=MODEL_TOL, **case)
    assert len(report.rows) == len(VAE(12, list(case.get("n_hidden", (7, 5))), 3,
                                       decoder=case.get("decoder", "bernoulli")).params)
    assert report.passed, str(report)


@pytest.mark.parametrize("estimator", ["A", "B"])
@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_loss_gradients_relu_away_from_kink(decoder, estimator):
    # A small plain central step: the default five-point h = 1e-3 (and 2h) would cross kinks.
    report = check_model_gradients(decoder=decoder, estimator=estimator, activation="relu",
                                   tol=KINK_TOL, h=1e-6, order=2)
    assert report.passed, str(report)


def _gaussian_linear_mean_case(estimator, L, seed=0, n_hidden=(7, 5)):
    """What check_model_gradients builds, but with ``sigmoid_mean=False`` (it has no such argument)."""
    rng = np.random.default_rng(seed)
    model = VAE(12, list(n_hidden), 3, decoder="gaussian", init_std=0.3, seed=seed,
                sigmoid_mean=False)
    X = rng.random((5, 12))
    eps = rng.standard_normal((L, 5, 3))
    return model, X, eps, rng


@pytest.mark.parametrize("estimator,L,n_hidden", [("A", 1, (7, 5)), ("B", 1, (7, 5)),
                                                  ("A", 3, (7, 5)), ("B", 3, (7, 5)),
                                                  ("B", 2, (7, 5, 4))])
def test_loss_gradients_gaussian_linear_mean(estimator, L, n_hidden):
    model, X, eps, rng = _gaussian_linear_mean_case(estimator, L, n_hidden=n_hidden)
    _, grads = model.loss_and_grads(X, eps, estimator)
    report = check_params(lambda: model.loss_and_grads(X, eps, estimator)[0], model.params, grads,
                          n_checks=20, rng=rng, h=1e-3, order=4, tol=MODEL_TOL)
    assert {row.name for row in report.rows} >= {"dec.W_mean", "dec.b_mean", "dec.W_logvar"}
    assert report.passed, str(report)


def test_sigmoid_mean_changes_the_loss():
    """Guard for the test above: sigmoid_mean=False really is a different model."""
    model, X, eps, _ = _gaussian_linear_mean_case("B", 1)
    squashed = VAE(**{**model.config(), "sigmoid_mean": True})
    assert model.loss_and_grads(X, eps)[0] != squashed.loss_and_grads(X, eps)[0]


@pytest.mark.parametrize("name", ["enc.W1", "enc.b_logvar", "dec.W_logits", "dec.b1"])
def test_gradient_check_catches_a_wrong_tensor(name):
    """The check has teeth: a gradient off by 0.1 % in one tensor fails, in that tensor only."""
    rng = np.random.default_rng(0)
    model = VAE(12, [7, 5], 3, init_std=0.3, seed=0)
    X, eps = binary_data(rng, 5, 12), rng.standard_normal((2, 5, 3))
    _, grads = model.loss_and_grads(X, eps)
    grads[name] = grads[name] * 1.001
    report = check_params(lambda: model.loss_and_grads(X, eps)[0], model.params, grads,
                          rng=rng, h=1e-3, order=4, tol=MODEL_TOL)
    assert not report.passed
    assert [row.name for row in report.rows if not row.passed] == [name]


def test_loss_is_minus_mean_bound_and_gradient_is_its_derivative_along_a_direction():
    """A directional derivative of -mean(elbo) over all parameters at once equals <grads, v>."""
    rng = np.random.default_rng(3)
    model = VAE(12, [7, 5], 3, decoder="gaussian", init_std=0.3, seed=3)
    X, eps = rng.random((6, 12)), rng.standard_normal((2, 6, 3))
    _, grads = model.loss_and_grads(X, eps, "A")
    base = {k: p.copy() for k, p in model.params.items()}
    v = {k: rng.standard_normal(p.shape) for k, p in base.items()}

    def loss_at(t):
        for k in base:
            model.params[k][...] = base[k] + t * v[k]
        return -np.mean(model.elbo(X, eps, "A"))

    h = 1e-3
    d1 = (loss_at(h) - loss_at(-h)) / (2 * h)
    d2 = (loss_at(2 * h) - loss_at(-2 * h)) / (4 * h)
    numeric = (4 * d1 - d2) / 3
    loss_at(0.0)
    analytic = sum(float(np.sum(grads[k] * v[k])) for k in base)
    assert rel_error(numeric, analytic) < MODEL_TOL


# ----------------------------------------------------------------------------------------
# 1b. The weight prior on its own (the trainer adds it; see test_training for the sum)
# ----------------------------------------------------------------------------------------

def test_weight_prior_term_gradient():
    from minivae.prior import log_prior_backward, log_prior_forward
    model = small_model()
    lp, cache = log_prior_forward(model.params)
    expected = -0.5 * sum(np.sum(p ** 2) + p.size * np.log(2 * np.pi) for p in model.params.values())
    assert lp == pytest.approx(expected, rel=1e-12)
    grads = log_prior_backward(1.0, cache)
    report = check_params(lambda: log_prior_forward(model.params)[0], model.params, grads,
                          h=1e-3, order=4, tol=1e-7)
    assert report.passed, str(report)


# ----------------------------------------------------------------------------------------
# 2. API: parameters, shapes, determinism
# ----------------------------------------------------------------------------------------

def test_params_names_and_shapes_single_hidden_layer():
    m = VAE(16, 8, 4)
    assert m.n_hidden == [8]
    assert {k: v.shape for k, v in m.params.items()} == {
        "enc.W1": (16, 8), "enc.b1": (8,),
        "enc.W_mu": (8, 4), "enc.b_mu": (4,), "enc.W_logvar": (8, 4), "enc.b_logvar": (4,),
        "dec.W1": (4, 8), "dec.b1": (8,),
        "dec.W_logits": (8, 16), "dec.b_logits": (16,),
    }
    assert m.n_params == sum(p.size for p in m.params.values())
    assert all(p.dtype == np.float64 for p in m.params.values())


def test_params_decoder_mirrors_encoder_and_gaussian_heads():
    m = VAE(10, [7, 5, 4], 2, decoder="gaussian")
    shapes = {k: v.shape for k, v in m.params.items()}
    assert [shapes[f"enc.W{k}"] for k in (1, 2, 3)] == [(10, 7), (7, 5), (5, 4)]
    assert shapes["enc.W_mu"] == shapes["enc.W_logvar"] == (4, 2)
    assert [shapes[f"dec.W{k}"] for k in (1, 2, 3)] == [(2, 4), (4, 5), (5, 7)]
    assert [shapes[f"dec.b{k}"] for k in (1, 2, 3)] == [(4,), (5,), (7,)]
    assert shapes["dec.W_mean"] == shapes["dec.W_logvar"] == (7, 10)
    assert shapes["dec.b_mean"] == shapes["dec.b_logvar"] == (10,)
    assert "dec.W_logits" not in shapes


@pytest.mark.parametrize("init_std", [0.01, 0.5])
def test_init_std_statistics(init_std):
    """Every entry ~ N(0, init_std^2): the pooled sample std within 3 % (about 6 standard errors)."""
    m = VAE(100, 60, 10, init_std=init_std, seed=0)
    values = np.concatenate([p.ravel() for p in m.params.values()])
    n = values.size
    assert n > 10_000
    assert np.std(values) == pytest.approx(init_std, rel=0.03)
    assert abs(np.mean(values)) < 5 * init_std / np.sqrt(n)
    for name, p in m.params.items():  # biases are drawn too, none left at zero
        assert np.all(p != 0), name


def test_init_std_zero_gives_zero_params():
    m = VAE(6, 4, 2, init_std=0.0, seed=0)
    assert all(np.all(p == 0) for p in m.params.values())


def test_same_seed_identical_params_different_seed_different():
    a, b, c = VAE(8, [5, 4], 2, seed=7), VAE(8, [5, 4], 2, seed=7), VAE(8, [5, 4], 2, seed=8)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert all(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


def test_encode_shapes():
    rng = np.random.default_rng(0)
    m = small_model()
    mu, logvar = m.encode(binary_data(rng, 5, 8))
    assert mu.shape == logvar.shape == (5, 3)
    assert np.all(np.isfinite(mu)) and np.all(np.isfinite(logvar))


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_decode_shapes_and_range(decoder):
    rng = np.random.default_rng(0)
    m = VAE(8, 6, 3, decoder=decoder, seed=0, init_std=0.3)
    out2 = m.decode(rng.standard_normal((5, 3)))
    out3 = m.decode(rng.standard_normal((2, 5, 3)))
    assert out2.shape == (5, 8) and out3.shape == (2, 5, 8)
    # Bernoulli probabilities, or the sigmoid-squashed Gaussian mean: strictly inside (0, 1)
    assert np.all((out2 > 0) & (out2 < 1)) and np.all((out3 > 0) & (out3 < 1))


def test_decode_leading_sample_axis_is_rowwise():
    rng = np.random.default_rng(0)
    m = small_model()
    Z = rng.standard_normal((3, 4, 3))
    np.testing.assert_allclose(m.decode(Z)[1], m.decode(Z[1]), rtol=1e-13, atol=0)


def test_gaussian_linear_mean_is_not_squashed():
    m = VAE(8, 6, 3, decoder="gaussian", sigmoid_mean=False, seed=0, init_std=0.3)
    m.params["dec.b_mean"][:] = 5.0
    assert np.all(m.decode(np.zeros((2, 3))) > 1.0)


def test_log_likelihood_shapes():
    rng = np.random.default_rng(0)
    m = small_model()
    X = binary_data(rng, 5, 8)
    assert m.log_likelihood(X, rng.standard_normal((5, 3))).shape == (5,)
    ll = m.log_likelihood(X, rng.standard_normal((4, 5, 3)))
    assert ll.shape == (4, 5)
    assert np.all(ll < 0)  # a log probability of binary data


def test_log_likelihood_rows_must_match():
    rng = np.random.default_rng(0)
    m = small_model()
    with pytest.raises(ValueError, match="rows"):
        m.log_likelihood(binary_data(rng, 5, 8), rng.standard_normal((4, 3)))


def test_reconstruction_term_is_minus_D_log2_at_zero_logits():
    rng = np.random.default_rng(0)
    m = small_model()
    for name in m.params:
        if name.startswith("dec."):
            m.params[name][...] = 0.0
    X = binary_data(rng, 5, 8)
    np.testing.assert_allclose(m.log_likelihood(X, rng.standard_normal((2, 5, 3))),
                               -8 * np.log(2.0), rtol=1e-14)


@pytest.mark.parametrize("estimator", ["A", "B"])
def test_elbo_eps_2d_equals_eps_with_one_sample_axis(estimator):
    rng = np.random.default_rng(0)
    m = small_model()
    X, eps = binary_data(rng, 5, 8), rng.standard_normal((5, 3))
    b2 = m.elbo(X, eps, estimator)
    assert b2.shape == (5,)
    np.testing.assert_array_equal(b2, m.elbo(X, eps[None], estimator))


def test_elbo_with_L_samples_is_mean_of_single_sample_bounds():
    rng = np.random.default_rng(0)
    m = small_model()
    X, eps = binary_data(rng, 5, 8), rng.standard_normal((4, 5, 3))
    for est in ("A", "B"):
        singles = np.mean([m.elbo(X, e, est) for e in eps], axis=0)
        np.testing.assert_allclose(m.elbo(X, eps, est), singles, rtol=1e-13)


def test_elbo_without_eps_reproducible_with_seeded_rng():
    rng = np.random.default_rng(0)
    m = small_model()
    X = binary_data(rng, 5, 8)
    a = m.elbo(X, L=3, rng=np.random.default_rng(11))
    b = m.elbo(X, L=3, rng=np.random.default_rng(11))
    c = m.elbo(X, L=3, rng=np.random.default_rng(12))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the draw is eps ~ N(0, I) of shape (L, M, J) from that generator
    np.testing.assert_array_equal(a, m.elbo(X, np.random.default_rng(11).standard_normal((3, 5, 3))))


def test_elbo_without_eps_or_rng_uses_model_generator():
    rng = np.random.default_rng(0)
    X = binary_data(rng, 5, 8)
    a, b = small_model(seed=4), small_model(seed=4)
    np.testing.assert_array_equal(a.elbo(X), b.elbo(X))      # same seed, same stream
    assert not np.array_equal(a.elbo(X), a.elbo(X))          # the stream advances


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("estimator", ["A", "B"])
def test_loss_and_grads_contract(decoder, estimator):
    rng = np.random.default_rng(0)
    m = VAE(8, [6, 5], 3, decoder=decoder, seed=0, init_std=0.3)
    X = binary_data(rng, 5, 8) if decoder == "bernoulli" else rng.random((5, 8))
    eps = rng.standard_normal((2, 5, 3))
    before = {k: p.copy() for k, p in m.params.items()}
    loss, grads = m.loss_and_grads(X, eps, estimator)
    assert isinstance(loss, float)
    assert loss == pytest.approx(-np.mean(m.elbo(X, eps, estimator)), rel=1e-14, abs=0)
    assert grads.keys() == m.params.keys()
    for k in m.params:
        assert grads[k].shape == m.params[k].shape and grads[k].dtype == np.float64, k
        assert np.array_equal(m.params[k], before[k]), f"loss_and_grads changed {k}"
    # validate=False takes the same path for already-checked inputs
    loss2, grads2 = m.loss_and_grads(X, eps, estimator, validate=False)
    assert loss2 == loss and all(np.array_equal(grads[k], grads2[k]) for k in grads)
    loss3, _ = m.loss_and_grads(X, eps[0], estimator, validate=False)
    assert loss3 == pytest.approx(-np.mean(m.elbo(X, eps[0], estimator)), rel=1e-14)


def test_estimator_name_is_case_insensitive():
    rng = np.random.default_rng(0)
    m = small_model()
    X, eps = binary_data(rng, 5, 8), rng.standard_normal((5, 3))
    np.testing.assert_array_equal(m.elbo(X, eps, "a"), m.elbo(X, eps, "A"))


@given(seed=seeds(), n_hidden=st.one_of(st.integers(1, 6), st.lists(st.integers(1, 6), min_size=1,
                                                                     max_size=3)),
       decoder=st.sampled_from(["bernoulli", "gaussian"]), sigmoid_mean=st.booleans())
def test_config_round_trip(seed, n_hidden, decoder, sigmoid_mean):
    m = VAE(7, n_hidden, 2, decoder=decoder, activation="softplus", init_std=0.2, seed=seed,
            sigmoid_mean=sigmoid_mean)
    config = m.config()
    clone = VAE(**config)
    assert clone.config() == config
    assert {k: v.shape for k, v in clone.params.items()} == {k: v.shape for k, v in m.params.items()}
    # a seeded config rebuilds the very same initial parameters
    assert all(np.array_equal(clone.params[k], m.params[k]) for k in m.params)
    assert repr(m).startswith("VAE(") and "n_input=7" in repr(m)


def test_config_is_json_ready():
    import json
    m = VAE(7, [3, 2], 2, seed=1)
    assert json.loads(json.dumps(m.config())) == m.config()


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_sample_shape(decoder):
    m = VAE(8, 6, 3, decoder=decoder, seed=0)
    assert m.sample(7).shape == (7, 8)
    a = m.sample(4, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, m.sample(4, rng=np.random.default_rng(1)))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        m.sample(0)


# ----------------------------------------------------------------------------------------
# Distribution-level checks a gradient check cannot make
# ----------------------------------------------------------------------------------------

def test_estimator_A_mean_equals_estimator_B():
    """E_eps[L^A] = E_eps[L^B]: the two estimators estimate the same bound (Sec. 2.3)."""
    rng = np.random.default_rng(0)
    m = VAE(6, 5, 2, seed=0, init_std=0.5)
    X = binary_data(rng, 3, 6)
    n = 40_000
    eps = rng.standard_normal((n, 3, 2))
    # single-sample estimates, vectorized: row i*3 + j of the tiled batch is (X[j], eps[i, j])
    single = {est: m.elbo(np.tile(X, (n, 1)), eps.reshape(n * 3, 2), est).reshape(n, 3)
              for est in ("A", "B")}
    np.testing.assert_allclose(single["A"].mean(axis=0), m.elbo(X, eps, "A"), rtol=1e-10)
    assert np.all(single["A"].std(axis=0) > single["B"].std(axis=0))  # B has less variance
    diff = single["A"] - single["B"]
    se = diff.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(diff.mean(axis=0)) < 5 * se), (diff.mean(axis=0), se)


def test_bound_below_log_marginal_likelihood_by_quadrature():
    """With a 1-D latent, log p(x) = log int p(x|z) N(z; 0, 1) dz by quadrature; the bound is below."""
    rng = np.random.default_rng(2)
    m = VAE(6, 5, 1, seed=2, init_std=0.8)
    X = binary_data(rng, 4, 6)
    z = np.linspace(-10, 10, 4001)
    dz = z[1] - z[0]
    Z = np.broadcast_to(z[:, None, None], (z.size, 4, 1))
    log_joint = m.log_likelihood(X, Z) - 0.5 * (np.log(2 * np.pi) + z[:, None] ** 2)
    peak = log_joint.max(axis=0)
    log_px = peak + np.log(np.sum(np.exp(log_joint - peak), axis=0) * dz)
    eps = rng.standard_normal((20_000, 4, 1))
    for est in ("A", "B"):
        bound = m.elbo(X, eps, est)
        assert np.all(bound < log_px), (est, bound, log_px)
    # and the gap is the KL to the true posterior: small but not zero for an untrained encoder
    assert np.all(log_px - m.elbo(X, eps, "B") > 1e-3)


# ----------------------------------------------------------------------------------------
# 4. Numerics: extreme logits and log-variances stay finite
# ----------------------------------------------------------------------------------------

def _all_finite(loss, grads):
    return np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("value", [1e3, -1e3])
def test_extreme_logits_finite(value):
    rng = np.random.default_rng(0)
    m = small_model()
    m.params["dec.b_logits"][:] = value
    X, eps = binary_data(rng, 5, 8), rng.standard_normal((2, 5, 3))
    with np.errstate(**RAISE):
        for est in ("A", "B"):
            assert np.all(np.isfinite(m.elbo(X, eps, est)))
            loss, grads = m.loss_and_grads(X, eps, est)
            assert _all_finite(loss, grads)
            # about |value| nats per pixel that disagrees with the saturated logit
            wrong = np.sum(X != (value > 0), axis=1)
            np.testing.assert_allclose(m.log_likelihood(X, eps[0]), -abs(value) * wrong, rtol=1e-2,
                                       atol=1e-6 * abs(value))
        assert np.all((m.decode(eps[0]) >= 0) & (m.decode(eps[0]) <= 1))


@pytest.mark.parametrize("value", [50.0, -50.0])
@pytest.mark.parametrize("estimator", ["A", "B"])
def test_extreme_encoder_logvar_finite(value, estimator):
    rng = np.random.default_rng(0)
    m = small_model()
    m.params["enc.b_logvar"][:] = value
    X, eps = binary_data(rng, 5, 8), rng.standard_normal((2, 5, 3))
    with np.errstate(**RAISE):
        assert np.all(np.isfinite(m.elbo(X, eps, estimator)))
        assert _all_finite(*m.loss_and_grads(X, eps, estimator))


@pytest.mark.parametrize("head,value", [("dec.b_logvar", 50.0), ("dec.b_logvar", -50.0),
                                        ("dec.b_mean", 1e3), ("dec.b_mean", -1e3)])
@pytest.mark.parametrize("estimator", ["A", "B"])
def test_extreme_gaussian_decoder_heads_finite(head, value, estimator):
    rng = np.random.default_rng(0)
    m = small_model(decoder="gaussian")
    m.params[head][:] = value
    X, eps = rng.random((5, 8)), rng.standard_normal((2, 5, 3))
    with np.errstate(**RAISE):
        assert np.all(np.isfinite(m.elbo(X, eps, estimator)))
        assert _all_finite(*m.loss_and_grads(X, eps, estimator))


def test_parameters_share_one_buffer_and_keep_their_initial_values():
    model = VAE(6, [4, 3], 2, seed=3, dtype="float32")
    assert flat.span(model.params.values()) is not None
    rng = np.random.default_rng(3)
    for name, p in model.params.items():  # drawn in order, as separate arrays were before
        np.testing.assert_array_equal(p, (0.01 * rng.standard_normal(p.shape)).astype(np.float32))
