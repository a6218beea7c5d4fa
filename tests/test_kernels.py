"""Both backends run the same maths: every kernel agrees between NumPy and Numba to round-off."""
import os
import subprocess
import sys

import numpy as np
import pytest

from minivae.fused import kernels
from minivae.fused.backend import BACKENDS, get_backend, set_backend, use_backend
from minivae.datasets.binarize import _GAMMA
from minivae.fused.kernels import scalar

RNG = np.random.default_rng(0)
R, M, D, J, L = 6, 3, 5, 4, 2


def run(backend, fn, *args):
    """Run ``fn`` on copies of ``args`` with ``backend`` (every compiled loop forced on); return
    the (mutated) copies."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    kernels.force_compiled_loops(True)
    try:
        with use_backend(backend):
            result = fn(*args)
    finally:
        kernels.force_compiled_loops(False)
    return [a for a in args if isinstance(a, np.ndarray)] + ([] if result is None else [result])


def assert_same(fn, *args):
    numpy_out, numba_out = run("numpy", fn, *args), run("numba", fn, *args)
    for a, b in zip(numpy_out, numba_out, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("code", sorted(scalar.ACTIVATION_CODES.values()))
def test_bias_activation_and_backward(code):
    A, b = RNG.standard_normal((R, D)), RNG.standard_normal(D)
    assert_same(kernels.bias_activation, A, b, code)
    H, dH = scalar.activation(code, A + b), RNG.standard_normal((R, D))
    assert_same(kernels.activation_backward, dH, H, code, np.empty((R, D)), np.empty(D))


@pytest.mark.parametrize("rows", [M, L * M])
def test_bernoulli(rows):
    X = (RNG.random((M, D)) < 0.5).astype(float)
    A = 30 * RNG.standard_normal((rows, D))
    assert_same(kernels.bernoulli, X, A, -0.25, np.empty((rows, D)), np.empty(rows))


@pytest.mark.parametrize("sigmoid_mean", [True, False])
def test_gaussian(sigmoid_mean):
    X = RNG.random((M, D))
    A, logvar = RNG.standard_normal((L * M, D)), RNG.standard_normal((L * M, D))
    assert_same(kernels.gaussian, X, A, logvar, sigmoid_mean, -0.5, np.empty((L * M, D)),
                np.empty((L * M, D)), np.empty(L * M))


def test_reparameterize_kl_and_backward():
    mu, logvar, eps = RNG.standard_normal((M, J)), RNG.standard_normal((M, J)), RNG.standard_normal((L, M, J))
    assert_same(kernels.reparameterize_kl, mu, logvar, eps, np.empty((L * M, J)), np.empty(M))
    dZ = RNG.standard_normal((L * M, J))
    assert_same(kernels.reparameterize_kl_backward, dZ, mu, logvar, eps, 0.3, np.empty((M, J)),
                np.empty((M, J)))


@pytest.mark.parametrize("decay", [0.0, 1e-3])
def test_optimizer_kernels(decay):
    p, g, G = RNG.standard_normal(50), RNG.standard_normal(50), RNG.random(50)
    assert_same(kernels.adagrad, p, g, G, 0.02, 1e-10, decay)
    assert_same(kernels.adam, p, g, G * 0.1, G, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.002, decay)
    assert_same(kernels.sgd, p, g, 0.1, decay)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_parts", [1, 2, 3])
def test_adagrad_sum_is_adagrad_on_the_parts_added_in_order(backend, dtype, n_parts):
    """Bit for bit what add_into and adagrad give: the trainer's fused update changes no result."""
    parts = tuple(RNG.standard_normal(1001).astype(dtype) for _ in range(n_parts))
    p, G = RNG.standard_normal(1001).astype(dtype), RNG.random(1001).astype(dtype)
    with use_backend(backend):
        g, p1, G1 = parts[0].copy(), p.copy(), G.copy()
        for part in parts[1:]:
            kernels.add_into(g, part)
        kernels.adagrad(p1, g, G1, 0.02, 1e-10, 1e-3)
        p2, G2 = p.copy(), G.copy()
        kernels.adagrad_sum(p2, parts, G2, 0.02, 1e-10, 1e-3)
    np.testing.assert_array_equal(p2, p1)
    np.testing.assert_array_equal(G2, G1)
    assert_same(kernels.adagrad_sum, p, parts, G, 0.02, 1e-10, 1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adagrad_flushes_subnormal_parameters_to_zero(backend, dtype):
    """A weight whose prior gradient underflows would stay subnormal for good; Adagrad sets every
    result below the smallest normal number to 0 (keeping its sign) and leaves the rest alone."""
    tiny = np.finfo(dtype).tiny
    p = np.array([tiny / 4, -tiny / 2, tiny, -4 * tiny, 0.5, 0.0], dtype)
    p = run(backend, kernels.adagrad, p, np.zeros_like(p), np.ones_like(p), 0.02, 1e-10,
            1.0 / 60_000)[0]
    np.testing.assert_array_equal(p[:3], [0.0, 0.0, 0.0])  # tiny itself steps just below tiny
    assert np.signbit(p[1])
    assert -4 * tiny <= p[3] < -2 * tiny and 0 < p[4] < 0.5 and p[5] == 0.0
    assert not np.any((p != 0) & (np.abs(p) < tiny))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bounded_finds_non_finite_and_large_entries(backend, dtype):
    a = RNG.standard_normal(1000).astype(dtype)
    with use_backend(backend):
        assert kernels.bounded(a, 10.0) and kernels.bounded(a[:0], 0.0)
        assert not kernels.bounded(a, 0.5)
        big = np.full(1000, np.finfo(dtype).max / 2, dtype)
        assert kernels.bounded(big, np.finfo(dtype).max / 2) and not kernels.bounded(big, np.finfo(dtype).max / 3)
        for bad in (np.inf, -np.inf, np.nan):
            for where in (0, 999):
                b = a.copy()
                b[where] = bad
                assert not kernels.bounded(b, 10.0), (bad, where)


def _uniform(key, i):
    """Draw ``i`` of seed ``key`` as :func:`kernels.binarize` defines it, in Python integers."""
    mask = 2**64 - 1
    z = (key + (i + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return ((z ^ (z >> 31)) >> 11) / 2**53


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_binarize(backend):
    key = 2**64 - 3
    X = RNG.random((M, D))
    X[0, :2] = 0.0, 1.0
    U = np.array([[_uniform(key, r * D + d) for d in range(D)] for r in range(M)])
    out = run(backend, kernels.binarize, X, key, np.empty((M, D)))[-1]
    np.testing.assert_array_equal(out, (U < X).astype(float))
    assert out[0, 0] == 0.0 and out[0, 1] == 1.0


def test_kernels_work_in_float32_on_both_backends():
    A, b = RNG.standard_normal((R, D)).astype(np.float32), RNG.standard_normal(D).astype(np.float32)
    outs = [run(backend, kernels.bias_activation, A, b, scalar.TANH)[0] for backend in BACKENDS]
    assert all(o.dtype == np.float32 for o in outs)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(outs[0], np.tanh(A + b), rtol=1e-6)


def test_backend_switch():
    before = get_backend()
    with use_backend("numpy"):
        assert get_backend() == "numpy"
    assert get_backend() == before
    with pytest.raises(ValueError, match="numpy"):
        set_backend("cuda")


def test_numba_disable_jit_runs_the_loops_as_python():
    """The documented debugging switch: the same loops, interpreted, give the same numbers."""
    code = ("import numpy as np; from minivae.fused.kernels import loops; "
            "X = np.array([[0.0, 1.0, 1.0]]); A = np.array([[-2.0, 0.5, 40.0]]); "
            "dA = np.empty_like(A); ll = np.empty(1); loops.bernoulli(X, A, 1.0, dA, ll, 0, 1); "
            "print(type(loops.bernoulli).__name__, float(ll[0]), float(dA[0, 0]))")
    outputs = {}
    for flag in ("0", "1"):
        env = {**os.environ, "NUMBA_DISABLE_JIT": flag}
        outputs[flag] = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                       text=True, check=True).stdout.split()
    assert outputs["1"][0] == "function" and outputs["0"][0] != "function"
    np.testing.assert_allclose([float(v) for v in outputs["0"][1:]],
                               [float(v) for v in outputs["1"][1:]], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_products_equal_dense_ones(dtype):
    X = (RNG.random((7, 30)) < 0.1).astype(dtype) * RNG.random((7, 30)).astype(dtype)
    W, dA = RNG.standard_normal((30, 9)).astype(dtype), RNG.standard_normal((7, 9)).astype(dtype)
    out, out_t = np.empty((7, 9), dtype), np.empty((30, 9), dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    kernels.data_matmul(X, W, out, sparse=True)
    np.testing.assert_allclose(out, X @ W, rtol=rtol, atol=rtol)
    kernels.data_matmul_t(X, dA, out_t, sparse=True)
    np.testing.assert_allclose(out_t, X.T @ dA, rtol=rtol, atol=rtol)


def test_sparsity_decision():
    sparse, dense = np.zeros((4, 10)), np.ones((4, 10))
    sparse[0, 0] = 1.0
    with use_backend("numba"):
        assert kernels.data_is_sparse(sparse) and not kernels.data_is_sparse(dense)
    with use_backend("numpy"):
        assert not kernels.data_is_sparse(sparse)


# -- dynamic binarization ----------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_binarize_rows_reads_the_rows_where_they_lie(backend):
    """``binarize(X, key, out, rows)`` draws exactly what ``binarize(X[rows], key, out)`` does:
    the trainer samples its minibatch from the training set without copying it out first."""
    X = RNG.random((500, 784))
    rows = RNG.permutation(500)[:150]  # large enough for the Numba loop to be split
    expected = run(backend, kernels.binarize, X[rows], 7, np.empty((150, 784)))[-1]
    got = run(backend, kernels.binarize, X, 7, np.empty((150, 784)), rows)[1]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binarize_same_bits_on_both_backends_and_any_thread_count(dtype):
    X = RNG.random((300, 784)).astype(dtype)  # large enough for the Numba loop to be split
    outs = []
    for backend, n_threads in (("numpy", 1), ("numba", 1), ("numba", 3)):
        before = kernels.get_threads()
        kernels.set_threads(n_threads)
        try:
            outs.append(run(backend, kernels.binarize, X, 2**64 - 5, np.empty_like(X))[1])
        finally:
            kernels.set_threads(before)
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    assert set(np.unique(outs[0])) == {0.0, 1.0}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("p", [0.0, 0.03, 0.5, 0.97, 1.0])
def test_binarize_draws_bernoulli_p(backend, p):
    n = 200_000
    X = np.full((250, 800), p)
    with use_backend(backend):
        B = np.empty_like(X)
        kernels.binarize(X, 7, B)
    assert B.mean() == pytest.approx(p, abs=5 * np.sqrt(p * (1 - p) / n))
    if 0 < p < 1:  # draws next to each other in a row, and in a column, are uncorrelated
        C = B - p
        assert abs(np.mean(C[:, 1:] * C[:, :-1])) < 5 * p * (1 - p) / np.sqrt(n)
        assert abs(np.mean(C[1:] * C[:-1])) < 5 * p * (1 - p) / np.sqrt(n)


def test_binarize_keys_give_independent_draws():
    X = np.full((100, 784), 0.5)
    draws = []
    for key in (0, 1, 2**63):
        B = np.empty_like(X)
        with use_backend("numba"):
            kernels.binarize(X, key, B)
        draws.append(B.ravel() - 0.5)
    n = X.size
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert abs(np.mean(draws[a] * draws[b])) < 5 * 0.25 / np.sqrt(n)
    with use_backend("numba"):
        again = np.empty_like(X)
        kernels.binarize(X, 1, again)
    np.testing.assert_array_equal(again.ravel() - 0.5, draws[1])


def test_splitmix64_matches_the_published_stream():
    # SplitMix64 seeded with 1234567: first outputs as printed by the reference C code
    # (Vigna's splitmix64.c, state += gamma before mixing)
    z = np.uint64(1234567)
    with np.errstate(over="ignore"):  # uint64 scalars warn where the arithmetic wraps, by design
        outs = [scalar.splitmix64(z + np.uint64(i) * _GAMMA) for i in (1, 2, 3)]
    assert [int(o) for o in outs] == [6457827717110365317, 3203168211198807973, 9817491932198370423]


# -- vector maths (libmvec) and threads ---------------------------------------------------------
from minivae.fused.kernels import threads, vecmath  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 10, 33])  # 7 to 39 values: SIMD blocks and a scalar tail
def test_vector_maths_agree_with_numpy(dtype, n):
    """The compiled in-place exp / log1p / tanh (libmvec where available) are NumPy's functions
    to within a few units in the last place, extremes included."""
    from numba import njit
    x = np.concatenate([[0.0, -0.0, 30.0, -30.0, 700.0, -745.0], RNG.standard_normal(n) * 5]).astype(dtype)
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    for name in ("exp", "log1p", "tanh"):
        fn = getattr(vecmath, f"{name}_inplace")
        arg = np.abs(x) if name == "log1p" else x
        with np.errstate(over="ignore"):
            expected = getattr(np, name)(arg)
        compiled = arg.copy()
        njit(lambda a: fn(a))(compiled)  # noqa: B023 - compiled at once
        np.testing.assert_allclose(compiled, expected, rtol=rtol, atol=0, err_msg=name)
        python = arg.copy()
        with np.errstate(over="ignore"):
            fn(python)  # the same name outside compiled code is NumPy's
        np.testing.assert_array_equal(python, expected)


def test_vector_maths_describes_itself():
    assert "NumPy" in vecmath.describe() or "libmvec" in vecmath.describe()
    assert ("libmvec" in vecmath.describe()) == vecmath.enabled()


def _split_kernels(dtype):
    """Every kernel that threads.run splits, on arrays big enough to be split."""
    rng = np.random.default_rng(1)
    Rr, Dd, Hh = 64, 784, 500
    X = (rng.random((Rr, Dd)) < 0.13).astype(dtype)
    A, H = rng.standard_normal((Rr, Dd)).astype(dtype), np.tanh(rng.standard_normal((Rr, Hh))).astype(dtype)
    W, dH = rng.standard_normal((Dd, Hh)).astype(dtype), rng.standard_normal((Rr, Hh)).astype(dtype)
    b, flat = rng.standard_normal(Hh).astype(dtype), rng.standard_normal(200_003).astype(dtype)
    return [
        (kernels.bernoulli, (X, A, -0.01, np.empty_like(A), np.empty(Rr, dtype))),
        (kernels.bias_activation, (np.repeat(H, 4, axis=0), b, scalar.TANH)),
        (kernels.activation_backward, (np.repeat(dH, 4, axis=0), np.repeat(H, 4, axis=0), scalar.TANH,
                                       np.empty((4 * Rr, Hh), dtype), np.empty(Hh, dtype))),
        (kernels.adagrad, (flat, flat * 0.5, np.abs(flat), 0.02, 1e-10, 1e-4)),
        (kernels.adam, (flat, flat * 0.5, flat * 0.1, np.abs(flat), 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.002, 1e-4)),
        (kernels.sgd, (flat, flat * 0.5, 0.1, 1e-4)),
        (kernels.add_into, (flat, flat * 0.5)),
        (kernels.adagrad_sum, (flat, (flat * 0.5, flat * 0.25), np.abs(flat), 0.02, 1e-10, 1e-4)),
        (lambda *a: kernels.data_matmul(*a, sparse=True), (X, W, np.empty((Rr, Hh), dtype))),
        (lambda *a: kernels.data_matmul_t(*a, sparse=True), (X, dH, np.empty((Dd, Hh), dtype))),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_splitting_over_threads_changes_no_bit(dtype):
    """Threads take disjoint ranges and nothing is reduced across them (bias gradients are split
    by columns), so 1, 2 and 3 threads give identical arrays."""
    before = threads.get_threads()
    try:
        for fn, args in _split_kernels(dtype):
            outs = []
            for n in (1, 2, 3):
                threads.set_threads(n)
                with use_backend("numba"):
                    outs.append(run("numba", fn, *args))
            for out in outs[1:]:
                for a, b in zip(outs[0], out, strict=True):
                    np.testing.assert_array_equal(a, b)
    finally:
        threads.set_threads(before)


def test_thread_errors_reach_the_caller():
    before = threads.get_threads()
    threads.set_threads(2)

    def boom(n, lo, hi):
        if lo > 0:
            raise RuntimeError(f"range {lo}:{hi}")

    try:
        with pytest.raises(RuntimeError, match=r"range [1-9]\d*:\d+"):
            threads.run(boom, (1,), 1_000_000, 1)
        threads.run(boom, (1,), 10, 1)  # too small to split: runs here, no error
    finally:
        threads.set_threads(before)
    with pytest.raises(ValueError, match="at least 1"):
        threads.set_threads(0)


def test_run_each_calls_every_function_once_and_nested_loops_stay_on_their_thread():
    before = threads.get_threads()
    threads.set_threads(3)
    calls, nested = [], []

    def job(i):
        def fn():
            calls.append(i)
            # a loop split from inside run_each runs on this thread alone
            threads.run(lambda lo, hi: nested.append((lo, hi)), (), 1_000_000, 1)
        return fn

    try:
        threads.run_each([job(i) for i in range(5)])
    finally:
        threads.set_threads(before)
    assert sorted(calls) == list(range(5))
    assert nested == [(0, 1_000_000)] * 5


def test_run_each_errors_reach_the_caller():
    def ok():
        pass

    def boom():
        raise RuntimeError("shard failed")

    with pytest.raises(RuntimeError, match="shard failed"):
        threads.run_each([ok, boom])
    threads.run_each([ok, ok])  # the workers are free again


def test_blas_single_threaded_restores_the_thread_count():
    from minivae.fused.kernels import blas
    if not blas.available():
        pytest.skip("no OpenBLAS with a thread setter in this process")
    counts = lambda: [get() for _, get in blas._libraries()]  # noqa: E731
    before = counts()
    with blas.single_threaded():
        assert counts() == [1] * len(before)
        np.ones((64, 64)) @ np.ones((64, 64))
    assert counts() == before


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite_finds_one_bad_entry_and_no_false_alarm(backend, dtype):
    a = RNG.standard_normal((37, 41)).astype(dtype)
    with use_backend(backend):
        assert kernels.all_finite(a) and kernels.all_finite(a[:0])
        # a sum of these would overflow; the check must not call them non-finite
        assert kernels.all_finite(np.full(1000, np.finfo(dtype).max, dtype))
        for bad in (np.inf, -np.inf, np.nan):
            b = a.copy()
            b[36, 40] = bad
            assert not kernels.all_finite(b)
            b[36, 40], b[0, 0] = 0.0, bad
            assert not kernels.all_finite(b)


def test_overlapping_single_threaded_blocks_restore_the_count_after_the_last():
    from minivae.fused.kernels import blas
    if not blas.available():
        pytest.skip("no OpenBLAS with a thread setter in this process")
    counts = lambda: [get() for _, get in blas._libraries()]  # noqa: E731
    before = counts()
    outer = blas.single_threaded()
    outer.__enter__()
    with blas.single_threaded():
        pass
    assert counts() == [1] * len(before)  # the inner block's end leaves the outer one's setting
    outer.__exit__(None, None, None)
    assert counts() == before
