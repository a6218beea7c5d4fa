"""Tests for minivae.fused.update: the fused engine's optimizer steps, one kernel over all
tensors when they share a buffer, the step along a sum of gradient parts, and parity with the
readable steps of minivae.optim."""
import numpy as np
import pytest

from minivae import flat
from minivae.fused import update as fusedupdate
from minivae.fused.backend import BACKENDS, use_backend
from minivae.optim import OPTIMIZERS, SGD, Adagrad, Adam, make_optimizer
from test_optim import copy, params_and_grads


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request):
    """Every test here runs on both backends."""
    with use_backend(request.param):
        yield request.param


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("decay", [0.0, 0.01])
def test_fused_steps_equal_the_readable_steps(name, decay):
    """The kernels and the readable NumPy step evaluate the same formulas (optim.py's)."""
    params, grads = params_and_grads()
    opt = make_optimizer(name, lr=0.1)
    fused, readable = flat.pack(params), copy(params)
    fused_state = readable_state = None
    for _ in range(4):
        fused_state = fusedupdate.update(opt, fused, flat.pack(grads), fused_state, decay=decay)
        readable_state = opt.update(readable, grads, readable_state, decay=decay)
    for k in params:
        np.testing.assert_allclose(fused[k], readable[k], rtol=1e-13, atol=1e-15, err_msg=k)
        for slot in readable_state[k]:
            np.testing.assert_allclose(fused_state[k][slot], readable_state[k][slot], rtol=1e-13,
                                       err_msg=f"{k} {slot}")


def test_an_optimizer_the_kernels_do_not_know_runs_its_own_update():
    class Halving(SGD):
        def update(self, params, grads, state=None, decay=0.0):
            for p in params.values():
                p *= 0.5
            return state
    params, grads = params_and_grads()
    assert not fusedupdate.supports(Halving())
    before = copy(params)
    fusedupdate.update(Halving(), params, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], 0.5 * before[k])


# ----------------------------------------------------------------------------------------
# One step over all tensors when they share a buffer
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_update_equals_the_update_per_tensor(name):
    params, grads = params_and_grads()
    opt = make_optimizer(name, lr=0.1)
    flat_params, flat_grads, loose = flat.pack(params), flat.pack(grads), copy(params)
    flat_state = loose_state = None
    for _ in range(3):
        flat_state = fusedupdate.update(opt, flat_params, flat_grads, flat_state, decay=0.01)
        loose_state = fusedupdate.update(opt, loose, grads, loose_state, decay=0.01)
    for k in params:
        np.testing.assert_array_equal(flat_params[k], loose[k], err_msg=k)


@pytest.mark.parametrize("name, flat_calls", [("adagrad", 1), ("sgd", 1), ("adam", 3)])
def test_one_step_call_when_params_and_grads_share_buffers(name, flat_calls, monkeypatch):
    params, grads = params_and_grads()
    opt = make_optimizer(name, lr=0.1)
    calls, step = [], fusedupdate._STEPS[type(opt)]
    monkeypatch.setitem(fusedupdate._STEPS, type(opt),
                        lambda *args: (calls.append(args[1].size), step(*args)))
    fusedupdate.update(opt, flat.pack(params), flat.pack(grads))
    assert len(calls) == flat_calls
    calls.clear()
    fusedupdate.update(opt, copy(params), grads)  # separate arrays: one call per tensor
    assert calls == [p.size for p in params.values()]


def test_a_state_of_separate_arrays_is_packed_and_gives_the_same_steps():
    params, grads = params_and_grads()
    opt = Adagrad(lr=0.1)
    a, b, g = flat.pack(params), flat.pack(params), flat.pack(grads)
    state_a, state_b = fusedupdate.update(opt, a, g), fusedupdate.update(opt, b, g)
    loose = {k: {slot: arr.copy() for slot, arr in slots.items()} for k, slots in state_b.items()}
    state_a = fusedupdate.update(opt, a, g, state_a)
    state_b = fusedupdate.update(opt, b, g, loose)  # as a loaded checkpoint gives it
    assert flat.span(state_b[k]["sum_sq"] for k in params) is not None
    for k in params:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(state_a[k]["sum_sq"], state_b[k]["sum_sq"])


def test_init_state_of_flat_params_is_flat():
    params = flat.pack(params_and_grads()[0])
    state = Adagrad().init_state(params)
    assert flat.span(state[k]["sum_sq"] for k in params) is not None


def test_update_sum_equals_summing_the_parts_then_updating():
    params, grads = params_and_grads()
    n = sum(g.size for g in grads.values())
    parts = [flat.span(flat.pack(grads).values())] + [np.random.default_rng(k).standard_normal(n) for k in (1, 2)]
    opt = Adagrad(lr=0.1)
    a, b = flat.pack(params), flat.pack(params)
    state_a = state_b = None
    for _ in range(3):
        state_a = fusedupdate.update_sum(opt, a, parts, state_a, decay=0.01)
        summed = flat.pack(grads)
        whole = flat.span(summed.values())
        whole[...] = parts[0]
        for part in parts[1:]:
            whole += part
        state_b = fusedupdate.update(opt, b, summed, state_b, decay=0.01)
    for k in params:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        np.testing.assert_array_equal(state_a[k]["sum_sq"], state_b[k]["sum_sq"], err_msg=k)


@pytest.mark.parametrize("case", ["sgd", "adam", "separate params", "wrong size"])
def test_update_sum_declines_without_changing_anything(case):
    params, grads = params_and_grads()
    n = sum(g.size for g in grads.values())
    opt = {"sgd": SGD(lr=0.1), "adam": Adam(lr=0.1)}.get(case, Adagrad(lr=0.1))
    params = copy(params) if case == "separate params" else flat.pack(params)
    before = copy(params)
    parts = [np.ones(n - 1 if case == "wrong size" else n)] * 2
    assert fusedupdate.update_sum(opt, params, parts) is None
    assert all(np.array_equal(params[k], before[k]) for k in params)
