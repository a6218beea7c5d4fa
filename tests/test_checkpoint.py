"""Tests for minivae.training.checkpoint: save/load round trips, resuming bit for bit, no pickle, bad input."""
import json
import warnings
import zipfile

import numpy as np
import pytest

from minivae.training import checkpoint
from minivae.training.checkpoint import FORMAT, load, restore_trainer, save
from minivae.model import VAE
from minivae.optim import SGD, Adagrad, Adam
from minivae.training.trainer import Callback, Trainer

D = 12


def grey_data(N, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((3, D)) < 0.5).astype(float)
    return np.clip(0.05 + 0.9 * prototypes[rng.integers(3, size=N)], 0, 1)


X_TRAIN, X_TEST = grey_data(60), grey_data(20, seed=1)


def make_trainer(model=None, optimizer=None, **kwargs):
    model = VAE(D, [6, 5], 2, seed=0) if model is None else model
    optimizer = Adagrad(lr=0.1) if optimizer is None else optimizer
    kwargs = {"batch_size": 16, "seed": 4, "L": 2, **kwargs}
    return Trainer(model, X_TRAIN, X_TEST, optimizer=optimizer, **kwargs)


def same_params(a, b):
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes()
        for k in a)


def records(history):
    return [(r.samples, r.train_bound, r.test_bound) for r in history]


# ----------------------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("decoder,sigmoid_mean,seed", [("bernoulli", True, 3), ("gaussian", False, None),
                                                       ("gaussian", True, 5)])
def test_model_round_trip(tmp_path, decoder, sigmoid_mean, seed):
    model = VAE(D, [6, 4], 3, decoder=decoder, activation="softplus", init_std=0.2, seed=seed,
                sigmoid_mean=sigmoid_mean)
    for p in model.params.values():  # not the seeded initialization any more
        p += 1.0
    path = save(tmp_path / "ckpt", model, extra={"dataset": "synthetic", "n": 3})
    assert path == tmp_path / "ckpt"
    ckpt = load(path)
    assert ckpt.model.config() == model.config()
    assert same_params(ckpt.model.params, model.params)
    assert ckpt.optimizer is None and ckpt.opt_state is None and ckpt.trainer is None
    assert ckpt.extra == {"dataset": "synthetic", "n": 3}
    X = np.random.default_rng(0).random((4, D))
    if decoder == "bernoulli":
        X = (X < 0.5).astype(float)
    eps = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_array_equal(ckpt.model.elbo(X, eps), model.elbo(X, eps))


def test_save_creates_missing_directories_and_overwrites(tmp_path):
    model = VAE(D, 4, 2, seed=0)
    save(tmp_path / "a" / "b", model)
    model.params["enc.W1"][0, 0] = 123.0
    save(tmp_path / "a" / "b", model)
    assert load(tmp_path / "a" / "b").model.params["enc.W1"][0, 0] == 123.0
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["checkpoint.npz"]


@pytest.mark.parametrize("optimizer", [Adagrad(lr=0.1, initial_accumulator=0.01), Adam(lr=0.01),
                                       SGD(lr=0.05)], ids=["adagrad", "adam", "sgd"])
def test_trainer_round_trip_mid_run(tmp_path, optimizer):
    trainer = make_trainer(optimizer=optimizer)
    trainer.run(100, eval_every=32)
    save(tmp_path, trainer.model, trainer, extra={"note": "mid-run"})
    ckpt = load(tmp_path)
    assert same_params(ckpt.model.params, trainer.model.params)
    assert type(ckpt.optimizer) is type(optimizer) and ckpt.optimizer.config() == optimizer.config()
    assert ckpt.opt_state.keys() == trainer.opt_state.keys()
    for name, slots in trainer.opt_state.items():
        assert ckpt.opt_state[name].keys() == slots.keys()
        for slot, a in slots.items():
            assert ckpt.opt_state[name][slot].tobytes() == a.tobytes()
    state = ckpt.trainer
    assert state["config"] == trainer.config()
    assert state["samples"] == trainer.samples == 112 and state["pos"] == trainer.pos
    assert state["wall_time"] == trainer.wall_time
    np.testing.assert_array_equal(state["perm"], trainer.perm)
    assert state["history"] == trainer.history_dicts()
    assert ckpt.extra == {"note": "mid-run"}


def test_trainer_saved_before_any_step(tmp_path):
    trainer = make_trainer()
    save(tmp_path, trainer.model, trainer)
    ckpt = load(tmp_path)
    assert ckpt.opt_state is None and ckpt.trainer["samples"] == 0 and ckpt.trainer["history"] == []
    resumed = restore_trainer(tmp_path, X_TRAIN, X_TEST)
    fresh = make_trainer()
    resumed.run(64, eval_every=32)
    fresh.run(64, eval_every=32)
    assert same_params(resumed.model.params, fresh.model.params)


# ----------------------------------------------------------------------------------------
# Resuming gives the uninterrupted run, bit for bit
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer_cls,binarization,stop_at", [
    (Adagrad, "dynamic", 100), (Adam, "fixed", 48), (SGD, "none", 130)])
