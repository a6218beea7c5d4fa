"""Tests for minivae.estimators: SGVB estimators A (eq. 6) and B (eq. 7), the minibatch scale (eq. 8).

VJPs by central differences with a random upstream gradient at 1e-7. The estimators are
linear, so the only error is rounding, about ``1e-16 |bound| / h``: inputs are kept of order
one (log-densities of hundreds of nats would need a looser tolerance for that reason alone).
That the mean of estimator A equals estimator B is tested statistically on a model in
``test_distributions.py``.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minivae.estimators import (ESTIMATORS, check_estimator, minibatch_backward, minibatch_forward,
                                sgvb_a_backward, sgvb_a_forward, sgvb_b_backward, sgvb_b_forward)
from minivae.gradcheck import check_vjp
from strategies import dims, finite_arrays, floats, seeds

SINGLE_OP_TOL = 1e-7  # docs/design.md, the tolerance ladder


@st.composite
def per_sample_terms(draw, n, max_L=4, max_M=5):
    """``n`` arrays ``(L, M)`` of per-sample log-densities and an upstream ``dbound (M,)``."""
    L, M = draw(dims(max_L)), draw(dims(max_M))
    terms = [draw(finite_arrays((L, M))) for _ in range(n)]
    return terms, draw(finite_arrays(M))


@given(per_sample_terms(3))
def test_sgvb_a_vjp(inputs):
    (log_px_z, log_pz, log_qz), dbound = inputs
    bound, cache = sgvb_a_forward(log_px_z, log_pz, log_qz)
    assert bound.shape == dbound.shape
    grads = sgvb_a_backward(dbound, cache)
    assert all(g.shape == log_px_z.shape for g in grads)
    check_vjp(lambda: sgvb_a_forward(log_px_z, log_pz, log_qz)[0],
              {"log_px_z": log_px_z, "log_pz": log_pz, "log_qz": log_qz}, dbound,
              dict(zip(["log_px_z", "log_pz", "log_qz"], grads)), tol=SINGLE_OP_TOL)


@given(per_sample_terms(1), st.data())
def test_sgvb_b_vjp(inputs, data):
    (log_px_z,), dbound = inputs
    kl = data.draw(finite_arrays(dbound.shape, floats(0.0, 3.0)))
    bound, cache = sgvb_b_forward(log_px_z, kl)
    assert bound.shape == dbound.shape
    dlog_px_z, dkl = sgvb_b_backward(dbound, cache)
    assert dlog_px_z.shape == log_px_z.shape and dkl.shape == kl.shape
    check_vjp(lambda: sgvb_b_forward(log_px_z, kl)[0], {"log_px_z": log_px_z, "kl": kl}, dbound,
              {"log_px_z": dlog_px_z, "kl": dkl}, tol=SINGLE_OP_TOL)


@given(seeds(), dims(4), dims(5))
def test_sgvb_values(seed, L, M):
    rng = np.random.default_rng(seed)
    log_px_z, log_pz, log_qz = (rng.standard_normal((L, M)) for _ in range(3))
    kl = rng.uniform(0, 2, M)
    expected_a = [sum(log_px_z[l, m] + log_pz[l, m] - log_qz[l, m] for l in range(L)) / L for m in range(M)]
    expected_b = [sum(log_px_z[l, m] for l in range(L)) / L - kl[m] for m in range(M)]
    np.testing.assert_allclose(sgvb_a_forward(log_px_z, log_pz, log_qz)[0], expected_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sgvb_b_forward(log_px_z, kl)[0], expected_b, rtol=1e-12, atol=1e-12)


@given(seeds(), dims(4), dims(5))
def test_a_equals_b_when_log_pz_minus_log_qz_is_minus_kl(seed, L, M):
    """Eq. (6) and eq. (7) coincide when every sample's log p(z) - log q(z|x) is exactly -KL."""
    rng = np.random.default_rng(seed)
    log_px_z, log_qz, kl = rng.standard_normal((L, M)), rng.standard_normal((L, M)), rng.uniform(0, 2, M)
    log_pz = log_qz - kl
    np.testing.assert_allclose(sgvb_a_forward(log_px_z, log_pz, log_qz)[0], sgvb_b_forward(log_px_z, kl)[0],
                               rtol=1e-12, atol=1e-12)


def test_sgvb_backward_outputs_are_independent_writable_arrays():
    """The caller accumulates into the returned gradients; they must not share memory."""
    dbound = np.array([1.0, -2.0])
    _, cache_a = sgvb_a_forward(*(np.zeros((3, 2)) for _ in range(3)))
    grads = sgvb_a_backward(dbound, cache_a)
    _, cache_b = sgvb_b_forward(np.zeros((3, 2)), np.zeros(2))
    grads_b = sgvb_b_backward(dbound, cache_b)
    for g in (*grads, *grads_b):
        assert g.flags.writeable
    grads[0][...] += 100.0
    np.testing.assert_allclose(grads[1], np.broadcast_to(dbound / 3, (3, 2)), rtol=1e-15)
    np.testing.assert_allclose(grads[2], -np.broadcast_to(dbound / 3, (3, 2)), rtol=1e-15)
    grads_b[1][...] = 0.0
    np.testing.assert_array_equal(dbound, [1.0, -2.0])


def test_check_estimator():
    assert ESTIMATORS == ("A", "B")
    assert check_estimator("a") == "A" and check_estimator("B") == "B"
    with pytest.raises(ValueError, match="unknown estimator"):
        check_estimator("C")


# ----------------------------------------------------------------------------
# Minibatch estimator, eq. (8)
# ----------------------------------------------------------------------------


@given(st.data(), st.integers(1, 60_000))
def test_minibatch_value_is_N_over_M_times_the_sum(data, N):
    bounds = data.draw(finite_arrays(data.draw(dims(8)), floats(-300.0, 0.0)))
    M = bounds.shape[0]
    value, _ = minibatch_forward(bounds, N)
    assert isinstance(value, float)
    assert value == pytest.approx(N / M * math.fsum(bounds), rel=1e-12, abs=1e-9)
    assert value == pytest.approx(N * np.mean(bounds), rel=1e-12, abs=1e-9)


@given(st.data(), st.integers(1, 60_000), floats(-3.0, 3.0))
def test_minibatch_vjp(data, N, dout):
    bounds = data.draw(finite_arrays(data.draw(dims(8))))
    M = bounds.shape[0]
    _, cache = minibatch_forward(bounds, N)
    dbounds = minibatch_backward(dout, cache)
    assert dbounds.shape == (M,)
    np.testing.assert_allclose(dbounds, np.full(M, dout * N / M), rtol=1e-15)
    check_vjp(lambda: np.array(minibatch_forward(bounds, N)[0]), {"bounds": bounds}, np.array(dout),
              {"bounds": dbounds}, tol=SINGLE_OP_TOL)


def test_minibatch_of_the_whole_dataset_is_the_sum():
    bounds = np.array([-1.0, -2.0, -3.5])
    assert minibatch_forward(bounds, 3)[0] == -6.5


def test_minibatch_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="empty"):
        minibatch_forward(np.zeros(0), 10)
