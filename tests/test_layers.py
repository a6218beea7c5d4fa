"""Tests for minivae.layers: the affine layer and the MLP hidden stack (App. C).

VJPs are checked by central differences with a random upstream gradient at 1e-7 (ReLU 1e-4).
A weight gradient ``X^T dout`` sums over the batch and an input gradient ``dout W^T`` over the
outputs, so random signs would put some true entries near zero, where rounding alone exceeds
1e-7 (about one plain-Gaussian depth-2 tanh MLP check in five fails although the backward is
right). The inputs below are drawn with magnitudes bounded away from zero and with *sign
patterns* that keep each of those sums of one sign (see ``strategies.py``); signs still differ
between entries, so sign and transpose errors are caught.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minivae.activations import ACTIVATIONS, activation_forward
from minivae.gradcheck import check_vjp
from minivae.layers import affine_backward, affine_forward, mlp_backward, mlp_forward
from strategies import dims, finite_arrays, magnitudes, same_shape_arrays, seeds, sign_arrays

SINGLE_OP_TOL = 1e-7  # docs/design.md, the tolerance ladder
KINK_TOL = 1e-4


def _tol(activation):
    return KINK_TOL if activation == "relu" else SINGLE_OP_TOL


# ----------------------------------------------------------------------------
# Affine
# ----------------------------------------------------------------------------


@st.composite
def affine_inputs(draw, max_M=5, max_in=6, max_out=4):
    """``X (M, D_in), W (D_in, D_out), b (D_out,), dout (M, D_out)`` with a sign pattern.

    ``X[m, j] = q_j |.|``, ``W[j, k] = r_j t_k |.|``, ``dout[m, k] = t_k |.|``: then
    ``dX[m, j] = sum_k dout[m, k] W[j, k]`` has the sign ``r_j``, ``dW[j, k] = sum_m X[m, j] dout[m, k]``
    the sign ``q_j t_k`` and ``db[k] = sum_m dout[m, k]`` the sign ``t_k``, all without cancellation.
    """
    M, D_in, D_out = draw(dims(max_M)), draw(dims(max_in)), draw(dims(max_out))
    q, r, t = draw(sign_arrays(D_in)), draw(sign_arrays(D_in)), draw(sign_arrays(D_out))
    X = q * draw(magnitudes((M, D_in)))
    W = r[:, None] * t * draw(magnitudes((D_in, D_out)))
    b = draw(finite_arrays(D_out))
    dout = t * draw(magnitudes((M, D_out)))
    return X, W, b, dout


@given(affine_inputs())
def test_affine_vjp(inputs):
    X, W, b, dout = inputs
    out, cache = affine_forward(X, W, b)
    assert out.shape == dout.shape
    dX, dW, db = affine_backward(dout, cache)
    check_vjp(lambda: affine_forward(X, W, b)[0], {"X": X, "W": W, "b": b}, dout,
              {"X": dX, "W": dW, "b": db}, tol=SINGLE_OP_TOL)


@given(seeds(), dims(5), dims(6), dims(4))
def test_affine_forward_matches_explicit_sum(seed, M, D_in, D_out):
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal((M, D_in)), rng.standard_normal((D_in, D_out)), rng.standard_normal(D_out)
    out, _ = affine_forward(X, W, b)
    expected = np.array([[sum(X[m, j] * W[j, k] for j in range(D_in)) + b[k] for k in range(D_out)]
                         for m in range(M)])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@given(seeds(), dims(5), dims(6), dims(4))
def test_affine_backward_matches_explicit_sums(seed, M, D_in, D_out):
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal((M, D_in)), rng.standard_normal((D_in, D_out)), rng.standard_normal(D_out)
    dout = rng.standard_normal((M, D_out))
    dX, dW, db = affine_backward(dout, affine_forward(X, W, b)[1])
    assert (dX.shape, dW.shape, db.shape) == (X.shape, W.shape, b.shape)
    np.testing.assert_allclose(dX, np.einsum("mk,jk->mj", dout, W), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dW, np.einsum("mj,mk->jk", X, dout), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=0), rtol=1e-12, atol=1e-12)


def test_affine_backward_can_skip_the_parameter_gradients():
    rng = np.random.default_rng(2)
    X, W, b, dout = (rng.standard_normal(s) for s in ((3, 4), (4, 2), (2,), (3, 2)))
    _, cache = affine_forward(X, W, b)
    dX, dW, db = affine_backward(dout, cache, param_grads=False)
    np.testing.assert_array_equal(dX, affine_backward(dout, cache)[0])
    assert dW is None and db is None


def test_affine_backward_does_not_mutate_cache_or_upstream():
    rng = np.random.default_rng(1)
    X, W, b, dout = (rng.standard_normal(s) for s in ((3, 4), (4, 2), (2,), (3, 2)))
    _, cache = affine_forward(X, W, b)
    before = [a.copy() for a in (X, W, b, dout)]
    affine_backward(dout, cache)
    for after, old in zip((cache.X, cache.W, b, dout), before):
        np.testing.assert_array_equal(after, old)


# ----------------------------------------------------------------------------
# MLP
# ----------------------------------------------------------------------------


@st.composite
def mlp_inputs(draw, depth, activation, max_M=5, max_D=6, max_H=4):
    """``X, weights, biases, dout`` for a VJP check of an MLP hidden stack.

    Sign pattern: the input columns carry signs ``q_j`` (and the first weight rows the same
    signs), every later weight is positive and ``dout`` has one sign. Then every hidden unit has
    one sign over the batch and, as all five activations are non-decreasing, every backward sum
    is of one sign. Pre-activations stay where the derivative is large: weights of order
    ``1/fan_in`` and, for the sign-preserving activations, positive biases (``a > 0.1``, so ReLU
    is also away from its kink); sigmoid layers (outputs in (0, 1) whatever the sign) get
    biases that centre their pre-activations near 0 and weights twice as large.
    """
    seed = draw(seeds())
    sizes = [draw(dims(max_D))] + [draw(dims(max_H)) for _ in range(depth)]
    M = draw(dims(max_M))
    rng = np.random.default_rng(seed)
    q = rng.choice([-1.0, 1.0], size=sizes[0])
    X = q * rng.uniform(0.5, 1.5, (M, sizes[0]))
    scale = 2.0 if activation == "sigmoid" else 1.0
    weights, biases = [], []
    for k in range(depth):
        W = scale * rng.uniform(0.5, 1.5, (sizes[k], sizes[k + 1])) / sizes[k]
        if activation == "sigmoid":  # centre: |X| is about 1, a sigmoid unit about 1/2
            b = -(1.0 if k == 0 else 0.5) * W.sum(axis=0) + rng.uniform(-0.25, 0.25, sizes[k + 1])
        else:
            b = rng.uniform(0.1, 0.5, sizes[k + 1])
        weights.append(W * q[:, None] if k == 0 else W)
        biases.append(b)
    dout = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5, (M, sizes[-1]))
    return X, weights, biases, dout


def _mlp_vjp_check(X, weights, biases, dout, activation):
    H, cache = mlp_forward(X, weights, biases, activation)
    assert H.shape == dout.shape
    dX, dweights, dbiases = mlp_backward(dout, cache)
    assert len(dweights) == len(dbiases) == len(weights)
    inputs = {"X": X}
    analytic = {"X": dX}
    for k, (W, b, dW, db) in enumerate(zip(weights, biases, dweights, dbiases), start=1):
        inputs[f"W{k}"], inputs[f"b{k}"] = W, b
        analytic[f"W{k}"], analytic[f"b{k}"] = dW, db
    check_vjp(lambda: mlp_forward(X, weights, biases, activation)[0], inputs, dout, analytic,
              tol=_tol(activation))


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(data=st.data())
def test_mlp_vjp(depth, activation, data):
    _mlp_vjp_check(*data.draw(mlp_inputs(depth, activation)), activation)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(pair=same_shape_arrays(2, shape=st.tuples(dims(5), dims(6))))
def test_mlp_depth_zero_is_the_identity(activation, pair):
    X, dout = pair
    H, cache = mlp_forward(X, [], [], activation)
    np.testing.assert_array_equal(H, X)
    dX, dweights, dbiases = mlp_backward(dout, cache)
    assert dweights == [] and dbiases == []
    np.testing.assert_array_equal(dX, dout)
    _mlp_vjp_check(X, [], [], dout, activation)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_forward_composes_affine_and_activation(activation):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 5))
    weights = [rng.standard_normal((5, 4)), rng.standard_normal((4, 2))]
    biases = [rng.standard_normal(4), rng.standard_normal(2)]
    H, _ = mlp_forward(X, weights, biases, activation)
    h1 = activation_forward(X @ weights[0] + biases[0], activation)[0]
    expected = activation_forward(h1 @ weights[1] + biases[1], activation)[0]
    np.testing.assert_allclose(H, expected, rtol=1e-14, atol=1e-14)


def test_mlp_relu_backward_masks_dead_units():
    """Mixed-sign pre-activations: units with ``a < 0`` pass no gradient, exactly."""
    X = np.array([[1.0, -2.0]])
    W = np.array([[1.0, -1.0, 0.5], [1.0, 1.0, 0.5]])  # a = [-1, -3, -0.5] + b
    b = np.array([2.0, 0.0, 0.0])  # a = [1, -3, -0.5]
    dout = np.array([[0.7, 0.3, 0.2]])
    _, cache = mlp_forward(X, [W], [b], "relu")
    dX, (dW,), (db,) = mlp_backward(dout, cache)
    np.testing.assert_array_equal(db, [0.7, 0.0, 0.0])
    np.testing.assert_array_equal(dW, [[0.7, 0.0, 0.0], [-1.4, 0.0, 0.0]])
    np.testing.assert_array_equal(dX, [[0.7, 0.7]])


def test_mlp_rejects_mismatched_weights_and_biases():
    with pytest.raises(ValueError):
        mlp_forward(np.ones((2, 3)), [np.ones((3, 2))], [], "tanh")


def test_mlp_backward_does_not_mutate_cache_or_upstream():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 4))
    weights = [rng.standard_normal((4, 3)), rng.standard_normal((3, 2))]
    biases = [rng.standard_normal(3), rng.standard_normal(2)]
    dout = rng.standard_normal((3, 2))
    _, cache = mlp_forward(X, weights, biases, "tanh")
    snapshot = [(aff.X.copy(), aff.W.copy(), act.a.copy(), act.h.copy()) for aff, act in cache.layers]
    dout_before = dout.copy()
    mlp_backward(dout, cache)
    mlp_backward(dout, cache)  # twice: a backward that accumulated into its cache would drift
    np.testing.assert_array_equal(dout, dout_before)
    for (aff, act), old in zip(cache.layers, snapshot):
        for now, then in zip((aff.X, aff.W, act.a, act.h), old):
            np.testing.assert_array_equal(now, then)
