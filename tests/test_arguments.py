"""Every public constructor names the argument it refuses (issue 15, sec. 5): a ``TypeError``
for the wrong kind of value, a ``ValueError`` for a value out of range, raised when the object
is built, never a ``SyntaxError`` from NumPy or a failure at the first evaluation."""
import numpy as np
import pytest

import minivae
from minivae import VAE, Trainer
from minivae.optim import SGD, Adagrad, Adam, make_optimizer

NAN = float("nan")


def assert_refused(build, arg, error=(TypeError, ValueError)):
    with pytest.raises(error) as info:
        build()
    assert arg in str(info.value), f"{info.value!r} does not name {arg!r}"


MODEL_CASES = [
    ("dtype", ", "), ("dtype", "float16"), ("dtype", "double precision"), ("dtype", 3),
    ("n_input", "784"), ("n_input", 0), ("n_input", True), ("n_input", 7.5),
    ("n_hidden", None), ("n_hidden", []), ("n_hidden", [5, "a"]), ("n_hidden", -1),
    ("n_latent", 2.0), ("n_latent", 0),
    ("decoder", "poisson"), ("decoder", None), ("activation", "swish"), ("activation", ["tanh"]),
    ("init_std", "0.01"), ("init_std", -0.1), ("init_std", NAN), ("init_std", True),
    ("init_std", None), ("seed", "abc"), ("seed", -1), ("seed", 1.5), ("seed", True),
    ("sigmoid_mean", "no"), ("sigmoid_mean", 0),
]


@pytest.mark.parametrize("arg, value", MODEL_CASES, ids=str)
def test_vae_names_the_bad_argument(arg, value):
    kwargs = {"n_input": 6, "n_hidden": 4, "n_latent": 2, arg: value}
    assert_refused(lambda: VAE(**kwargs), arg)


@pytest.mark.parametrize("arg, value", MODEL_CASES
                         + [("prior_scale", "1"), ("prior_scale", 0.0), ("prior_scale", NAN),
                            ("family", "gamma"), ("family", None), ("family", 3),
                            ("family", {"name": "poisson"}), ("dtype", "float32")],
                         ids=str)
def test_vae_of_another_family_names_the_bad_argument(arg, value):
    kwargs = {"n_input": 6, "n_hidden": 4, "n_latent": 2, "family": "laplace", arg: value}
    assert_refused(lambda: VAE(**kwargs), arg)


def test_good_arguments_still_build():
    model = VAE(6, n_hidden=(4, np.int64(3)), n_latent=np.int32(2), init_std=np.float32(0.1),
                seed=np.uint8(3), sigmoid_mean=np.bool_(False), dtype=np.float32)
    assert model.n_hidden == [4, 3] and model.dtype == np.float32 and model.seed == 3
    assert VAE(**model.config()).config() == model.config()
    assert VAE(6, 4, 2, dtype="float").dtype == np.float64


OPTIMIZER_CASES = [
    (SGD, "lr", "0.1"), (SGD, "lr", 0.0), (SGD, "lr", -0.02), (SGD, "lr", NAN), (SGD, "lr", True),
    (SGD, "lr", None), (Adagrad, "lr", float("inf")), (Adagrad, "delta", "1e-10"),
    (Adagrad, "delta", -1.0), (Adagrad, "delta", NAN), (Adagrad, "initial_accumulator", NAN),
    (Adagrad, "initial_accumulator", -0.1), (Adam, "beta1", 1.0), (Adam, "beta1", NAN),
    (Adam, "beta2", "0.999"), (Adam, "epsilon", -1e-8), (Adam, "epsilon", "tiny"),
]


@pytest.mark.parametrize("cls, arg, value", OPTIMIZER_CASES, ids=str)
def test_optimizers_name_the_bad_argument(cls, arg, value):
    assert_refused(lambda: cls(**{arg: value}), arg)
    assert_refused(lambda: make_optimizer(cls.name, **{arg: value}), arg)


def test_make_optimizer_names_an_unknown_optimizer_or_argument():
    assert_refused(lambda: make_optimizer("rmsprop"), "rmsprop", ValueError)
    assert_refused(lambda: make_optimizer(["adam"]), "adam", ValueError)
    assert_refused(lambda: make_optimizer("sgd", momentum=0.9), "momentum", TypeError)
    assert make_optimizer("adam", lr=np.float32(0.5)).lr == 0.5


@pytest.fixture
def data():
    model = VAE(6, n_hidden=4, n_latent=2, seed=0)
    X = (np.random.default_rng(0).random((20, 6)) < 0.5) * 1.0
    return model, X


@pytest.mark.parametrize("arg, value", [
    ("batch_size", "10"), ("batch_size", 0), ("L", 1.5), ("estimator", "C"), ("weight_prior", "no"),
    ("binarization", "otsu"), ("seed", "x"), ("seed", -3), ("eval_train_size", 0), ("eval_L", None),
    ("optimizer", "adagrad")], ids=str)
def test_trainer_names_the_bad_argument(data, arg, value):
    model, X = data
    assert_refused(lambda: Trainer(model, X, **{arg: value}), arg)


def test_trainer_refuses_something_that_is_not_a_model(data):
    _, X = data
    assert_refused(lambda: Trainer("vae", X), "model", TypeError)


@pytest.mark.parametrize("callbacks", [[print, 3], ["on_eval"], [lambda trainer: None], object(),
                                       lambda trainer, record: None], ids=str)
def test_a_bad_callback_is_refused_when_passed(data, callbacks):
    """Not at the first evaluation: ``Trainer`` itself raises, naming the entry."""
    model, X = data
    assert_refused(lambda: Trainer(model, X, callbacks=callbacks), "callback", TypeError)


def test_good_callbacks_are_kept_and_called(data):
    model, X = data
    seen = []

    class Stop(minivae.training.trainer.Callback):
        def on_end(self, trainer):
            seen.append("end")

    trainer = Trainer(model, X, callbacks=[lambda t, r: seen.append(r.samples), Stop()],
                      batch_size=10, seed=0)
    trainer.run(20, eval_every=10)
    assert seen == [0, 10, 20, "end"]


@pytest.mark.parametrize("samples", [1.7, "100", NAN, float("inf"), -10, True], ids=str)
def test_a_budget_that_is_not_a_whole_number_is_refused(data, samples):
    model, X = data
    trainer = Trainer(model, X, batch_size=10, seed=0)
    assert_refused(lambda: trainer.run(samples), "samples")
    assert_refused(lambda: minivae.train(model, X, samples=samples, batch_size=10), "samples")
    assert trainer.samples == 0 and trainer.history == []


@pytest.mark.parametrize("eval_every", [2.5, 0, "10"], ids=str)
def test_eval_every_must_be_a_positive_whole_number(data, eval_every):
    model, X = data
    assert_refused(lambda: Trainer(model, X, batch_size=10).run(20, eval_every=eval_every),
                   "eval_every")


def test_a_float_budget_equal_to_a_whole_number_is_fine(data):
    model, X = data
    trainer = minivae.train(model, X, samples=2e1, eval_every=1e1, batch_size=10, seed=0)
    assert [r.samples for r in trainer.history] == [0, 10, 20]
