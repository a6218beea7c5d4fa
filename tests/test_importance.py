"""Importance-sampled log p(x) (minivae.marginal.importance): exactly estimator A at k = 1, the
running log-sum-exp against a direct one, non-decreasing in k on average, and converging to
log p(x) from quadrature (tanh Bernoulli decoder) or the closed form (linear Gaussian decoder)."""
import numpy as np
import pytest
from scipy.special import logsumexp

from marginal_cases import (binary_rows, linear_gaussian, linear_gaussian_log_px,
                            linear_gaussian_rows, tiny_bernoulli)
from minivae.marginal import importance_log_px, quadrature_log_px
from minivae.marginal.importance import default_chunk, log_importance_weights, running_logsumexp

CASES = {"bernoulli": lambda J: tiny_bernoulli(J), "gaussian": lambda J: linear_gaussian(J)}


def _rows(decoder, model, M, seed=4):
    return binary_rows(seed, M) if decoder == "bernoulli" else linear_gaussian_rows(model, seed, M)


@pytest.mark.parametrize("decoder", list(CASES))
@pytest.mark.parametrize("J", [1, 3])
def test_k1_equals_estimator_a_exactly(decoder, J):
    model = CASES[decoder](J)
    X = _rows(decoder, model, 6)
    eps = model.draw_eps(np.random.default_rng(7), (1, 6, J))
    got = importance_log_px(model, X, k=1, rng=np.random.default_rng(7), batch_size=6)
    np.testing.assert_array_equal(got, model.elbo(X, eps, estimator="A"))


def test_log_sum_exp_over_chunks_and_batches_equals_a_direct_one():
    # Reproduce the documented noise order (batch by batch, chunk by chunk) and compare the
    # running log-sum-exp with scipy's over all k weights at once.
    model, k, batch_size, chunk = tiny_bernoulli(2), 23, 4, 5
    X = binary_rows(1, 10)
    got = importance_log_px(model, X, k=k, batch_size=batch_size, chunk=chunk,
                            rng=np.random.default_rng(3))
    rng, expected = np.random.default_rng(3), []
    for s in range(0, 10, batch_size):
        Xb = X[s:s + batch_size]
        eps = np.concatenate([model.draw_eps(rng, (min(chunk, k - c), len(Xb), 2))
                              for c in range(0, k, chunk)])
        mu, logvar = model.encode(Xb)
        expected.append(logsumexp(log_importance_weights(model, Xb, mu, logvar, eps), axis=0)
                        - np.log(k))
    np.testing.assert_allclose(got, np.concatenate(expected), rtol=1e-13, atol=1e-12)


def test_running_logsumexp_is_stable_when_a_later_block_raises_the_maximum():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 4)) * 50 - 2000.0   # exp underflows without a shift
    a[25, :] += 300.0                                 # the maximum arrives late
    blocks = [a[i:i + 7] for i in range(0, 30, 7)]
    np.testing.assert_allclose(running_logsumexp(blocks), logsumexp(a, axis=0), rtol=1e-14)
    with pytest.raises(ValueError):
        running_logsumexp([])


def test_non_decreasing_in_k_on_average(budget):
    # E[log p_k] rises with k (Burda et al.); the mean over many rows makes the Monte Carlo
    # noise far smaller than the steps between k = 1, 10, 100, 1000.
    model = tiny_bernoulli(2)
    X = binary_rows(2, budget(400, 200))
    means = [importance_log_px(model, X, k=k, rng=np.random.default_rng(k)).mean()
             for k in (1, 10, 100, 1000)]
    assert np.all(np.diff(means) > 0), means
    log_px = quadrature_log_px(model, X).mean()
    assert means[0] < log_px - 0.2 and abs(means[-1] - log_px) < 0.02, (means, log_px)


@pytest.mark.parametrize("J", [1, 2])
def test_agrees_with_quadrature_and_lies_above_the_elbo_bernoulli(J, budget):
    model = tiny_bernoulli(J)
    X = binary_rows(4, 20)
    log_px = quadrature_log_px(model, X)
    est = importance_log_px(model, X, k=budget(20000, 10000), rng=np.random.default_rng(1))
    assert np.abs(est - log_px).max() < 0.1
    elbo = model.elbo(X, L=4000, rng=np.random.default_rng(2), estimator="B")
    assert np.all(elbo < est) and np.all(elbo < log_px)
    assert np.mean(log_px - elbo) > 0.2  # the test is not trivial: q is far from the posterior


@pytest.mark.parametrize("J", [1, 2, 3])
def test_agrees_with_the_closed_form_gaussian_decoder(J, budget):
    model = linear_gaussian(J)
    X = linear_gaussian_rows(model, 1, 20)
    log_px = linear_gaussian_log_px(model, X)
    est = importance_log_px(model, X, k=budget(20000, 10000), rng=np.random.default_rng(0),
                            batch_size=7, chunk=999)
    assert np.abs(est - log_px).max() < 0.1
    elbo = model.elbo(X, L=4000, rng=np.random.default_rng(2))
    assert np.all(elbo < est)


def test_exact_posterior_as_proposal_gives_log_px_with_one_sample():
    # J = 1: the diagonal q can be the exact posterior, the weights are constant = p(x).
    model = linear_gaussian(1, shift=0.0, inflate=0.0)
    X = linear_gaussian_rows(model, 2, 5)
    est = importance_log_px(model, X, k=1, rng=np.random.default_rng(0))
    np.testing.assert_allclose(est, linear_gaussian_log_px(model, X), rtol=0, atol=1e-10)


def test_default_chunk_bounds_memory_and_rows_are_independent_of_batching():
    model = linear_gaussian(2)
    width = sum(model.n_hidden) + 2 * model.n_input
    assert default_chunk(model, 100) == (64 * 2 ** 20) // (8 * 100 * width)
    assert default_chunk(model, 10 ** 9) == 1
    # a row's value depends on its own weights only: one batch of all rows, each row's noise
    # drawn in the same place, equals evaluating the rows one by one with that noise
    X = linear_gaussian_rows(model, 3, 3)
    all_rows = importance_log_px(model, X, k=50, rng=np.random.default_rng(5), batch_size=3)
    eps = model.draw_eps(np.random.default_rng(5), (50, 3, 2))
    for i in range(3):
        mu, logvar = model.encode(X[i:i + 1])
        w = log_importance_weights(model, X[i:i + 1], mu, logvar, eps[:, i:i + 1])
        np.testing.assert_allclose(all_rows[i], logsumexp(w) - np.log(50), rtol=1e-13)


@pytest.mark.parametrize("kwargs, error", [
    (dict(k=0), ValueError), (dict(k=2.5), TypeError), (dict(k=5, batch_size=0), ValueError),
    (dict(k=5, chunk=0), ValueError)])
def test_rejects_bad_arguments(kwargs, error):
    model = tiny_bernoulli(1)
    with pytest.raises(error):
        importance_log_px(model, binary_rows(0, 3), **kwargs)


def test_rejects_bad_data():
    model = tiny_bernoulli(1)
    with pytest.raises(ValueError, match="columns"):
        importance_log_px(model, np.zeros((3, 5)), k=2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        importance_log_px(model, np.full((3, 8), 2.0), k=2)


def test_an_integer_seed_means_the_generator_seeded_with_it():
    model, X = tiny_bernoulli(1), binary_rows(0, 3)
    by_seed = importance_log_px(model, X, k=20, rng=7)
    np.testing.assert_array_equal(by_seed, importance_log_px(model, X, k=20,
                                                             rng=np.random.default_rng(7)))
    assert not np.array_equal(by_seed, importance_log_px(model, X, k=20, rng=8))
