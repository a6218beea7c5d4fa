"""Tests for minivae.gradcheck: the checker must pass right gradients and catch wrong ones.

Data for rel_error assertions at the ladder's tolerances is drawn where the true
gradient is bounded away from zero (see the note in ``strategies.py``); the
mixed-sign case is covered by an absolute error bound instead.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minivae.gradcheck import (GradCheckReport, GradCheckRow, check_params, check_vjp,
                               numerical_gradient, numerical_vjp, rel_error, sparse_check)
from strategies import (
    dims,
    finite_arrays,
    floats,
    hypothesis_profile,
    nonzero_floats,
    same_shape_arrays,
    seeds,
    shapes,
)

SINGLE_OP_TOL = 1e-7  # docs/design.md, the tolerance ladder
MODEL_TOL = 1e-6


def _bits(x):
    """Bytes of an array: equality means bit-identical (also for -0.0 and nan)."""
    return np.ascontiguousarray(x).tobytes()


# ----------------------------------------------------------------------------
# rel_error
# ----------------------------------------------------------------------------


@given(finite_arrays(shapes()))
def test_rel_error_of_identical_arrays_is_zero(x):
    assert rel_error(x, x.copy()) == 0.0


@given(same_shape_arrays(2))
def test_rel_error_is_symmetric_and_at_most_one(pair):
    a, b = pair
    err = rel_error(a, b)
    assert err == rel_error(b, a)
    assert 0.0 <= err <= 1.0


@pytest.mark.parametrize(
    "a, b, floor, expected",
    [
        (1.0, 3.0, 1e-8, 0.5),
        (1.0, -1.0, 1e-8, 1.0),
        (0.0, 0.0, 1e-8, 0.0),
        (0.0, 1e-10, 1e-8, 1e-2),  # denominator floored: absolute error / floor
        (0.0, 1e-10, 1e-12, 1.0),  # floor below the values: plain relative error
        ([1.0, 2.0, 0.0], [1.0, 2.2, 0.0], 1e-8, 0.2 / 4.2),  # the max over entries
    ],
)
def test_rel_error_known_values(a, b, floor, expected):
    assert rel_error(a, b, floor=floor) == pytest.approx(expected, rel=1e-12)


def test_rel_error_returns_python_float_for_scalars_and_empty_arrays():
    assert type(rel_error(np.float64(1.0), 2.0)) is float
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


@pytest.mark.parametrize("a, b", [(np.zeros(3), np.zeros((1, 3))), (0.0, np.zeros(1)), (np.zeros((2, 3)), np.zeros((3, 2)))])
def test_rel_error_rejects_shape_mismatch_without_broadcasting(a, b):
    with pytest.raises(ValueError, match="shape"):
        rel_error(a, b)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rel_error_is_nan_for_non_finite_entries(bad):
    assert np.isnan(rel_error([1.0, bad], [1.0, 1.0]))
    assert np.isnan(rel_error([1.0, bad], [1.0, bad]))


@pytest.mark.parametrize("floor", [0.0, -1e-8])
def test_rel_error_rejects_non_positive_floor(floor):
    with pytest.raises(ValueError, match="floor"):
        rel_error(1.0, 1.0, floor=floor)


# ----------------------------------------------------------------------------
# numerical_gradient against known derivatives
# ----------------------------------------------------------------------------

# cos(x) >= cos(1.4) = 0.17 on [-1.4, 1.4]: far enough from zero for a relative check.
SIN_DOMAIN = floats(-1.4, 1.4)


@given(finite_arrays(shapes(), elements=SIN_DOMAIN))
def test_numerical_gradient_of_sum_sin_is_cos(x):
    grad = numerical_gradient(lambda: np.sum(np.sin(x)), x)
    assert rel_error(grad, np.cos(x)) <= SINGLE_OP_TOL


@given(finite_arrays(shapes()))
def test_numerical_gradient_error_is_absolute_and_scales_with_the_loss(x):
    # On [-3, 3] cos crosses zero, where a relative error means nothing. What
    # central differences guarantee there is an absolute error of about
    # h^2 |f'''| / 6 + eps |f| / h; assert it with a 20x margin.
    f = lambda: np.sum(np.sin(x))  # noqa: E731
    grad = numerical_gradient(f, x)
    bound = 1e-12 + 1e-9 * max(1.0, np.sum(np.abs(np.sin(x))))
    assert np.max(np.abs(grad - np.cos(x))) <= bound


@given(finite_arrays(shapes(), elements=nonzero_floats(0.5, 2.0)))
def test_numerical_gradient_of_sum_cubes_is_three_x_squared(x):
    grad = numerical_gradient(lambda: np.sum(x**3), x)
    assert rel_error(grad, 3 * x**2) <= SINGLE_OP_TOL


@given(dims(), seeds())
def test_numerical_gradient_of_quadratic_form(n, seed):
    # f = x^T A x with a non-symmetric A: the gradient is (A + A^T) x, not 2 A x.
    # Positive entries keep every gradient entry >= n / 2, away from zero.
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.5, 1.5, size=(n, n))
    x = rng.uniform(0.5, 1.5, size=n)
    grad = numerical_gradient(lambda: x @ A @ x, x)
    assert rel_error(grad, (A + A.T) @ x) <= SINGLE_OP_TOL


def test_numerical_gradient_tells_the_quadratic_form_gradient_from_the_symmetric_mistake():
    A = np.array([[1.0, 2.0], [0.0, 1.0]])
    x = np.array([1.0, 1.0])
    grad = numerical_gradient(lambda: x @ A @ x, x)
    assert rel_error(grad, [4.0, 4.0]) <= SINGLE_OP_TOL  # (A + A^T) x
    assert rel_error(grad, 2 * A @ x) == pytest.approx(1 / 3)  # 2 A x = [6, 2] is wrong


def test_numerical_gradient_of_zero_dimensional_array():
    x = np.array(2.0)
    grad = numerical_gradient(lambda: x**3, x)
    assert grad.shape == ()
    assert rel_error(grad, 12.0) <= SINGLE_OP_TOL


def test_numerical_gradient_through_a_strided_view_perturbs_the_base():
    rng = np.random.default_rng(0)
    base = rng.uniform(-1.4, 1.4, size=(3, 6))
    before = base.copy()
    view = base[:, ::2]  # not contiguous
    grad = numerical_gradient(lambda: np.sum(np.sin(base)), view)
    assert rel_error(grad, np.cos(view)) <= SINGLE_OP_TOL
    assert _bits(base) == _bits(before)


def test_numerical_gradient_of_a_closure_over_a_copy_is_zero():
    # The classic mistake: f does not read the array being perturbed.
    x = np.array([1.0, 2.0])
    frozen = x.copy()
    grad = numerical_gradient(lambda: np.sum(frozen**2), x)
    assert np.all(grad == 0.0)
    assert rel_error(grad, 2 * x) == 1.0  # so any check against the true gradient fails


# ----------------------------------------------------------------------------
# numerical_gradient: in-place perturbation, exact restoration, errors
# ----------------------------------------------------------------------------


@given(finite_arrays(shapes()))
def test_numerical_gradient_restores_x_bit_identically(x):
    before = x.copy()
    numerical_gradient(lambda: np.sum(x**2), x)
    assert _bits(x) == _bits(before)


def test_restoration_is_exact_where_adding_and_subtracting_h_is_not():
    # (x + h) - 2h + h != x in floating point for these values: x must be
    # restored from a saved copy, not recomputed.
    h = 1e-6
    x = np.array([0.3, 0.7, 1.1, -1.7])
    assert np.any(((x + h) - 2 * h) + h != x)
    before = x.copy()
    numerical_gradient(lambda: np.sum(x), x, h=h)
    assert _bits(x) == _bits(before)


@given(finite_arrays(shapes()), st.data())
def test_numerical_gradient_restores_x_when_f_raises(x, data):
    before = x.copy()
    fail_at = data.draw(st.integers(1, 2 * x.size), label="failing call")
    calls = []

    def f():
        calls.append(1)
        if len(calls) == fail_at:
            raise RuntimeError("boom")
        return float(np.sum(x))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert _bits(x) == _bits(before)


@pytest.mark.parametrize("out", [np.ones(2), np.ones(1), np.ones((1, 1)), [1.0]])
def test_numerical_gradient_rejects_non_scalar_output_and_restores_x(out):
    x = np.array([0.3, 0.7])
    before = x.copy()
    with pytest.raises(TypeError, match="scalar"):
        numerical_gradient(lambda: out, x)
    assert _bits(x) == _bits(before)


@pytest.mark.parametrize("value", [1.5, np.float64(1.5), np.array(1.5), np.float32(1.5)])
def test_numerical_gradient_accepts_any_scalar_output(value):
    x = np.zeros(2)
    assert np.all(numerical_gradient(lambda: value, x) == 0.0)


@pytest.mark.parametrize(
    "x, error",
    [
        (np.ones(3, dtype=np.float32), TypeError),
        (np.ones(3, dtype=np.int64), TypeError),
        ([1.0, 2.0], TypeError),
    ],
)
def test_numerical_gradient_rejects_arrays_it_cannot_perturb(x, error):
    with pytest.raises(error):
        numerical_gradient(lambda: 0.0, x)


def test_numerical_gradient_rejects_read_only_array():
    x = np.ones(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        numerical_gradient(lambda: 0.0, x)


@pytest.mark.parametrize("h", [0.0, -1e-6, np.nan])
def test_numerical_gradient_rejects_bad_step(h):
    with pytest.raises(ValueError, match="step"):
        numerical_gradient(lambda: 0.0, np.ones(2), h=h)


def test_numerical_gradient_rejects_step_lost_in_rounding():
    x = np.array([1e12])
    with pytest.raises(ValueError, match="rounding"):
        numerical_gradient(lambda: x[0], x, h=1e-6)


# ----------------------------------------------------------------------------
# numerical_vjp and check_vjp
# ----------------------------------------------------------------------------


@given(same_shape_arrays(2))
def test_numerical_vjp_of_tanh(pair):
    x, dout = pair
    vjp = numerical_vjp(lambda: np.tanh(x), x, dout)
    assert rel_error(vjp, dout * (1 - np.tanh(x) ** 2)) <= SINGLE_OP_TOL


@given(same_shape_arrays(2))
def test_numerical_vjp_of_identity_copies_the_aliased_output(pair):
    # f returns x itself; without copying, out_plus would change under our feet.
    x, dout = pair
    assert rel_error(numerical_vjp(lambda: x, x, dout), dout) <= 1e-12


def test_numerical_vjp_rejects_dout_of_wrong_shape():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="dout"):
        numerical_vjp(lambda: x * 2, x, np.ones((3, 2)))


def _matmul_case(M, D, K, seed):
    """X (M, D), W (D, K), dout (M, K), entries in [0.5, 1.5] so no gradient entry is near 0."""
    rng = np.random.default_rng(seed)
    X, W, dout = (rng.uniform(0.5, 1.5, size=s) for s in [(M, D), (D, K), (M, K)])
    return X, W, dout


@given(dims(), dims(), dims(), seeds())
def test_check_vjp_passes_the_matmul_transposed_products(M, D, K, seed):
    X, W, dout = _matmul_case(M, D, K, seed)
    X0, W0 = X.copy(), W.copy()
    errors = check_vjp(lambda: X @ W, {"X": X, "W": W}, dout, {"X": dout @ W.T, "W": X.T @ dout})
    assert list(errors) == ["X", "W"]
    assert max(errors.values()) <= SINGLE_OP_TOL
    assert _bits(X) == _bits(X0) and _bits(W) == _bits(W0)


WRONG_MATMUL_GRADS = {
    "forgot transpose": lambda X, W, dout: {"X": dout @ W, "W": X.T @ dout},
    "off by 0.1%": lambda X, W, dout: {"X": dout @ W.T, "W": 1.001 * (X.T @ dout)},
    "zero": lambda X, W, dout: {"X": dout @ W.T, "W": np.zeros_like(W)},
    "nan": lambda X, W, dout: {"X": dout @ W.T, "W": np.full_like(W, np.nan)},
}


@pytest.mark.parametrize("bug", sorted(WRONG_MATMUL_GRADS))
def test_check_vjp_raises_on_a_wrong_gradient_naming_the_input(bug):
    X, W, dout = _matmul_case(3, 4, 4, seed=1)  # square W: the untransposed product has the right shape
    wrong = WRONG_MATMUL_GRADS[bug](X, W, dout)
    worst = "X" if bug == "forgot transpose" else "W"
    with pytest.raises(AssertionError, match=f"worst is '{worst}'"):
        check_vjp(lambda: X @ W, {"X": X, "W": W}, dout, wrong)


def test_check_vjp_without_raising_returns_the_errors():
    X, W, dout = _matmul_case(2, 3, 3, seed=2)
    errors = check_vjp(lambda: X @ W, {"X": X, "W": W}, dout, {"X": dout @ W.T, "W": 2 * X.T @ dout}, raise_on_fail=False)
    assert errors["X"] <= SINGLE_OP_TOL
    assert errors["W"] == pytest.approx(1 / 3, rel=1e-6)  # |g - 2g| / (|g| + |2g|)


def test_check_vjp_respects_its_tolerance():
    X, W, dout = _matmul_case(2, 3, 3, seed=3)
    wrong = {"X": dout @ W.T, "W": (1 + 2e-6) * (X.T @ dout)}  # rel. error 1e-6
    check_vjp(lambda: X @ W, {"X": X, "W": W}, dout, wrong, tol=1e-5)
    with pytest.raises(AssertionError):
        check_vjp(lambda: X @ W, {"X": X, "W": W}, dout, wrong, tol=1e-7)


def test_check_vjp_rejects_key_and_shape_mismatch():
    X, W, dout = _matmul_case(2, 3, 3, seed=4)
    f = lambda: X @ W  # noqa: E731
    with pytest.raises(ValueError, match=r"missing from analytic: \['W'\].*extra in analytic: \['V'\]"):
        check_vjp(f, {"X": X, "W": W}, dout, {"X": dout @ W.T, "V": X.T @ dout})
    with pytest.raises(ValueError, match="'W'"):
        check_vjp(f, {"X": X, "W": W}, dout, {"X": dout @ W.T, "W": (X.T @ dout).T[:, :2]})


# ----------------------------------------------------------------------------
# sparse_check
# ----------------------------------------------------------------------------


@given(finite_arrays(shapes(), elements=SIN_DOMAIN), seeds())
def test_sparse_check_passes_a_right_gradient(x, seed):
    err = sparse_check(lambda: np.sum(np.sin(x)), x, np.cos(x), n_checks=5, rng=seed)
    assert err <= SINGLE_OP_TOL


@given(finite_arrays(shapes(), elements=SIN_DOMAIN), st.data())
def test_sparse_check_over_all_entries_catches_a_single_wrong_entry(x, data):
    wrong = np.cos(x)
    flat_index = data.draw(st.integers(0, x.size - 1), label="wrong entry")
    wrong.reshape(-1)[flat_index] += 1e-3
    err = sparse_check(lambda: np.sum(np.sin(x)), x, wrong, n_checks=x.size, rng=0)
    assert err > 1e-4


def test_sparse_check_draws_distinct_entries_and_caps_at_size():
    x = np.zeros((3, 4))
    touched = []

    def f():
        touched.append(np.flatnonzero(x).tolist())
        return float(np.sum(x))

    sparse_check(f, x, np.ones_like(x), n_checks=1000, rng=0)
    assert len(touched) == 2 * x.size  # capped at x.size entries, two calls each
    entries = [t[0] for t in touched[::2]]
    assert sorted(entries) == list(range(x.size))  # without replacement: every entry once


def test_sparse_check_is_reproducible_from_a_seed_or_generator():
    rng = np.random.default_rng(5)
    x = rng.uniform(-1.4, 1.4, size=(6, 7))
    slightly_wrong = np.cos(x) * (1 + 1e-6 * rng.standard_normal(x.shape))
    f = lambda: np.sum(np.sin(x))  # noqa: E731
    first = sparse_check(f, x, slightly_wrong, n_checks=4, rng=7)
    assert sparse_check(f, x, slightly_wrong, n_checks=4, rng=7) == first
    assert sparse_check(f, x, slightly_wrong, n_checks=4, rng=np.random.default_rng(7)) == first


def test_sparse_check_rejects_bad_arguments():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="n_checks"):
        sparse_check(lambda: 0.0, x, np.zeros_like(x), n_checks=0)
    with pytest.raises(ValueError, match="shape"):
        sparse_check(lambda: 0.0, x, np.zeros(4))


# ----------------------------------------------------------------------------
# check_params and GradCheckReport
# ----------------------------------------------------------------------------


def _tiny_model(seed=0):
    """Loss 0.5 * sum(tanh(X W + b)^2) with params W (4, 3), b (3,) and its hand-written gradients."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((5, 4))
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}

    def loss():
        return 0.5 * np.sum(np.tanh(X @ params["W"] + params["b"]) ** 2)

    out = np.tanh(X @ params["W"] + params["b"])
    da = out * (1 - out**2)
    grads = {"W": X.T @ da, "b": da.sum(axis=0)}
    return loss, params, grads


