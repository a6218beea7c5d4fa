"""Tests for minivae.likelihoods: the decoders' log p(x|z) (App. C) and their backward passes.

VJPs are checked by central differences with a random upstream gradient at 1e-7. The
Bernoulli gradient ``x - sigmoid(a)`` vanishes where the prediction equals a grey value, so
logits are drawn with ``|x - sigmoid(a)| >= 0.1``; the Gaussian inputs come from
``strategies.log_normal_inputs`` (gradients bounded away from zero).
"""

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from minivae.gradcheck import check_vjp
from minivae.likelihoods import (bernoulli_loglik_backward, bernoulli_loglik_forward,
                                 gaussian_loglik_backward, gaussian_loglik_forward)
from strategies import dims, finite_arrays, floats, log_normal_inputs, seeds

SINGLE_OP_TOL = 1e-7  # docs/design.md, the tolerance ladder
STRICT = dict(all="raise", under="ignore")  # underflow to 0 is a correct result, see test_activations


# ----------------------------------------------------------------------------
# Bernoulli
# ----------------------------------------------------------------------------


@st.composite
def bernoulli_inputs(draw, grey, with_L):
    """``x (M, D)``, ``logits (M, D)`` or ``(L, M, D)`` and ``dout``, with ``|x - sigmoid(logits)| >= 0.1``."""
    L, M, D = (draw(dims(3)) if with_L else None), draw(dims(4)), draw(dims(6))
    full = (L, M, D) if with_L else (M, D)
    if grey:
        x = draw(finite_arrays((M, D), floats(0.0, 1.0)))
        offset = draw(finite_arrays(full, floats(0.1, 0.45)))
        side = draw(finite_arrays(full, st.sampled_from([-1.0, 1.0])))
        p = x + side * offset
        p = np.where((p < 0.02) | (p > 0.98), x - side * offset, p)  # the other side is inside
    else:
        x = draw(finite_arrays((M, D), st.sampled_from([0.0, 1.0])))
        p = draw(finite_arrays(full, floats(0.1, 0.9)))
    logits = np.log(p) - np.log1p(-p)
    dout = draw(finite_arrays(full[:-1]))
    return x, logits, dout


@pytest.mark.parametrize("with_L", [False, True], ids=["logits(M,D)", "logits(L,M,D)"])
@pytest.mark.parametrize("grey", [False, True], ids=["binary x", "grey x"])
@given(data=st.data())
def test_bernoulli_loglik_vjp(grey, with_L, data):
    x, logits, dout = data.draw(bernoulli_inputs(grey, with_L))
    assert np.all(np.abs(x - scipy.special.expit(logits)) >= 0.1 - 1e-12)
    out, cache = bernoulli_loglik_forward(x, logits)
    assert out.shape == dout.shape
    dlogits = bernoulli_loglik_backward(dout, cache)
    assert dlogits.shape == logits.shape
    check_vjp(lambda: bernoulli_loglik_forward(x, logits)[0], {"logits": logits}, dout,
              {"logits": dlogits}, tol=SINGLE_OP_TOL)


@given(data=st.data())
def test_bernoulli_reconstruction_term_at_zero_logits_is_minus_D_log_2(data):
    """log p(x|z) = -D log 2 when the decoder predicts 1/2 everywhere, for any x in [0, 1]."""
    L, M, D = data.draw(dims(3)), data.draw(dims(4)), data.draw(dims(8))
    x = data.draw(finite_arrays((M, D), floats(0.0, 1.0)))
    for logits in (np.zeros((M, D)), np.zeros((L, M, D))):
        out, cache = bernoulli_loglik_forward(x, logits)
        np.testing.assert_allclose(out, np.full(logits.shape[:-1], -D * np.log(2.0)), rtol=1e-14)
        np.testing.assert_allclose(bernoulli_loglik_backward(np.ones(out.shape), cache),
                                   np.broadcast_to(x - 0.5, logits.shape), rtol=0, atol=1e-16)


