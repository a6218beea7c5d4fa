"""One trainer protocol: a checkpoint records the training algorithm, and
:func:`minivae.training.checkpoint.restore_trainer` rebuilds that algorithm's trainer, with its own state,
bit for bit; older checkpoints load as the algorithm their saver meant; a damaged algorithm field
is refused naming it; a new algorithm is one subclass."""
import numpy as np
import pytest

from minivae.training import checkpoint, evaluation
from minivae.baselines.mcem import MCEMTrainer
from minivae.model import VAE
from minivae.optim import Adagrad
from minivae.training.trainer import TRAINERS, Trainer
from minivae.baselines.wakesleep import WakeSleepTrainer

from test_checkpoint import D, X_TEST, X_TRAIN
from test_checkpoint_faults import assert_refused, read_all, tamper

CLASSES = {"aevb": Trainer, "wakesleep": WakeSleepTrainer, "mcem": MCEMTrainer}


@pytest.fixture(autouse=True)
def cheap_mcem_evaluation(monkeypatch):
    """MCEM's App. D evaluation takes seconds; these tests need only a deterministic function of
    the parameters in its place (that it is one is tested in test_mcem.py)."""
    monkeypatch.setattr(MCEMTrainer, "_mean_log_px",
                        lambda self, X, rng: evaluation.mean_bound(self.model, X, rng=rng))


def make(algorithm):
    own = {"marginal_eval_size": 4, "n_leapfrog": 3} if algorithm == "mcem" else {}
    return CLASSES[algorithm](VAE(D, [6], 2, seed=0), X_TRAIN, X_TEST, optimizer=Adagrad(lr=0.1),
                              batch_size=16, seed=4, eval_train_size=30, **own)


def assert_same_run(a, b, saved_at):
    """Same parameters, algorithm state and history (but ``b``'s evaluation where it was saved)."""
    key = lambda t: [(r.samples, r.train_bound, r.test_bound) for r in t.history  # noqa: E731
                     if r.samples != saved_at]
    assert key(a) == key(b)
    for name, p in a.model.params.items():
        assert p.tobytes() == b.model.params[name].tobytes(), name
    for name, x in a.extra_arrays().items():
        assert x.tobytes() == b.extra_arrays()[name].tobytes(), name


def straight_and_resumed(directory, algorithm, at=48, end=112, old=None):
    """An uninterrupted run to ``end`` samples, and one saved at ``at`` (rewritten by ``old`` into
    an older format), restored and run to ``end``."""
    straight = make(algorithm)
    straight.run(end, eval_every=32)
    first = make(algorithm)
    first.run(at, eval_every=32)           # mid-epoch, between two evaluations
    checkpoint.save(directory, first.model, first, extra={"dataset": "synthetic"})
    if old is not None:
        old(directory, first)
    resumed = checkpoint.restore_trainer(directory, X_TRAIN, X_TEST)
    assert type(resumed) is CLASSES[algorithm] and resumed.config() == first.config()
    resumed.run(end, eval_every=32)
    return straight, resumed


@pytest.mark.parametrize("algorithm", list(CLASSES))
def test_each_algorithm_resumes_as_its_own_trainer(tmp_path, algorithm):
    straight, resumed = straight_and_resumed(tmp_path, algorithm)
    assert checkpoint.read_meta(tmp_path)["algorithm"] == algorithm
    assert checkpoint.load(tmp_path).algorithm == algorithm
    assert_same_run(straight, resumed, 48)


# -- older checkpoints, as their savers wrote them --------------------------------------------

def _without_algorithm(extra_algorithm=None):
    def change(meta):
        del meta["algorithm"]
        if extra_algorithm is not None:
            meta["extra"]["algorithm"] = extra_algorithm
    return change


def old_train(directory, trainer):
    """`minivae train`: no algorithm anywhere (AEVB was the only one)."""
    tamper(directory, meta=_without_algorithm())


def old_reproduce(directory, trainer):
    """`minivae reproduce` (Fig. 2, 3): the algorithm in the extra metadata."""
    tamper(directory, meta=_without_algorithm(trainer.algorithm))


def old_mcem_side_file(directory, trainer):
    """`save_mcem` before the extra arrays: the chains in `mcem_chains.npz` beside the checkpoint."""
    tamper(directory, drop=["extra/chain_z", "extra/chain_step_size"],
           meta=_without_algorithm("mcem"))
    np.savez(directory / "mcem_chains.npz", chain_z=trainer.chain_z,
             chain_step_size=trainer.chain_step_size, samples=np.int64(trainer.samples))


@pytest.mark.parametrize("algorithm, old", [
    ("aevb", old_train), ("aevb", old_reproduce), ("wakesleep", old_reproduce),
    ("mcem", old_reproduce), ("mcem", old_mcem_side_file)],
    ids=["aevb-train", "aevb-reproduce", "wakesleep", "mcem", "mcem-side-file"])