def test_check_params_passes_right_gradients_and_prints_every_tensor():
    loss, params, grads = _tiny_model()
    before = {k: v.copy() for k, v in params.items()}
    report = check_params(loss, params, grads, n_checks=5, rng=0)
    assert report.passed
    assert [(r.name, r.shape, r.n_checked) for r in report.rows] == [("W", (4, 3), 5), ("b", (3,), 3)]
    assert all(r.rel_error <= MODEL_TOL and r.tol == MODEL_TOL for r in report.rows)
    text = str(report)
    for name in params:
        assert any(line.startswith(name + " ") for line in text.splitlines())
    assert "FAIL" not in text and text.splitlines()[-1].startswith("PASSED")
    assert all(_bits(params[k]) == _bits(before[k]) for k in params)


def test_check_params_reports_the_wrong_tensor_as_fail():
    loss, params, grads = _tiny_model()
    grads["b"] = -grads["b"]
    report = check_params(loss, params, grads, n_checks=20, rng=0)
    assert not report.passed
    assert [r.passed for r in report.rows] == [True, False]
    lines = {line.split()[0]: line for line in str(report).splitlines()}
    assert lines["W"].endswith("ok") and lines["b"].endswith("FAIL")
    assert str(report).splitlines()[-1] == "FAILED: 1 of 2 tensors exceed tolerance: b"


