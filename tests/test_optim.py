"""Tests for minivae.optim, the readable optimizers (plain NumPy: no backend to choose):
closed-form steps of Adagrad, SGD and Adam, the state contract, config. minivae.fused.update
runs the same steps with kernels (tests/test_fused_update.py)."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minivae import flat
from minivae.model import VAE
from minivae.optim import OPTIMIZERS, SGD, Adagrad, Adam, make_optimizer
from strategies import finite_arrays, floats, nonzero_floats


def params_and_grads(seed=0):
    rng = np.random.default_rng(seed)
    params = {"enc.W1": rng.standard_normal((3, 4)), "enc.b1": rng.standard_normal(4),
              "dec.W_logits": rng.standard_normal((4, 2))}
    grads = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    return params, grads


def copy(d):
    return {k: v.copy() for k, v in d.items()}


# ----------------------------------------------------------------------------------------
# Closed forms
# ----------------------------------------------------------------------------------------

@given(g=finite_arrays((2, 3)), lr=floats(1e-3, 1.0))
def test_sgd_step(g, lr):
    p0 = np.linspace(-1, 1, 6).reshape(2, 3)
    params = {"w": p0.copy()}
    SGD(lr=lr).update(params, {"w": g})
    np.testing.assert_allclose(params["w"], p0 - lr * g, rtol=1e-15, atol=1e-15)


@given(g=finite_arrays(5), G0=floats(0.0, 2.0), lr=floats(1e-3, 1.0))
def test_adagrad_first_step_closed_form(g, G0, lr):
    p0 = np.arange(5.0)
    params = {"w": p0.copy()}
    opt = Adagrad(lr=lr, initial_accumulator=G0)
    state = opt.update(params, {"w": g})
    expected = p0 - lr * g / (np.sqrt(g * g + G0) + opt.delta)
    np.testing.assert_allclose(params["w"], expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(state["w"]["sum_sq"], G0 + g * g, rtol=1e-15)


@given(g=st.lists(nonzero_floats(1e-3, 10.0), min_size=4, max_size=4))
def test_adagrad_default_first_step_is_lr_times_minus_sign(g):
    """G starts at 0 (documented default): the first step is -lr * sign(g), up to delta."""
    g = np.array(g)
    params = {"w": np.zeros(4)}
    Adagrad(lr=0.02).update(params, {"w": g})
    np.testing.assert_allclose(params["w"], -0.02 * np.sign(g), rtol=1e-7)


def test_adagrad_two_steps_closed_form():
    rng = np.random.default_rng(1)
    p0, g1, g2 = rng.standard_normal((3, 6))
    lr, G0, delta = 0.1, 0.5, 1e-10
    opt = Adagrad(lr=lr, delta=delta, initial_accumulator=G0)
    params = {"w": p0.copy()}
    state = opt.update(params, {"w": g1})
    state = opt.update(params, {"w": g2}, state)
    G1 = G0 + g1 ** 2
    G2 = G1 + g2 ** 2
    expected = p0 - lr * g1 / (np.sqrt(G1) + delta) - lr * g2 / (np.sqrt(G2) + delta)
    np.testing.assert_allclose(params["w"], expected, rtol=1e-14)
    np.testing.assert_allclose(state["w"]["sum_sq"], G2, rtol=1e-15)


def test_adagrad_zero_gradient_entry_does_not_move():
    params = {"w": np.array([1.0, 2.0])}
    Adagrad().update(params, {"w": np.array([0.0, 1.0])})
    assert params["w"][0] == 1.0 and np.isfinite(params["w"][1])


def test_adam_first_two_steps_closed_form():
    rng = np.random.default_rng(2)
    p0, g1, g2 = rng.standard_normal((3, 5))
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam(lr=lr, beta1=b1, beta2=b2, epsilon=eps)
    params = {"w": p0.copy()}
    state = opt.update(params, {"w": g1})
    # first step: m_hat = g, v_hat = g^2, so the step is -lr * g / (|g| + eps) ~ -lr * sign(g)
    np.testing.assert_allclose(params["w"], p0 - lr * g1 / (np.abs(g1) + eps), rtol=1e-13)
    np.testing.assert_allclose(params["w"], p0 - lr * np.sign(g1), rtol=1e-6)
    p1 = params["w"].copy()
    state = opt.update(params, {"w": g2}, state)
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1 ** 2 + (1 - b2) * g2 ** 2
    m_hat, v_hat = m / (1 - b1 ** 2), v / (1 - b2 ** 2)
    np.testing.assert_allclose(params["w"], p1 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-13)
    assert int(state["w"]["t"]) == 2
    np.testing.assert_allclose(state["w"]["m"], m, rtol=1e-14)
    np.testing.assert_allclose(state["w"]["v"], v, rtol=1e-14)


# ----------------------------------------------------------------------------------------
# The update contract: state keys, in place, state=None, key mismatch
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_in_place_and_state_keyed_by_param_name(name):
    model = VAE(6, [4, 3], 2, seed=0)
    rng = np.random.default_rng(0)
    grads = {k: rng.standard_normal(p.shape) for k, p in model.params.items()}
    grads_before = copy(grads)
    arrays = {k: id(p) for k, p in model.params.items()}
    before = copy(model.params)
    opt = make_optimizer(name, lr=0.1)
    state = opt.update(model.params, grads, None)
    assert state.keys() == model.params.keys()
    assert all(isinstance(slots, dict) for slots in state.values())
    assert {k: id(p) for k, p in model.params.items()} == arrays  # the same arrays, changed in place
    for k in model.params:
        assert not np.array_equal(model.params[k], before[k]), k
        assert np.array_equal(grads[k], grads_before[k]), f"update changed grads[{k!r}]"
        for slot in state[k].values():
            assert isinstance(slot, np.ndarray) and slot.dtype != object  # .npz-ready


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_none_equals_init_state(name):
    params, grads = params_and_grads()
    opt = make_optimizer(name, lr=0.1)
    a, b = copy(params), copy(params)
    opt.update(a, grads, None)
    opt.update(b, grads, opt.init_state(b))
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["adagrad", "adam"])
def test_state_carries_over_between_steps(name):
    """Passing the returned state differs from restarting with a fresh one: the state matters."""
    params, grads = params_and_grads()
    opt = make_optimizer(name, lr=0.1)
    a, b = copy(params), copy(params)
    state = opt.update(a, grads)
    opt.update(a, grads, state)
    opt.update(b, grads)
    opt.update(b, grads)
    assert any(not np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_grads_key_mismatch(name):
    params, grads = params_and_grads()
    opt = make_optimizer(name, lr=0.1)
    missing = {k: v for k, v in grads.items() if k != "enc.b1"}
    with pytest.raises(ValueError, match="enc.b1"):
        opt.update(params, missing)
    extra = {**grads, "dec.b9": np.zeros(2)}
    with pytest.raises(ValueError, match="dec.b9"):
        opt.update(params, extra)


# ----------------------------------------------------------------------------------------
# Construction, make_optimizer, config
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,cls", [("adagrad", Adagrad), ("sgd", SGD), ("adam", Adam)])
def test_make_optimizer_by_name(name, cls):
    opt = make_optimizer(name, lr=0.3)
    assert type(opt) is cls and opt.lr == 0.3 and opt.name == name


def test_make_optimizer_default_is_paper_adagrad():
    opt = make_optimizer()
    assert isinstance(opt, Adagrad) and opt.lr == 0.02


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'.*adagrad"):
        make_optimizer("rmsprop")


@pytest.mark.parametrize("opt", [Adagrad(lr=0.1, delta=1e-8, initial_accumulator=0.1), SGD(lr=0.5),
                                 Adam(lr=0.003, beta1=0.8, beta2=0.99, epsilon=1e-7)],
                         ids=["adagrad", "sgd", "adam"])
def test_config_round_trip(opt):
    config = opt.config()
    assert json.loads(json.dumps(config)) == config
    kwargs = dict(config)
    clone = make_optimizer(kwargs.pop("name"), **kwargs)
    assert type(clone) is type(opt) and clone.config() == config
    params, grads = params_and_grads()
    a, b = copy(params), copy(params)
    opt.update(a, grads)
    clone.update(b, grads)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert repr(opt).startswith(type(opt).__name__ + "(")


@pytest.mark.parametrize("cls", [Adagrad, SGD, Adam])
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_step_size(cls, lr):
    with pytest.raises(ValueError, match="step size lr must be a positive number"):
        cls(lr=lr)


def test_bad_adagrad_and_adam_settings():
    with pytest.raises(ValueError, match="non-negative"):
        Adagrad(delta=-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        Adagrad(initial_accumulator=-1.0)
    with pytest.raises(ValueError, match=r"beta1 must be a number in \[0, 1\)"):
        Adam(beta1=1.0)
    with pytest.raises(ValueError, match=r"beta2 must be a number in \[0, 1\)"):
        Adam(beta2=-0.1)


# ----------------------------------------------------------------------------------------
# Adding an optimizer is one class (the worked example of docs/design.md)
# ----------------------------------------------------------------------------------------

def test_a_new_optimizer_is_one_class_that_trains_saves_and_resumes(monkeypatch, tmp_path):
    from minivae import optim
    from minivae.training.checkpoint import restore_trainer, save
    from minivae.training.trainer import Trainer
    monkeypatch.setattr(optim, "OPTIMIZERS", dict(optim.OPTIMIZERS))  # forget it after the test

    class RMSprop(optim._Optimizer):
        r"""$v \leftarrow \rho v + (1-\rho) g^2$, $\theta \leftarrow \theta - \eta g / (\sqrt v + \delta)$."""
        name = "rmsprop"

        def __init__(self, lr=0.01, rho=0.9, delta=1e-8):
            super().__init__(lr)
            self.rho, self.delta = rho, delta

        def _init_slot(self, p):
            return {"v": np.zeros_like(p)}

        def step(self, theta, g, slots):
            v = slots["v"]
            v[...] = self.rho * v + (1.0 - self.rho) * g * g
            theta -= self.lr * g / (np.sqrt(v) + self.delta)

    assert make_optimizer("rmsprop", lr=0.02).config() == {"name": "rmsprop", "lr": 0.02,
                                                           "rho": 0.9, "delta": 1e-8}
    X = (np.random.default_rng(0).random((200, 10)) < 0.3) * 1.0

    def trainer(engine):
        return Trainer(VAE(10, 6, 2, seed=0), X, optimizer=RMSprop(lr=0.02), batch_size=20,
                       seed=1, eval_train_size=50, engine=engine)
    whole = {engine: trainer(engine) for engine in ("reference", "fused")}
    for t in whole.values():
        t.run(2000, eval_every=1000)
    first = trainer("reference")
    first.run(1000, eval_every=1000)
    save(tmp_path, first.model, first)
    resumed = restore_trainer(tmp_path, X)
    assert type(resumed.optimizer) is RMSprop
    resumed.run(2000, eval_every=1000)
    for name, p in whole["reference"].model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], p)  # bit for bit
        np.testing.assert_allclose(whole["fused"].model.params[name], p, rtol=1e-9, atol=1e-12)
    assert whole["reference"].history[-1].train_bound > whole["reference"].history[0].train_bound
