"""Tests for minivae.training.trainer (Algorithm 1: Trainer, train, Callback, Record) and minivae.training.progress.

Everything runs on small synthetic data: 200 rows of D = 16 grey values around a few
binary prototypes (Bernoulli decoder), or values in (0, 1) around a few grey prototypes
(Gaussian decoder, Frey-Face-like), with tiny models.
"""
import io
import json

import numpy as np
import pytest

from minivae.fused.engine import fast_path
from minivae import flat
from minivae.fused.backend import BACKENDS, use_backend
from minivae.datasets import binarize_fixed
from minivae.gradcheck import check_params
from minivae.model import VAE
from minivae.optim import SGD, Adagrad, Adam
from minivae.prior import log_prior_forward
from minivae.training.progress import ProgressPrinter, format_seconds
from minivae.training.trainer import Callback, Record, Trainer, train


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request):
    """Every test here runs on both backends (they share one source of maths)."""
    with use_backend(request.param):
        yield request.param


D = 16


def prototype_data(N=200, K=4, seed=0):
    """Grey values in [0, 1]: each row is one of K binary prototypes, pushed to 0.05 / 0.95."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((K, D)) < 0.5).astype(float)
    X = prototypes[rng.integers(K, size=N)]
    return np.clip(0.05 + 0.9 * X + 0.03 * rng.standard_normal((N, D)), 0.0, 1.0)


def frey_like_data(N=200, K=4, seed=0):
    """Values strictly inside (0, 1) around K grey prototypes, like Frey Face pixels / 256."""
    rng = np.random.default_rng(seed)
    prototypes = 0.1 + 0.8 * rng.random((K, D))
    X = prototypes[rng.integers(K, size=N)] + 0.03 * rng.standard_normal((N, D))
    return np.clip(X, 0.02, 0.98)


def tiny_model(decoder="bernoulli", seed=0, **kwargs):
    return VAE(D, 8, 2, decoder=decoder, seed=seed, **kwargs)


def make_trainer(X=None, seed=1, **kwargs):
    X = prototype_data() if X is None else X
    kwargs = {"optimizer": Adagrad(lr=0.1), "batch_size": 20, "seed": seed, **kwargs}
    return Trainer(kwargs.pop("model", None) or tiny_model(), X, **kwargs)


def spy_on_batches(model):
    """Record the (X, eps) of every loss computation the trainer makes (fused or reference)."""
    seen, original, fused = [], model.loss_and_grads, fast_path(model).loss_and_grad_parts

    def spy(X, eps, estimator="B", validate=True):
        seen.append((np.array(X, copy=True), np.array(eps, copy=True)))
        return original(X, eps, estimator, validate)

    def spy_fused(X, eps):
        seen.append((np.array(X, copy=True), np.array(eps, copy=True)))
        return fused(X, eps)

    model.loss_and_grads = spy
    fast_path(model).loss_and_grad_parts = spy_fused
    return seen, original


def bounds(history):
    """Everything in the records except wall time (which differs from run to run)."""
    return [(r.samples, r.train_bound, r.test_bound) for r in history]


# ----------------------------------------------------------------------------------------
# It learns
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("estimator", ["A", "B"])
def test_bernoulli_training_raises_the_bound(budget, estimator):
    X = prototype_data()
    trainer = train(tiny_model(), X, X_test=prototype_data(50, seed=0), samples=budget(6000, 3000),
                    eval_every=1000, optimizer=Adagrad(lr=0.2), batch_size=20, seed=2,
                    estimator=estimator)
    start, end = trainer.history[0], trainer.history[-1]
    # learning only the pixel marginals gains about 1 nat; 2 nats need the latent code
    assert end.train_bound > start.train_bound + 2.0, bounds(trainer.history)
    assert end.test_bound > start.test_bound + 2.0
    assert all(np.isfinite(r.train_bound) for r in trainer.history)


def test_gaussian_decoder_trains_on_frey_like_data(budget):
    X = frey_like_data()
    trainer = train(tiny_model("gaussian"), X, samples=budget(4000, 2000), eval_every=1000,
                    optimizer=Adagrad(lr=0.05), batch_size=20, seed=1)
    assert trainer.binarization == "none"
    start, end = trainer.history[0].train_bound, trainer.history[-1].train_bound
    assert end > start + 5.0, bounds(trainer.history)


def test_train_returns_trainer_with_history():
    X = prototype_data()
    model = tiny_model()
    trainer = train(model, X, samples=200, eval_every=100, batch_size=20, seed=0)
    assert isinstance(trainer, Trainer) and trainer.model is model
    assert trainer.samples == 200
    assert isinstance(trainer.optimizer, Adagrad) and trainer.optimizer.lr == 0.02  # paper default
    assert [r.samples for r in trainer.history] == [0, 100, 200]
    assert all(isinstance(r, Record) and r.test_bound is None for r in trainer.history)
    assert trainer.history_dicts()[1] == {"samples": 100, "train_bound": trainer.history[1].train_bound,
                                          "test_bound": None, "wall_time": trainer.history[1].wall_time}
    assert json.loads(json.dumps(trainer.history_dicts())) == trainer.history_dicts()


# ----------------------------------------------------------------------------------------
# Determinism
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("binarization", ["dynamic", "fixed", "none"])
def test_same_seed_bit_identical_history_and_params(binarization):
    X, X_test = prototype_data(), prototype_data(40, seed=5)
    runs = []
    for _ in range(2):
        trainer = make_trainer(X, X_test=X_test, seed=3, binarization=binarization, L=2)
        trainer.run(600, eval_every=100)
        runs.append(trainer)
    a, b = runs
    assert bounds(a.history) == bounds(b.history)
    assert all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)


def test_different_seed_different_run():
    X = prototype_data()
    a, b = make_trainer(X, seed=3), make_trainer(X, seed=4)
    a.run(400, eval_every=200)
    b.run(400, eval_every=200)
    assert bounds(a.history)[-1] != bounds(b.history)[-1]
    assert all(not np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)


def test_evaluation_does_not_disturb_training_noise():
    """Evaluation draws from its own generator: evaluating more often changes nothing else."""
    X = prototype_data()
    a, b = make_trainer(X), make_trainer(X)
    a.run(400, eval_every=20)
    b.run(400, eval_every=400)
    assert all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)
    assert bounds(a.history)[-1] == bounds(b.history)[-1]


def test_evaluate_is_deterministic_for_fixed_params():
    trainer = make_trainer(X_test=prototype_data(30, seed=9))
    r1, r2 = trainer.evaluate(), trainer.evaluate()
    assert (r1.train_bound, r1.test_bound) == (r2.train_bound, r2.test_bound)
    assert trainer.history == [r1, r2]


def test_run_in_two_calls_equals_one_call():
    """``samples`` is a total budget across calls; splitting the run changes nothing."""
    X = prototype_data()
    a, b = make_trainer(X), make_trainer(X)
    a.run(600, eval_every=100)
    b.run(300, eval_every=100)
    b.run(600, eval_every=100)
    assert b.samples == 600
    assert bounds(a.history) == bounds(b.history)
    assert all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)


# ----------------------------------------------------------------------------------------
# The evaluation schedule
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size,eval_every,expected", [
    (25, 50, [0, 50, 100, 150, 200]),
    (20, 50, [0, 60, 100, 160, 200]),    # the first step at or past each multiple
    (20, 1000, [0, 200]),                # always one at the start and one at the end
    (30, 60, [0, 60, 120, 180, 210]),    # 210: the end, past the 200-sample budget
])
def test_eval_every_schedule(batch_size, eval_every, expected):
    trainer = make_trainer(batch_size=batch_size)
    history = trainer.run(200, eval_every=eval_every)
    assert history is trainer.history
    assert [r.samples for r in history] == expected
    assert trainer.samples == expected[-1]


def test_default_eval_every_is_a_twentieth_of_the_budget():
    trainer = make_trainer(batch_size=10)
    trainer.run(400)
    assert [r.samples for r in trainer.history] == list(range(0, 401, 20))


def test_default_eval_every_is_at_least_one_batch():
    trainer = make_trainer(batch_size=20)
    trainer.run(100)
    assert [r.samples for r in trainer.history] == [0, 20, 40, 60, 80, 100]


def test_zero_samples_evaluates_once():
    trainer = make_trainer()
    trainer.run(0)
    assert [r.samples for r in trainer.history] == [0]


def test_wall_time_and_samples_are_monotone():
    trainer = make_trainer()
    trainer.run(400, eval_every=40)
    times = [r.wall_time for r in trainer.history]
    assert times[0] == 0.0 and times == sorted(times) and trainer.wall_time >= times[-1]


@pytest.mark.parametrize("bad", [0, -5])
def test_bad_eval_every(bad):
    with pytest.raises(ValueError, match="eval_every"):
        make_trainer().run(100, eval_every=bad)


def test_negative_samples():
    with pytest.raises(ValueError, match="samples must be non-negative"):
        make_trainer().run(-1)


# ----------------------------------------------------------------------------------------
# Minibatches
# ----------------------------------------------------------------------------------------

def test_minibatches_are_epochs_of_a_shuffle_dropping_the_last_partial_batch():
    rng = np.random.default_rng(0)
    X = rng.random((50, D))  # distinct rows, so a row identifies its index
    index = {row.tobytes(): i for i, row in enumerate(X)}
    model = tiny_model()
    seen, _ = spy_on_batches(model)
    trainer = Trainer(model, X, batch_size=20, binarization="none", seed=0, L=3)
    trainer.run(120, eval_every=1000)
    assert len(seen) == 6
    rows = [[index[r.tobytes()] for r in batch] for batch, _ in seen]
    for epoch in (rows[0:2], rows[2:4], rows[4:6]):  # 2 full batches per epoch of 50 rows
        flat = epoch[0] + epoch[1]
        assert len(set(flat)) == 40
    assert rows[0:2] != rows[2:4]  # reshuffled each epoch
    assert all(eps.shape == (3, 20, 2) for _, eps in seen)  # L samples of eps per datapoint


def test_batch_size_is_capped_at_the_dataset_size():
    trainer = make_trainer(prototype_data(30), batch_size=100)
    assert trainer.batch_size == 30
    trainer.run(60, eval_every=30)
    assert [r.samples for r in trainer.history] == [0, 30, 60]


# ----------------------------------------------------------------------------------------
# Binarization
# ----------------------------------------------------------------------------------------

def test_dynamic_binarization_draws_fresh_binary_minibatches():
    X = np.full((20, D), 0.5)
    X_before = X.copy()
    model = tiny_model()
    seen, _ = spy_on_batches(model)
    trainer = Trainer(model, X, batch_size=20, seed=0)
    assert trainer.binarization == "dynamic"  # the default for a Bernoulli decoder
    trainer.run(60, eval_every=1000)
    assert len(seen) == 3
    for batch, _ in seen:
        assert set(np.unique(batch)) == {0.0, 1.0}
    assert not np.array_equal(seen[0][0], seen[1][0])  # a new sample every time
    np.testing.assert_array_equal(trainer.X_train, X_before)  # the grey data is kept
    np.testing.assert_array_equal(X, X_before)


def test_fixed_binarization_trains_on_one_binarization():
    X = prototype_data(40)
    X_before = X.copy()
    model = tiny_model()
    seen, _ = spy_on_batches(model)
    trainer = Trainer(model, X, batch_size=20, binarization="fixed", seed=0)
    assert set(np.unique(trainer.X_train)) <= {0.0, 1.0}
    np.testing.assert_array_equal(trainer.X_train, binarize_fixed(X))
    np.testing.assert_array_equal(X, X_before)  # the caller's array is not touched
    trainer.run(80, eval_every=1000)
    train_rows = {row.tobytes() for row in trainer.X_train}
    for batch, _ in seen:
        assert all(row.tobytes() in train_rows for row in batch)
    # four batches = two epochs over the same 40 binary images
    assert sorted(r.tobytes() for r in np.concatenate([seen[0][0], seen[1][0]])) == \
        sorted(r.tobytes() for r in np.concatenate([seen[2][0], seen[3][0]]))


def test_fixed_binarization_train_bound_scores_the_training_images():
    X = prototype_data(50)
    trainer = Trainer(tiny_model(), X, binarization="fixed", eval_train_size=20, seed=0)
    train_rows = {row.tobytes() for row in trainer.X_train}
    eval_rows = trainer._eval_train  # private: the rows the train bound is computed on
    assert len(eval_rows) == 20
    assert all(row.tobytes() in train_rows for row in eval_rows)


def test_no_binarization_trains_on_grey_values():
    X = prototype_data(40)
    model = tiny_model()
    seen, _ = spy_on_batches(model)
    trainer = Trainer(model, X, batch_size=20, binarization="none", seed=0)
    trainer.run(40, eval_every=1000)
    grey_rows = {row.tobytes() for row in X}
    for batch, _ in seen:
        assert all(row.tobytes() in grey_rows for row in batch)
        assert np.any((batch > 0) & (batch < 1))


def test_gaussian_decoder_defaults_to_no_binarization():
    trainer = Trainer(tiny_model("gaussian"), frey_like_data(), seed=0)
    assert trainer.binarization == "none"


# ----------------------------------------------------------------------------------------
# The weight prior (Algorithm 1: gradient of L^M + log p(theta, phi), per datapoint)
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("weight_prior", [True, False])
def test_step_gradient_is_loss_plus_prior_over_N(weight_prior):
    X = prototype_data(60)
    N, lr = len(X), 0.1
    model = tiny_model(init_std=0.3)
    seen, loss_and_grads = spy_on_batches(model)
    trainer = Trainer(model, X, optimizer=SGD(lr=lr), batch_size=20, weight_prior=weight_prior,
                      binarization="none", seed=0)
    before = {k: p.copy() for k, p in model.params.items()}
    bound = trainer.step()
    after = {k: p.copy() for k, p in model.params.items()}
    Xb, eps = seen[0]
    for k in before:  # back to the parameters the step saw
        model.params[k][...] = before[k]
    loss, grads = loss_and_grads(Xb, eps, "B")
    assert bound == pytest.approx(-loss, rel=1e-12)  # the step runs the fused path
    expected = {k: g + (before[k] / N if weight_prior else 0.0) for k, g in grads.items()}
    for k in before:
        np.testing.assert_allclose(after[k], before[k] - lr * expected[k], rtol=1e-12, atol=1e-15)
    # and that gradient is the derivative of  loss - log p(theta, phi) / N  (finite differences)
    scale = 1.0 / N if weight_prior else 0.0
    objective = lambda: loss_and_grads(Xb, eps, "B")[0] - scale * log_prior_forward(model.params)[0]
    report = check_params(objective, model.params, expected, h=1e-3, order=4, tol=1e-6)
    assert report.passed, str(report)


# ----------------------------------------------------------------------------------------
# Callbacks
# ----------------------------------------------------------------------------------------

class Recorder(Callback):
    def __init__(self):
        self.steps, self.evals, self.ends = [], [], 0

    def on_step(self, trainer, bound):
        self.steps.append((trainer.samples, bound))

    def on_eval(self, trainer, record):
        self.evals.append(record)

    def on_end(self, trainer):
        self.ends += 1


def test_callback_hooks():
    rec = Recorder()
    trainer = make_trainer(callbacks=[rec])
    trainer.run(200, eval_every=50)
    assert len(rec.evals) == len(trainer.history)
    assert all(a is b for a, b in zip(rec.evals, trainer.history))
    assert [s for s, _ in rec.steps] == list(range(20, 201, 20))
    assert all(np.isfinite(b) and b < 0 for _, b in rec.steps)  # minibatch bounds, nats
    assert rec.ends == 1


def test_plain_function_callback_gets_every_record():
    calls = []
    trainer = make_trainer(callbacks=[lambda t, r: calls.append((t, r))])
    trainer.run(100, eval_every=40)
    assert [r for _, r in calls] == trainer.history
    assert all(t is trainer for t, _ in calls)


def test_stop_from_on_step_ends_the_run_early():
    class StopAt(Callback):
        def __init__(self):
            self.armed = True

        def on_step(self, trainer, bound):
            if self.armed and trainer.samples >= 60:
                trainer.stop, self.armed = True, False

    rec = Recorder()
    trainer = make_trainer(callbacks=[StopAt(), rec])
    trainer.run(1000, eval_every=100)
    assert trainer.samples == 60
    assert [r.samples for r in trainer.history] == [0, 60]  # a final record where it stopped
    assert rec.ends == 1
    trainer.run(100, eval_every=100)  # stop is reset: a new run goes on
    assert trainer.samples == 100


def test_nan_parameter_mid_run_stops_loudly():
    class Corrupt(Callback):
        def on_step(self, trainer, bound):
            if trainer.samples == 60:
                trainer.model.params["enc.W1"][0, 0] = np.nan

    trainer = make_trainer(callbacks=[Corrupt()])
    with np.errstate(invalid="ignore"), pytest.raises(FloatingPointError,
                                                      match="non-finite loss after 60 samples"):
        trainer.run(1000, eval_every=1000)
    assert trainer.samples == 60  # the bad step was not counted


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_huge_step_size_stops_loudly(decoder):
    X = prototype_data() if decoder == "bernoulli" else frey_like_data()
    trainer = make_trainer(X, model=tiny_model(decoder), optimizer=SGD(lr=1e6))
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError,
                                                  match=r"non-finite .*smaller step size than lr=1000000"):
        trainer.run(2000, eval_every=2000)


# ----------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------

def test_trainer_config_json_ready():
    trainer = make_trainer(L=2, estimator="a", eval_L=3, eval_train_size=50, seed=7)
    config = trainer.config()
    assert json.loads(json.dumps(config)) == config
    assert config == {"batch_size": 20, "L": 2, "estimator": "A", "weight_prior": True,
                      "binarization": "dynamic", "seed": 7, "eval_L": 3, "eval_train_size": 50,
                      "n_train": 200, "engine": "fused"}


def test_trainer_default_optimizer_is_paper_adagrad():
    trainer = Trainer(tiny_model(), prototype_data(), seed=0)
    assert isinstance(trainer.optimizer, Adagrad) and trainer.optimizer.lr == 0.02
    assert trainer.batch_size == 100 and trainer.L == 1 and trainer.estimator == "B"
    assert trainer.weight_prior is True


def test_adam_optimizer_trains(budget):
    trainer = make_trainer(optimizer=Adam(lr=0.02))
    trainer.run(budget(3000, 2000), eval_every=1000)
    assert trainer.history[-1].train_bound > trainer.history[0].train_bound + 0.5


# ----------------------------------------------------------------------------------------
# minivae.training.progress (a Callback; it has no test file of its own)
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds,text", [(0, "0s"), (0.4, "0s"), (59.4, "59s"), (59.6, "1m00s"),
                                          (75.2, "1m15s"), (3599, "59m59s"), (3600, "1h00m"),
                                          (3700, "1h01m"), (90061, "25h01m")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_progress_printer_lines():
    stream = io.StringIO()
    trainer = make_trainer(X_test=prototype_data(30, seed=3),
                           callbacks=[ProgressPrinter(200, interval=0.0, stream=stream)])
    trainer.run(200, eval_every=100)
    lines = stream.getvalue().splitlines()
    progress = [line for line in lines if "samples/s" in line]
    evals = [line for line in lines if line.startswith("eval @")]
    assert len(progress) == 9  # every step after the first, which starts the clock
    assert all("left" in line and "minibatch bound" in line for line in progress)
    assert progress[-1].startswith("[100.0%] 200/200 samples")
    assert len(evals) == len(trainer.history) == 3
    assert "test bound" in evals[0] and "train bound" in evals[0]


def test_progress_printer_respects_interval():
    stream = io.StringIO()
    trainer = make_trainer(callbacks=[ProgressPrinter(200, interval=3600.0, stream=stream)])
    trainer.run(200, eval_every=1000)
    lines = stream.getvalue().splitlines()
    assert not any("samples/s" in line for line in lines)
    assert len(lines) == 2  # the two evaluations


@pytest.mark.parametrize("pack", [True, False])
def test_check_names_the_non_finite_tensors(pack):
    trainer = make_trainer()
    grads = {k: np.zeros_like(p) for k, p in trainer.model.params.items()}
    grads = flat.pack(grads) if pack else grads  # one pass over a shared buffer, or per tensor
    assert trainer._nonfinite(grads) == []
    grads["dec.b1"][0] = np.inf
    assert trainer._nonfinite(grads) == ["dec.b1"]



def test_fused_update_of_the_shards_gives_the_same_training_bit_for_bit():
    """Two shards (batch 100 on two threads): the optimizer adding the checked shards as it
    updates gives the history and parameters of summing, checking and updating."""
    from minivae.fused.kernels import blas, threads
    if not blas.available():
        pytest.skip("sharding needs an OpenBLAS whose threads can be set")
    X = prototype_data(300)
    before = threads.get_threads()
    threads.set_threads(2)
    try:
        with use_backend("numba"):
            runs = []
            for fused in (True, False):
                trainer = make_trainer(X, model=VAE(16, 8, 2, seed=0), batch_size=100)
                assert fast_path(trainer.model).n_shards(100) == 2
                calls = []
                update_sum = trainer._engine.update_sum
                trainer._engine.update_sum = (lambda *a: calls.append(1) or update_sum(*a)) if fused \
                    else (lambda *a: None)
                trainer.run(3000, eval_every=1000)
                assert len(calls) == (30 if fused else 0)
                runs.append(trainer)
    finally:
        threads.set_threads(before)
    a, b = runs
    bounds = lambda t: [(r.samples, r.train_bound) for r in t.history]  # noqa: E731 - not wall_time
    assert bounds(a) == bounds(b)
    for k in a.model.params:
        np.testing.assert_array_equal(a.model.params[k], b.model.params[k], err_msg=k)


def test_nan_parameter_stops_loudly_with_sharded_steps():
    from minivae.fused.kernels import blas, threads
    if not blas.available():
        pytest.skip("sharding needs an OpenBLAS whose threads can be set")

    class Corrupt(Callback):
        def on_step(self, trainer, bound):
            if trainer.samples == 200:
                trainer.model.params["dec.W_logits"][0, 0] = np.nan

    before = threads.get_threads()
    threads.set_threads(2)
    try:
        with use_backend("numba"), np.errstate(invalid="ignore"), \
                pytest.raises(FloatingPointError, match="non-finite loss after 200 samples"):
            make_trainer(prototype_data(300), model=VAE(16, 8, 2, seed=0), batch_size=100,
                         callbacks=[Corrupt()]).run(1000, eval_every=1000)
    finally:
        threads.set_threads(before)