def test_report_table_is_aligned():
    report = GradCheckReport(
        [
            GradCheckRow("W1", (784, 400), 20, 3.2e-9, 1e-6, True),
            GradCheckRow("b1", (400,), 20, 0.5, 1e-6, False),
        ]
    )
    table = str(report).splitlines()[:-1]
    assert len({len(line) for line in table[:2]}) == 1  # header and rule have the same width
    assert "rel. error" in table[0] and "entries checked" in table[0]
    assert "3.20e-09" in table[2] and "5.00e-01" in table[3]
    assert table[2].index("3.20e-09") + 8 == table[3].index("5.00e-01") + 8  # right-aligned


def test_check_params_key_mismatch_names_missing_and_extra_keys():
    loss, params, grads = _tiny_model()
    grads["c"] = grads.pop("b")
    with pytest.raises(ValueError, match=r"missing from grads: \['b'\].*extra in grads: \['c'\]"):
        check_params(loss, params, grads)


def test_check_params_rejects_empty_params_and_shape_mismatch():
    with pytest.raises(ValueError, match="empty"):
        check_params(lambda: 0.0, {}, {})
    loss, params, grads = _tiny_model()
    grads["W"] = grads["W"].T
    with pytest.raises(ValueError, match="'W'"):
        check_params(loss, params, grads)


