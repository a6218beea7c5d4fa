"""Tests for minivae.validation, and that bad input anywhere gets a clear error before any work.

Every error is matched on the part of its message that tells the user what to fix. The
Trainer / train cases also check that nothing was trained: no callback ran, no parameter moved.
"""
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minivae.datasets import DatasetError, load_frey
from minivae.datasets import files
from minivae.decoder import get_decoder
from minivae.model import VAE
from minivae.optim import make_optimizer
from minivae.training.trainer import Callback, Trainer, train
from minivae.validation import as_float_array, check_data, check_eps, check_positive_int
from strategies import dims, floats

D, J = 6, 2


def good_X(M=5, seed=0):
    return (np.random.default_rng(seed).random((M, D)) < 0.5).astype(float)


# ----------------------------------------------------------------------------------------
# The validation functions
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(2)])
def test_check_positive_int_accepts(value):
    out = check_positive_int("n", value)
    assert out == value and type(out) is int


@pytest.mark.parametrize("value,error", [(0, ValueError), (-2, ValueError), (True, TypeError),
                                         (3.0, TypeError), ("3", TypeError), (None, TypeError)])
def test_check_positive_int_rejects(value, error):
    with pytest.raises(error, match="batch_size must be a positive integer"):
        check_positive_int("batch_size", value)


@pytest.mark.parametrize("a", [[1, 2], np.arange(3, dtype=np.uint8), np.ones(2, np.float32)])
def test_as_float_array_converts_reals(a):
    out = as_float_array("X", a)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.asarray(a, dtype=np.float64))


@pytest.mark.parametrize("a", [np.array(["0", "1"]), np.array([1 + 0j, 0j]),
                               np.array([0.5, None], dtype=object),
                               np.array([0.5, 0.25], dtype=object), np.array([True, False])],
                         ids=["str", "complex", "object-with-None", "object-of-floats", "bool"])
def test_as_float_array_rejects_non_real_dtypes(a):
    with pytest.raises(TypeError, match=rf"X must hold real numbers \(float or int\), got dtype"):
        as_float_array("X", a)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_as_float_array_rejects_non_finite_and_says_where(bad):
    a = np.zeros((3, 4))
    a[2, 1] = bad
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at index \(2, 1\)\)"):
        as_float_array("X", a)


@given(X=hnp.arrays(np.float64, st.tuples(dims(6), dims(6)), elements=floats(0.0, 1.0)),
       decoder=st.sampled_from(["bernoulli", "gaussian"]))
def test_check_data_accepts_finite_unit_interval_data(X, decoder):
    out = get_decoder(decoder).check_data(X, X.shape[1])
    np.testing.assert_array_equal(out, X)


