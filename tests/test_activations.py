"""Tests for minivae.activations: every forward/backward pair, closed forms, extreme inputs.

The elementwise VJPs are checked by central differences with a random upstream gradient at
the ladder's single-op tolerance (1e-7); ReLU at 1e-4 and only with ``|a| > 1e-3``, away from
its kink. Elementwise ops need no care about near-zero gradients: a perturbed entry changes a
single output, so the relative error of the difference does not depend on the size of ``dout``.
"""

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st

from minivae.activations import (ACTIVATIONS, activation_backward, activation_forward,
                                 check_activation, sigmoid, softplus)
from minivae.gradcheck import check_vjp
from strategies import finite_arrays, floats, nonzero_floats, same_shape_arrays, shapes

SINGLE_OP_TOL = 1e-7  # docs/design.md, the tolerance ladder
KINK_TOL = 1e-4
SMOOTH = [name for name in ACTIVATIONS if name != "relu"]

# Underflow to 0 is the correct result of exp(-1000) and NumPy ignores it by default; what a
# stable implementation must avoid is overflow, division by zero and invalid operations (nan).
STRICT = dict(all="raise", under="ignore")


def _check_activation_vjp(name, a, dout, tol):
    h, cache = activation_forward(a, name)
    assert h.shape == a.shape
    da = activation_backward(dout, cache)
    check_vjp(lambda: activation_forward(a, name)[0], {"a": a}, dout, {"a": da}, tol=tol)


def test_activation_names():
    assert set(ACTIVATIONS) == {"identity", "tanh", "sigmoid", "softplus", "relu"}
    for name in ACTIVATIONS:
        assert check_activation(name) == name


@pytest.mark.parametrize("name", SMOOTH)
@given(pair=same_shape_arrays(2))
def test_smooth_activation_vjp(name, pair):
    a, dout = pair
    _check_activation_vjp(name, a, dout, SINGLE_OP_TOL)


@given(pair=same_shape_arrays(2), data=st.data())
def test_relu_vjp_away_from_the_kink(pair, data):
    _, dout = pair
    a = data.draw(finite_arrays(dout.shape, nonzero_floats(1e-3, 3.0)))
    _check_activation_vjp("relu", a, dout, KINK_TOL)


@pytest.mark.parametrize(
    "name, f, fprime",
    [
        ("identity", lambda a: a, lambda a: np.ones_like(a)),
        ("tanh", np.tanh, lambda a: 1.0 / np.cosh(a) ** 2),
        ("sigmoid", scipy.special.expit, lambda a: scipy.special.expit(a) * scipy.special.expit(-a)),
        ("softplus", lambda a: np.log1p(np.exp(a)), scipy.special.expit),
        ("relu", lambda a: np.where(a > 0, a, 0.0), lambda a: (a > 0).astype(float)),
    ],
)
@given(pair=same_shape_arrays(2, elements=floats(-20.0, 20.0)))
def test_activation_values_and_derivatives_match_reference_formulas(name, f, fprime, pair):
    a, dh = pair
    h, cache = activation_forward(a, name)
    np.testing.assert_allclose(h, f(a), rtol=1e-13, atol=1e-300)
    # 1 - h**2 and h * (1 - h) lose digits where the unit saturates: compare absolutely there
    np.testing.assert_allclose(activation_backward(dh, cache), dh * fprime(a), rtol=1e-12,
                               atol=1e-15 * max(1.0, np.max(np.abs(dh), initial=0.0)))


def test_relu_derivative_at_zero_is_zero():
    a = np.array([-1.0, 0.0, 1.0])
    _, cache = activation_forward(a, "relu")
    np.testing.assert_array_equal(activation_backward(np.ones(3), cache), [0.0, 0.0, 1.0])


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="unknown activation"):
        activation_forward(np.zeros(3), "gelu")
    with pytest.raises(ValueError, match="unknown activation"):
        check_activation("Tanh")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_backward_does_not_mutate_cache_or_upstream(name):
    rng = np.random.default_rng(0)
    a, dh = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    h, cache = activation_forward(a, name)
    before = [x.copy() for x in (a, h, dh)]
    activation_backward(dh, cache)
    for after, old in zip((cache.a, cache.h, dh), before):
        np.testing.assert_array_equal(after, old)
    assert cache.a is a


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_forward_does_not_alias_its_input(name):
    a = np.array([-1.0, 0.5, 2.0])
    h, _ = activation_forward(a, name)
    h[...] = 7.0
    np.testing.assert_array_equal(a, [-1.0, 0.5, 2.0])


# ----------------------------------------------------------------------------
# Closed forms and extreme inputs
# ----------------------------------------------------------------------------


def test_sigmoid_at_zero_is_one_half():
    assert sigmoid(0.0) == 0.5
    assert activation_forward(np.zeros(2), "sigmoid")[0].tolist() == [0.5, 0.5]


def test_sigmoid_is_stable_at_plus_minus_1000():
    a = np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0])
    with np.errstate(**STRICT):
        s = sigmoid(a)
        _, cache = activation_forward(a, "sigmoid")
        ds = activation_backward(np.ones_like(a), cache)
    assert s[0] == 0.0 and s[-1] == 1.0
    assert 0.0 <= s[1] < 1e-300 and s[3] == 1.0 and s[2] == 0.5
    assert np.all(np.isfinite(ds)) and ds[0] == 0.0 and ds[-1] == 0.0


def test_strict_errstate_catches_the_naive_sigmoid():
    """The harness above can fail: 1 / (1 + exp(-a)) overflows at a = -1000."""
    with pytest.raises(FloatingPointError), np.errstate(**STRICT):
        1.0 / (1.0 + np.exp(-np.array([-1000.0])))


@given(floats(-50.0, 50.0))
def test_sigmoid_symmetry_and_reference(a):
    # 1 - sigmoid(a) is only accurate to about one ulp of 1.0
    assert sigmoid(-a) == pytest.approx(1.0 - sigmoid(a), rel=1e-12, abs=5e-16)
    assert sigmoid(a) == pytest.approx(scipy.special.expit(a), rel=1e-14)


def test_softplus_at_plus_minus_1000_is_finite_and_equals_max_a_0():
    a = np.array([-1000.0, 1000.0])
    with np.errstate(**STRICT):
        sp = softplus(a)
        h, cache = activation_forward(a, "softplus")
        dh = activation_backward(np.ones(2), cache)
    assert np.all(np.isfinite(sp))
    np.testing.assert_array_equal(sp, np.maximum(a, 0.0))
    np.testing.assert_array_equal(h, sp)
    np.testing.assert_array_equal(dh, [0.0, 1.0])


def test_softplus_known_values():
    assert softplus(0.0) == pytest.approx(np.log(2.0), rel=1e-15)
    assert softplus(np.log(np.e - 1.0)) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize("name", ACTIVATIONS)
@given(a=finite_arrays(shapes(), floats(-1e4, 1e4)))
def test_activations_stay_finite_on_large_inputs(name, a):
    with np.errstate(**STRICT):
        h, cache = activation_forward(a, name)
        da = activation_backward(np.ones_like(a), cache)
    assert np.all(np.isfinite(h)) and np.all(np.isfinite(da))