def test_restore_trainer_continues_exactly(tmp_path, optimizer_cls, binarization, stop_at):
    make = lambda: make_trainer(optimizer=optimizer_cls(lr=0.05), binarization=binarization)
    uninterrupted = make()
    uninterrupted.run(256, eval_every=40)

    first = make()
    first.run(stop_at, eval_every=40)
    save(tmp_path, first.model, first)
    resumed = restore_trainer(tmp_path, X_TRAIN, X_TEST)
    assert resumed.samples == first.samples and records(resumed.history) == records(first.history)
    resumed.run(256, eval_every=40)

    assert resumed.samples == uninterrupted.samples
    assert same_params(resumed.model.params, uninterrupted.model.params)
    for name, slots in uninterrupted.opt_state.items():
        for slot, a in slots.items():
            assert resumed.opt_state[name][slot].tobytes() == a.tobytes()
    # the interruption may add one record (where the first run stopped), nothing else differs
    assert set(records(uninterrupted.history)) <= set(records(resumed.history))
    extra = set(records(resumed.history)) - set(records(uninterrupted.history))
    assert {s for s, _, _ in extra} <= {first.samples}


def test_save_from_a_callback_and_resume(tmp_path):
    """The CLI's pattern: checkpoint at every evaluation; resume from the last one."""
    class Saver(Callback):
        def on_eval(self, trainer, record):
            if record.samples == 96:
                save(tmp_path, trainer.model, trainer)

    full = make_trainer(callbacks=[Saver()])
    full.run(192, eval_every=48)
    resumed = restore_trainer(tmp_path, X_TRAIN, X_TEST)
    assert resumed.samples == 96
    resumed.run(192, eval_every=48)
    assert same_params(resumed.model.params, full.model.params)
    assert records(resumed.history) == records(full.history)


def test_restore_trainer_keeps_settings(tmp_path):
    trainer = make_trainer(optimizer=Adam(lr=0.003), L=3, estimator="A", weight_prior=False,
                           binarization="fixed", eval_L=2, eval_train_size=30, seed=11)
    trainer.run(32, eval_every=32)
    save(tmp_path, trainer.model, trainer)
    resumed = restore_trainer(tmp_path, X_TRAIN, X_TEST, callbacks=[lambda t, r: None])
    assert resumed.config() == trainer.config()
    assert isinstance(resumed.optimizer, Adam) and resumed.optimizer.lr == 0.003
    assert len(resumed.callbacks) == 1


# ----------------------------------------------------------------------------------------
# The files
# ----------------------------------------------------------------------------------------

def test_npz_holds_no_pickled_objects(tmp_path):
    trainer = make_trainer(optimizer=Adam(lr=0.01))
    trainer.run(48, eval_every=48)
    save(tmp_path, trainer.model, trainer)
    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}  # raises if any entry needs pickle
    assert all(a.dtype != object for a in arrays.values())
    assert {k for k in arrays if k.startswith("param/")} == {f"param/{k}" for k in trainer.model.params}
    assert {k for k in arrays if k.startswith("opt/")} == {
        f"opt/{name}/{slot}" for name in trainer.model.params for slot in ("m", "v", "t")}
    assert "perm" in arrays and arrays["meta"].dtype == np.uint8
    meta = json.loads(arrays["meta"].tobytes())
    assert meta["format"] == FORMAT and meta["model"] == trainer.model.config()


def test_no_temporary_files_left(tmp_path):
    save(tmp_path, VAE(D, 4, 2, seed=0))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with zipfile.ZipFile(tmp_path / "checkpoint.npz") as z:
        assert z.testzip() is None


def test_save_closes_its_files(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save(tmp_path, VAE(D, 4, 2, seed=0))
        import gc
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# ----------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------

def test_load_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*nowhere"):
        load(tmp_path / "nowhere")


def test_load_missing_file(tmp_path):
    save(tmp_path, VAE(D, 4, 2, seed=0))
    (tmp_path / "checkpoint.npz").unlink()
    with pytest.raises(FileNotFoundError, match="checkpoint.npz is missing"):
        load(tmp_path)


def rewrite_meta(directory, text):
    path = directory / "checkpoint.npz"
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["meta"] = np.frombuffer(text.encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("meta", [{"history": []}, {"format": "minivae-checkpoint-0", "model": {}}])
def test_load_non_checkpoint_meta(tmp_path, meta):
    save(tmp_path, VAE(D, 4, 2, seed=0))
    rewrite_meta(tmp_path, json.dumps(meta))
    with pytest.raises(checkpoint.CheckpointError, match=f"checkpoint.npz: format .*not a {FORMAT} file"):
        load(tmp_path)


@pytest.mark.parametrize("text", ["not json at all", "", "[{\"samples\": 0}]"])
def test_load_invalid_meta_is_a_checkpoint_error(tmp_path, text):
    save(tmp_path, VAE(D, 4, 2, seed=0))
    rewrite_meta(tmp_path, text)
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint.npz: (meta|format)"):
        load(tmp_path)


def test_restore_model_only_checkpoint(tmp_path):
    save(tmp_path, VAE(D, 4, 2, seed=0))
    with pytest.raises(ValueError, match="without training state"):
        restore_trainer(tmp_path, X_TRAIN)


@pytest.mark.parametrize("n", [59, 61])
def test_restore_with_different_n_train(tmp_path, n):
    trainer = make_trainer()
    trainer.run(32, eval_every=32)
    save(tmp_path, trainer.model, trainer)
    with pytest.raises(ValueError, match=f"trained on 60 rows, got {n}"):
        restore_trainer(tmp_path, grey_data(n))


def test_format_constant():
    assert checkpoint.FORMAT == "minivae-checkpoint-2"