@given(seeds(), dims(3), dims(4), dims(6))
def test_bernoulli_loglik_matches_probability_form(seed, L, M, D):
    rng = np.random.default_rng(seed)
    x_grey = rng.uniform(0.0, 1.0, (M, D))
    x_bin = (rng.uniform(0.0, 1.0, (M, D)) < 0.5).astype(float)
    logits = 3.0 * rng.standard_normal((L, M, D))
    y = scipy.special.expit(logits)
    for x in (x_grey, x_bin):
        expected = np.sum(x * np.log(y) + (1 - x) * np.log1p(-y), axis=-1)
        np.testing.assert_allclose(bernoulli_loglik_forward(x, logits)[0], expected, rtol=1e-11)
    expected = scipy.stats.bernoulli.logpmf(np.broadcast_to(x_bin, y.shape), y).sum(axis=-1)
    np.testing.assert_allclose(bernoulli_loglik_forward(x_bin, logits)[0], expected, rtol=1e-11)


def test_bernoulli_loglik_is_finite_at_extreme_logits():
    x = np.array([[1.0, 0.0, 1.0, 0.0, 0.3, 0.3]])
    logits = np.array([[1e4, 1e4, -1e4, -1e4, 1e4, -1e4]])
    with np.errstate(**STRICT):
        out, cache = bernoulli_loglik_forward(x, logits)
        dlogits = bernoulli_loglik_backward(np.ones(1), cache)
        terms = [bernoulli_loglik_forward(x[:, [d]], logits[:, [d]])[0][0] for d in range(6)]
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dlogits))
    # x a - softplus(a): exact at |a| = 1e4
    np.testing.assert_array_equal(terms, [0.0, -1e4, -1e4, 0.0, -0.7e4, -0.3e4])
    np.testing.assert_array_equal(dlogits, [[0.0, -1.0, 1.0, 0.0, -0.7, 0.3]])


def test_bernoulli_backward_does_not_mutate_cache_or_upstream():
    rng = np.random.default_rng(7)
    x, logits, dout = rng.uniform(size=(3, 4)), rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3))
    _, cache = bernoulli_loglik_forward(x, logits)
    before = (cache.x.copy(), cache.logits.copy(), dout.copy())
    bernoulli_loglik_backward(dout, cache)
    for now, then in zip((cache.x, cache.logits, dout), before):
        np.testing.assert_array_equal(now, then)


# ----------------------------------------------------------------------------
# Gaussian
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("broadcast", ["none", "params"], ids=["outputs(M,D)", "outputs(L,M,D)"])
@given(data=st.data())
def test_gaussian_loglik_vjp(broadcast, data):
    x, mean, logvar, dout = data.draw(log_normal_inputs(broadcast, max_J=6))
    out, cache = gaussian_loglik_forward(x, mean, logvar)
    assert out.shape == dout.shape
    dmean, dlogvar = gaussian_loglik_backward(dout, cache)
    assert dmean.shape == dlogvar.shape == mean.shape
    check_vjp(lambda: gaussian_loglik_forward(x, mean, logvar)[0], {"mean": mean, "logvar": logvar},
              dout, {"mean": dmean, "logvar": dlogvar}, tol=SINGLE_OP_TOL)


@given(seeds(), dims(3), dims(4), dims(6))
def test_gaussian_loglik_matches_scipy(seed, L, M, D):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (M, D))
    mean, logvar = scipy.special.expit(rng.standard_normal((L, M, D))), rng.standard_normal((L, M, D)) - 2
    expected = scipy.stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * logvar)).sum(axis=-1)
    out, _ = gaussian_loglik_forward(x, mean, logvar)
    assert out.shape == (L, M)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("logvar", [-100.0, 100.0])
def test_gaussian_loglik_and_its_gradient_are_finite_at_extreme_logvar(logvar):
    x = np.array([[0.2, 0.9]])
    mean, lv = np.array([[[0.5, 0.1]], [[0.0, 1.0]]]), np.full((2, 1, 2), logvar)
    out, cache = gaussian_loglik_forward(x, mean, lv)
    dmean, dlogvar = gaussian_loglik_backward(np.ones(out.shape), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dmean)) and np.all(np.isfinite(dlogvar))
    expected = scipy.stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * logvar)).sum(axis=-1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(dmean, (x - mean) * np.exp(-logvar), rtol=1e-12)