def test_old_checkpoints_restore_as_the_algorithm_they_were_saved_with(tmp_path, algorithm, old):
    straight, resumed = straight_and_resumed(tmp_path, algorithm, old=old)
    assert_same_run(straight, resumed, 48)
    checkpoint.save(tmp_path, resumed.model, resumed)   # saving over it writes today's format
    assert sorted(p.name for p in tmp_path.iterdir()) == [checkpoint.FILE]
    assert read_all(tmp_path)[1]["algorithm"] == algorithm


def test_old_side_chains_of_another_save_are_refused(tmp_path):
    trainer = make("mcem")
    trainer.run(32, eval_every=32)
    checkpoint.save(tmp_path, trainer.model, trainer)
    old_mcem_side_file(tmp_path, trainer)
    np.savez(tmp_path / "mcem_chains.npz", chain_z=trainer.chain_z,
             chain_step_size=trainer.chain_step_size, samples=np.int64(16))
    with pytest.raises(checkpoint.CheckpointError, match="mcem_chains.npz: samples is 16.*at 32"):
        checkpoint.restore_trainer(tmp_path, X_TRAIN, X_TEST)


# -- damage and mismatch ----------------------------------------------------------------------

def _set(key, value, where=()):
    def change(meta):
        d = meta
        for k in where:
            d = d[k]
        d[key] = value
    return change


@pytest.mark.parametrize("change, field", [
    (_set("algorithm", 3), "algorithm must be str or null"),
    (_set("algorithm", ["mcem"]), "algorithm must be str or null"),
    (_set("algorithm", "gibbs"), "algorithm is 'gibbs', which no loaded trainer class defines"),
    (_set("algorithm", ""), "algorithm must name an algorithm"),
    (_set("algorithm", None), "algorithm must be given with a trainer"),
    (lambda m: (_without_algorithm()(m), _set("algorithm", 5, ["extra"])(m)),
     "extra.algorithm must be str"),
    (lambda m: (_without_algorithm()(m), _set("algorithm", "gibbs", ["extra"])(m)),
     "algorithm is 'gibbs'"),
], ids=["number", "list", "unknown", "empty", "null", "old-number", "old-unknown"])
def test_a_damaged_algorithm_field_is_refused_naming_it(tmp_path, change, field):
    trainer = make("wakesleep")
    trainer.run(32, eval_every=32)
    checkpoint.save(tmp_path, trainer.model, trainer)
    tamper(tmp_path, meta=change)
    assert_refused(tmp_path, field)


def test_a_model_without_a_trainer_records_no_algorithm(tmp_path):
    checkpoint.save(tmp_path, VAE(D, [6], 2, seed=0))
    assert checkpoint.load(tmp_path).algorithm is None
    tamper(tmp_path, meta=_set("algorithm", "aevb"))
    assert_refused(tmp_path, "algorithm must be given with a trainer and null without one",
                   call=lambda: checkpoint.load(tmp_path))


def test_restore_refuses_another_algorithm_than_asked(tmp_path):
    trainer = make("wakesleep")
    checkpoint.save(tmp_path, trainer.model, trainer)
    with pytest.raises(ValueError, match="algorithm 'wakesleep', not 'aevb'"):
        checkpoint.restore_trainer(tmp_path, X_TRAIN, X_TEST, algorithm="aevb")
    assert type(checkpoint.restore_trainer(tmp_path, X_TRAIN, X_TEST,
                                           algorithm="wakesleep")) is WakeSleepTrainer


# -- a new algorithm is one subclass ----------------------------------------------------------

def test_a_new_algorithm_saves_and_resumes_its_own_state(tmp_path):
    """The worked example of adding a training algorithm: a subclass names its ``algorithm`` and,
    if it keeps state of its own, its ``extra_arrays``/``restore_extra``; checkpoints and resumes
    then work for it with no other change."""
    class CountingTrainer(Trainer):
        """AEVB that counts how often each training row was drawn."""
        algorithm = "counting (test)"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.visits = np.zeros(len(self.X_train), dtype=np.int64)

        def _next_batch(self):
            batch = super()._next_batch()
            self.visits[self.perm[self.pos - len(batch):self.pos]] += 1
            return batch

        def extra_arrays(self):
            return {"visits": self.visits}

        def restore_extra(self, arrays):
            self.visits[...] = arrays["visits"]

    try:
        assert TRAINERS["counting (test)"] is CountingTrainer
        runs = [CountingTrainer(VAE(D, [6], 2, seed=0), X_TRAIN, X_TEST, batch_size=16, seed=4)
                for _ in range(2)]
        runs[0].run(160, eval_every=32)
        runs[1].run(48, eval_every=32)
        checkpoint.save(tmp_path, runs[1].model, runs[1])
        resumed = checkpoint.restore_trainer(tmp_path, X_TRAIN, X_TEST)
        assert type(resumed) is CountingTrainer and resumed.visits.sum() == 48
        resumed.run(160, eval_every=32)
        assert_same_run(runs[0], resumed, 48)
        np.testing.assert_array_equal(resumed.visits, runs[0].visits)
        with pytest.raises(ValueError, match="'counting \\(test\\)' is taken by .*CountingTrainer"):
            class Impostor(Trainer):
                algorithm = "counting (test)"
    finally:
        TRAINERS.pop("counting (test)", None)