@given(X=hnp.arrays(np.float64, st.tuples(dims(6), dims(6)), elements=floats(0.0, 1.0)),
       data=st.data(), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_check_data_rejects_any_non_finite_entry(X, data, bad):
    i = data.draw(st.integers(0, X.shape[0] - 1))
    j = data.draw(st.integers(0, X.shape[1] - 1))
    X[i, j] = bad
    with pytest.raises(ValueError, match=rf"NaN or inf \(first at index \({i}, {j}\)\)"):
        check_data(X, X.shape[1])


def test_check_data_gaussian_accepts_any_finite_values():
    X = np.array([[-3.0, 250.0], [0.5, 1e6]])
    np.testing.assert_array_equal(check_data(X, 2), X)
    np.testing.assert_array_equal(get_decoder("gaussian").check_data(X, 2), X)


@pytest.mark.parametrize("X,match", [
    (np.zeros(D), r"X must be 2-D \(M, 6\), got shape \(6,\)"),
    (np.zeros((2, 3, D)), r"must be 2-D"),
    (np.zeros((3, D + 1)), r"X has 7 columns but the model has n_input=6"),
    (np.zeros((0, D)), r"X is empty: it has no rows"),
    (np.full((2, D), 1.5), r"must lie in \[0, 1\] for the bernoulli decoder \(binary data\), "
                           r"got values in \[1.5, 1.5\]"),
    (np.full((2, D), -0.1), r"must lie in \[0, 1\]"),
    (np.full((2, D), 255, dtype=np.uint8), r"must lie in \[0, 1\]"),  # raw pixels, not grey values
])
def test_check_data_rejects(X, match):
    with pytest.raises(ValueError, match=match):
        get_decoder("bernoulli").check_data(X, D)


def test_check_data_names_the_argument():
    with pytest.raises(ValueError, match="X_test has 5 columns"):
        get_decoder("bernoulli").check_data(np.zeros((2, 5)), D, name="X_test")


def test_check_eps_shapes():
    eps = np.zeros((4, J))
    assert check_eps(eps, 4, J).shape == (1, 4, J)
    assert check_eps(np.zeros((3, 4, J)), 4, J).shape == (3, 4, J)


@pytest.mark.parametrize("shape", [(4,), (4, J + 1), (5, J), (2, 5, J), (0, 4, J), (1, 1, 4, J)])
def test_check_eps_rejects(shape):
    with pytest.raises(ValueError, match=r"eps must have shape \(M, J\) = \(4, 2\) or \(L, 4, 2\)"):
        check_eps(np.zeros(shape), 4, J)


# ----------------------------------------------------------------------------------------
# VAE: bad data for every method that takes data
# ----------------------------------------------------------------------------------------

def nan_X():
    X = good_X()
    X[1, 2] = np.nan
    return X


def inf_X():
    X = good_X()
    X[0, 0] = np.inf
    return X


BAD_DATA = [
    pytest.param(nan_X(), ValueError, "NaN or inf", id="nan"),
    pytest.param(inf_X(), ValueError, "NaN or inf", id="inf"),
    pytest.param(np.zeros(D), ValueError, "must be 2-D", id="1-D"),
    pytest.param(np.zeros((5, D + 2)), ValueError, "8 columns but the model has n_input=6",
                 id="wrong-n_input"),
    pytest.param(np.zeros((0, D)), ValueError, "is empty", id="empty"),
    pytest.param(np.full((5, D), "0"), TypeError, "real numbers", id="strings"),
    pytest.param(np.zeros((5, D), complex), TypeError, "real numbers", id="complex"),
    pytest.param(np.zeros((5, D), object), TypeError, "real numbers", id="object"),
    pytest.param(np.zeros((5, D), bool), TypeError, "real numbers", id="bool"),
    pytest.param(np.full((5, D), 2.0), ValueError, r"\[0, 1\] for the bernoulli decoder",
                 id="outside-unit-interval"),
]


def _calls(model, X):
    eps = np.zeros((2, max(len(np.atleast_2d(X)), 1), J))
    return {
        "encode": lambda: model.encode(X),
        "elbo": lambda: model.elbo(X),
        "elbo-eps": lambda: model.elbo(X, eps),
        "loss_and_grads": lambda: model.loss_and_grads(X, eps),
        "log_likelihood": lambda: model.log_likelihood(X, eps),
    }


@pytest.mark.parametrize("method", ["encode", "elbo", "elbo-eps", "loss_and_grads", "log_likelihood"])
@pytest.mark.parametrize("X,error,match", BAD_DATA)
def test_vae_methods_reject_bad_data(method, X, error, match):
    model = VAE(D, 4, J, seed=0)
    with pytest.raises(error, match=match):
        _calls(model, X)[method]()


def test_gaussian_model_accepts_values_outside_unit_interval():
    model = VAE(D, 4, J, decoder="gaussian", seed=0)
    X = np.full((3, D), 2.0)
    assert np.all(np.isfinite(model.elbo(X)))


@pytest.mark.parametrize("shape", [(5, J + 1), (4, J), (2, 4, J), (0, 5, J), (J,)])
def test_eps_of_wrong_shape(shape):
    model = VAE(D, 4, J, seed=0)
    with pytest.raises(ValueError, match="eps must have shape"):
        model.elbo(good_X(), np.zeros(shape))
    with pytest.raises(ValueError, match="eps must have shape"):
        model.loss_and_grads(good_X(), np.zeros(shape))


def test_eps_non_finite():
    model = VAE(D, 4, J, seed=0)
    eps = np.zeros((5, J))
    eps[0, 0] = np.nan
    with pytest.raises(ValueError, match="eps contains NaN or inf"):
        model.loss_and_grads(good_X(), eps)


@pytest.mark.parametrize("Z,match", [(np.zeros(J), "Z must have shape"), (np.zeros((3, J + 1)),
                                                                            "Z must have shape"),
                                     (np.full((3, J), np.nan), "Z contains NaN or inf")])
def test_decode_bad_Z(Z, match):
    with pytest.raises(ValueError, match=match):
        VAE(D, 4, J, seed=0).decode(Z)


@pytest.mark.parametrize("estimator", ["C", "", 3, "AB"])
def test_unknown_estimator(estimator):
    model = VAE(D, 4, J, seed=0)
    with pytest.raises(ValueError, match="unknown estimator"):
        model.elbo(good_X(), estimator=estimator)
    with pytest.raises(ValueError, match="unknown estimator"):
        model.loss_and_grads(good_X(), np.zeros((5, J)), estimator=estimator)


@pytest.mark.parametrize("L,error", [(0, ValueError), (-1, ValueError), (1.0, TypeError)])
def test_bad_L(L, error):
    with pytest.raises(error, match="L must be a positive integer"):
        VAE(D, 4, J, seed=0).elbo(good_X(), L=L)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(n_latent=0), ValueError, "n_latent must be a positive integer, got 0"),
    (dict(n_hidden=-1), ValueError, "n_hidden must be a positive integer, got -1"),
    (dict(n_hidden=[4, 0]), ValueError, "n_hidden must be a positive integer, got 0"),
    (dict(n_hidden=2.5), TypeError, "n_hidden must be a positive integer"),
    (dict(n_input=0), ValueError, "n_input must be a positive integer"),
    (dict(n_input=6.0), TypeError, "n_input must be a positive integer"),
    (dict(decoder="poisson"), ValueError, "unknown decoder 'poisson'"),
    (dict(activation="foo"), ValueError, "unknown activation 'foo'; choose one of"),
    (dict(init_std=np.nan), ValueError, "init_std must be a finite non-negative number"),
    (dict(init_std=np.inf), ValueError, "init_std must be a finite non-negative number"),
    (dict(init_std=-0.01), ValueError, "init_std must be a finite non-negative number"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    args = {"n_input": D, "n_hidden": 4, "n_latent": J, **kwargs}
    with pytest.raises(error, match=match):
        VAE(**args)


# ----------------------------------------------------------------------------------------
# Trainer and train: errors before any training
# ----------------------------------------------------------------------------------------

class Spy(Callback):
    def __init__(self):
        self.calls = 0

    def on_step(self, trainer, bound):
        self.calls += 1

    def on_eval(self, trainer, record):
        self.calls += 1

    def on_end(self, trainer):
        self.calls += 1


def assert_nothing_trained(make_call, error, match, decoder="bernoulli"):
    model = VAE(D, 4, J, decoder=decoder, seed=0)
    before = {k: p.copy() for k, p in model.params.items()}
    spy = Spy()
    with pytest.raises(error, match=match):
        make_call(model, spy)
    assert spy.calls == 0
    assert all(np.array_equal(model.params[k], before[k]) for k in before)


@pytest.mark.parametrize("X,error,match", BAD_DATA)
def test_trainer_and_train_reject_bad_X_train(X, error, match):
    assert_nothing_trained(lambda m, spy: Trainer(m, X, callbacks=[spy]), error, match)
    assert_nothing_trained(lambda m, spy: train(m, X, samples=100, callbacks=[spy]), error, match)


@pytest.mark.parametrize("X,error,match", BAD_DATA)
def test_train_rejects_bad_X_test(X, error, match):
    assert_nothing_trained(lambda m, spy: train(m, good_X(20), X_test=X, samples=100, callbacks=[spy]),
                           error, match)


def test_bad_X_train_names_the_argument():
    assert_nothing_trained(lambda m, spy: train(m, np.zeros((0, D)), callbacks=[spy]), ValueError,
                           "X_train is empty")


@pytest.mark.parametrize("binarization", ["dynamic", "fixed"])
def test_gaussian_decoder_with_binarization(binarization):
    X = np.random.default_rng(0).random((20, D))
    assert_nothing_trained(
        lambda m, spy: train(m, X, samples=100, binarization=binarization, callbacks=[spy]),
        ValueError, "binarization applies to a decoder of binary data", decoder="gaussian")


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(binarization="otsu"), ValueError, "unknown binarization 'otsu'"),
    (dict(estimator="C"), ValueError, "unknown estimator 'C'"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
    (dict(batch_size=10.0), TypeError, "batch_size must be a positive integer"),
    (dict(L=0), ValueError, "L must be a positive integer"),
    (dict(eval_L=0), ValueError, "eval_L must be a positive integer"),
    (dict(eval_train_size=0), ValueError, "eval_train_size must be a positive integer"),
])
def test_bad_trainer_settings(kwargs, error, match):
    X = good_X(20)
    assert_nothing_trained(lambda m, spy: train(m, X, samples=100, callbacks=[spy], **kwargs),
                           error, match)


