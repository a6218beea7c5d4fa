"""Tests for minivae.training.evaluation: the "bound per datapoint" reduction over a whole dataset."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minivae.fused.backend import BACKENDS, use_backend
from minivae.training.evaluation import bound_per_datapoint, mean_bound
from minivae.model import VAE
from strategies import seeds


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request):
    """Every test here runs on both backends (they share one source of maths)."""
    with use_backend(request.param):
        yield request.param


D, J = 10, 3


@pytest.fixture(scope="module")
def model():
    return VAE(D, 6, J, seed=0, init_std=0.3)


@pytest.fixture(scope="module")
def X():
    return (np.random.default_rng(0).random((37, D)) < 0.5).astype(float)


def test_shape_and_dtype(model, X):
    b = bound_per_datapoint(model, X, batch_size=10)
    assert b.shape == (37,) and b.dtype == np.float64
    assert np.all(np.isfinite(b)) and np.all(b < 0)  # log-probability bounds of binary data


@pytest.mark.parametrize("estimator,L", [("B", 1), ("A", 1), ("B", 4), ("A", 3)])
def test_single_batch_equals_elbo_with_same_rng(model, X, estimator, L):
    b = bound_per_datapoint(model, X, L=L, estimator=estimator, batch_size=1000,
                            rng=np.random.default_rng(9))
    expected = model.elbo(X, L=L, estimator=estimator, rng=np.random.default_rng(9))
    # estimator B runs the fused kernels: the same numbers up to float64 round-off
    np.testing.assert_allclose(b, expected, rtol=1e-12, atol=0)


def test_default_rng_is_seed_zero_and_model_rng_untouched(model, X):
    state = model.rng.bit_generator.state
    b = bound_per_datapoint(model, X)
    assert model.rng.bit_generator.state == state  # evaluation never advances the model's stream
    np.testing.assert_allclose(b, model.elbo(X, rng=np.random.default_rng(0)), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(b, bound_per_datapoint(model, X))  # reproducible by default


@given(batch_size=st.integers(1, 50), seed=seeds())
def test_single_sample_bound_does_not_depend_on_batch_size(model, X, batch_size, seed):
    """With L = 1 the noise stream is consumed row by row, so batching changes nothing."""
    whole = bound_per_datapoint(model, X, batch_size=len(X), rng=np.random.default_rng(seed))
    split = bound_per_datapoint(model, X, batch_size=batch_size, rng=np.random.default_rng(seed))
    np.testing.assert_allclose(split, whole, rtol=1e-12, atol=0)


def test_multi_sample_bound_reproducible_for_a_fixed_batch_size(model, X):
    """With L > 1 the draw (L, batch, J) interleaves differently per batch size: only a fixed
    batch size reproduces the same numbers (as documented), though all agree in distribution."""
    a = bound_per_datapoint(model, X, L=3, batch_size=8, rng=np.random.default_rng(1))
    b = bound_per_datapoint(model, X, L=3, batch_size=8, rng=np.random.default_rng(1))
    c = bound_per_datapoint(model, X, L=3, batch_size=37, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # each batch of 8 rows is model.elbo on those rows, with the generator's next draws
    rng = np.random.default_rng(1)
    first = model.elbo(X[:8], L=3, rng=rng)
    second = model.elbo(X[8:16], L=3, rng=rng)
    np.testing.assert_allclose(a[:16], np.concatenate([first, second]), rtol=1e-12, atol=0)


def test_mean_bound(model, X):
    kwargs = dict(L=2, estimator="A", batch_size=5)
    m = mean_bound(model, X, rng=np.random.default_rng(3), **kwargs)
    assert type(m) is float
    assert m == float(np.mean(bound_per_datapoint(model, X, rng=np.random.default_rng(3), **kwargs)))


def test_mean_bound_converges_to_the_bound(model, X):
    """More samples per datapoint: the mean bound settles (its MC error shrinks like 1/sqrt(L))."""
    estimates = [mean_bound(model, X, L=400, rng=np.random.default_rng(s)) for s in range(3)]
    assert np.ptp(estimates) < 0.05


@pytest.mark.parametrize("empty", [np.zeros((0, D)), []])
def test_empty_dataset(model, empty):
    with pytest.raises(ValueError, match="empty dataset"):
        bound_per_datapoint(model, empty)
    with pytest.raises(ValueError, match="empty dataset"):
        mean_bound(model, empty)


@pytest.mark.parametrize("batch_size,error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_bad_batch_size(model, X, batch_size, error):
    with pytest.raises(error, match="batch_size must be a positive integer"):
        bound_per_datapoint(model, X, batch_size=batch_size)


def test_bad_data_reaches_the_model_checks(model, X):
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        bound_per_datapoint(model, bad)
    with pytest.raises(ValueError, match=f"n_input={D}"):
        bound_per_datapoint(model, X[:, :-1])


def test_gaussian_model(X):
    m = VAE(D, 6, J, decoder="gaussian", seed=1)
    grey = np.random.default_rng(1).random((12, D))
    b = bound_per_datapoint(m, grey, batch_size=5)
    assert b.shape == (12,) and np.all(np.isfinite(b))