@pytest.mark.slow
def test_check_params_on_a_two_layer_mlp(budget):
    # Full check of every entry locally; 20 entries per tensor in CI.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 10))
    params = {
        "W1": 0.5 * rng.standard_normal((10, 16)),
        "b1": 0.1 * rng.standard_normal(16),
        "W2": 0.5 * rng.standard_normal((16, 3)),
        "b2": 0.1 * rng.standard_normal(3),
    }

    def forward():
        hidden = np.tanh(X @ params["W1"] + params["b1"])
        return hidden, hidden @ params["W2"] + params["b2"]

    def loss():
        return 0.5 * np.sum(forward()[1] ** 2)

    hidden, out = forward()
    dhidden_pre = (out @ params["W2"].T) * (1 - hidden**2)
    grads = {"W1": X.T @ dhidden_pre, "b1": dhidden_pre.sum(0), "W2": hidden.T @ out, "b2": out.sum(0)}
    report = check_params(loss, params, grads, n_checks=budget(10 * 16, 20), rng=1)
    assert report.passed, report


# ----------------------------------------------------------------------------
# Test infrastructure (conftest.py, strategies.py)
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"CI": "True"}, "ci"),
        ({"CI": "1"}, "dev"),
        ({"CI": "false"}, "dev"),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, "dev"),
        ({"HYPOTHESIS_PROFILE": "ci"}, "ci"),
    ],
)
def test_hypothesis_profile_choice(environ, expected):
    assert hypothesis_profile(environ) == expected


def test_budget_fixture_uses_the_smaller_budget_in_ci(budget, monkeypatch):
    monkeypatch.setenv("CI", "TRUE")
    assert budget(200, 25) == 25
    monkeypatch.setenv("CI", "false")
    assert budget(200, 25) == 200
    monkeypatch.delenv("CI")
    assert budget(200, 25) == 200


def test_five_point_stencil_is_fourth_order():
    x = np.array([0.3, -1.2, 2.5])
    f = lambda: np.sum(np.sin(x))  # noqa: E731
    second = rel_error(numerical_gradient(f, x, h=1e-3), np.cos(x))
    fourth = rel_error(numerical_gradient(f, x, h=1e-3, order=4), np.cos(x))
    assert second > 1e-8  # h^2/6 truncation is visible at h = 1e-3
    assert fourth < 1e-11
    assert sparse_check(f, x, np.cos(x), n_checks=3, h=1e-3, order=4) < 1e-11


def test_unknown_stencil_order_is_refused():
    x = np.array([1.0])
    with pytest.raises(ValueError, match="order"):
        numerical_gradient(lambda: float(x[0] ** 2), x, order=3)
