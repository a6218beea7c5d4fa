"""Tests for minivae.prior: the parameter prior p(theta, phi) = N(0, I), the paper's weight decay.

Checked on its own (docs/design.md, "Tests"): the gradient on a dict of several arrays by central
differences at 1e-7, and its value against scipy.
"""

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from minivae.gradcheck import check_vjp
from minivae.model import VAE
from minivae.prior import log_prior_backward, log_prior_forward
from strategies import dims, finite_arrays, floats, signed_arrays

SINGLE_OP_TOL = 1e-7  # docs/design.md, the tolerance ladder


@st.composite
def param_dicts(draw, elements=None, max_arrays=4):
    """``{"p0": W (a, b), "p1": b (c,), ...}``: several small float64 arrays of 1 or 2 axes."""
    n = draw(st.integers(1, max_arrays))
    params = {}
    for k in range(n):
        shape = tuple(draw(dims(4)) for _ in range(draw(st.integers(1, 2))))
        params[f"p{k}"] = draw(signed_arrays(shape) if elements is None else finite_arrays(shape, elements))
    return params


@given(param_dicts(), floats(-3.0, 3.0))
def test_log_prior_vjp(params, dout):
    """Every parameter's gradient -dout * theta; magnitudes in [0.5, 2] keep it away from zero."""
    value, cache = log_prior_forward(params)
    assert isinstance(value, float)
    dparams = log_prior_backward(dout, cache)
    assert list(dparams) == list(params)
    check_vjp(lambda: np.array(log_prior_forward(params)[0]), params, np.array(dout), dparams,
              tol=SINGLE_OP_TOL)


@given(param_dicts(elements=floats(-3.0, 3.0)))
def test_log_prior_matches_scipy(params):
    everything = np.concatenate([p.ravel() for p in params.values()])
    expected = scipy.stats.norm.logpdf(everything).sum()
    assert log_prior_forward(params)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sizes", [[(1,)], [(3, 4), (4,)], [(2, 2), (5,), (1, 7)]])
def test_log_prior_of_zeros(sizes):
    params = {f"p{k}": np.zeros(s) for k, s in enumerate(sizes)}
    n = sum(int(np.prod(s)) for s in sizes)
    value, cache = log_prior_forward(params)
    assert value == pytest.approx(-0.5 * n * np.log(2 * np.pi), rel=1e-15)
    for name, g in log_prior_backward(1.0, cache).items():
        assert g.shape == params[name].shape
        np.testing.assert_array_equal(g, 0.0)


def test_log_prior_backward_value_and_no_mutation():
    params = {"W": np.array([[1.0, -2.0], [0.5, 3.0]]), "b": np.array([-1.5])}
    snapshot = {k: v.copy() for k, v in params.items()}
    _, cache = log_prior_forward(params)
    dparams = log_prior_backward(2.0, cache)
    np.testing.assert_array_equal(dparams["W"], [[-2.0, 4.0], [-1.0, -6.0]])
    np.testing.assert_array_equal(dparams["b"], [3.0])
    for k in params:
        np.testing.assert_array_equal(params[k], snapshot[k])
        assert dparams[k] is not params[k]


def test_log_prior_over_a_model_has_exactly_its_keys():
    model = VAE(n_input=5, n_hidden=[4, 3], n_latent=2, decoder="gaussian", init_std=0.3, seed=0)
    value, cache = log_prior_forward(model.params)
    dparams = log_prior_backward(1.0, cache)
    assert set(dparams) == set(model.params)
    for name, p in model.params.items():
        np.testing.assert_array_equal(dparams[name], -p)
    everything = np.concatenate([p.ravel() for p in model.params.values()])
    assert value == pytest.approx(scipy.stats.norm.logpdf(everything).sum(), rel=1e-12)