def test_unknown_optimizer_and_bad_step_size():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", lr=0.1)
    for lr in (0.0, -0.02):
        with pytest.raises(ValueError, match="step size lr must be a positive number"):
            make_optimizer("adagrad", lr=lr)


def test_trainer_rejects_a_non_optimizer_before_training():
    assert_nothing_trained(lambda m, spy: train(m, good_X(20), samples=100, optimizer="adam",
                                                callbacks=[spy]),
                           (TypeError, ValueError), "optimizer")


# ----------------------------------------------------------------------------------------
# Data files: a corrupted file is a DatasetError naming it
# ----------------------------------------------------------------------------------------

def test_corrupted_dataset_file(tmp_path, monkeypatch):
    monkeypatch.delenv(files.DATA_DIR_ENV, raising=False)
    shipped = Path(files.__file__).resolve().parent.parent / "data"
    root = tmp_path / "data"
    (root / "frey").mkdir(parents=True)
    shutil.copy(shipped / files.SUMS_FILE, root / files.SUMS_FILE)
    shutil.copy(shipped / "frey" / "frey_rawface.mat", root / "frey" / "frey_rawface.mat")
    assert load_frey(data_dir=root).shape == (1965, 560)  # the copy itself is fine
    raw = bytearray((root / "frey" / "frey_rawface.mat").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (root / "frey" / "frey_rawface.mat").write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"SHA-256 mismatch for .*frey_rawface\.mat"):
        load_frey(data_dir=root)
    monkeypatch.setenv(files.DATA_DIR_ENV, str(root))
    with pytest.raises(ValueError, match="frey_rawface.mat"):  # DatasetError is a ValueError
        load_frey()
