"""The two engines (minivae.training.engines): the reference engine runs the readable code and nothing
else, imports no Numba, and agrees with the fused engine to float64 round-off."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minivae import VAE, Trainer
from minivae.datasets import load_mnist
from minivae.datasets.binarize import binarize_rows
from minivae.training.engines import check_engine, use_engine
from minivae.optim import SGD, Adagrad, Adam

ROOT = Path(__file__).resolve().parents[1]
CI = bool(os.environ.get("CI"))


def grey_data(N=300, D=16, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((4, D)) < 0.5
    return np.clip(0.05 + 0.9 * prototypes[rng.integers(4, size=N)] + 0.03 * rng.standard_normal((N, D)), 0, 1)


def run_both(model_kwargs, samples, X=None, **trainer_kwargs):
    """The same run on each engine: ``{engine: trainer}``."""
    X = grey_data() if X is None else X
    runs = {}
    for engine in ("reference", "fused"):
        model = VAE(X.shape[1], seed=0, **model_kwargs)
        kwargs = {"optimizer": Adagrad(lr=0.05), "batch_size": 50, "seed": 3, "eval_train_size": 100,
                  **trainer_kwargs}
        if callable(kwargs["optimizer"]):
            kwargs["optimizer"] = kwargs["optimizer"]()
        runs[engine] = Trainer(model, X, X[:100], engine=engine, **kwargs)
        runs[engine].run(samples, eval_every=samples // 4)
    return runs


def assert_round_off(runs, rtol):
    ref, fused = runs["reference"], runs["fused"]
    for a, b in zip(ref.history, fused.history, strict=True):
        assert a.samples == b.samples
        np.testing.assert_allclose(a.train_bound, b.train_bound, rtol=rtol)
        np.testing.assert_allclose(a.test_bound, b.test_bound, rtol=rtol)
    for name, p in ref.model.params.items():
        q = fused.model.params[name]
        np.testing.assert_allclose(p, q, rtol=rtol, atol=rtol * np.max(np.abs(q)), err_msg=name)


CASES = {
    "bernoulli B": ({"n_hidden": 8, "n_latent": 3}, {}),
    "bernoulli A, L=2": ({"n_hidden": 8, "n_latent": 3}, {"estimator": "A", "L": 2}),
    "gaussian B": ({"n_hidden": 8, "n_latent": 2, "decoder": "gaussian"}, {}),
    "gaussian A": ({"n_hidden": 8, "n_latent": 2, "decoder": "gaussian"}, {"estimator": "A"}),
    "3 hidden layers, softplus": ({"n_hidden": [9, 7, 5], "n_latent": 2, "activation": "softplus"}, {}),
    "fixed binarization, no prior": ({"n_hidden": 8, "n_latent": 3},
                                     {"binarization": "fixed", "weight_prior": False}),
    "adam": ({"n_hidden": 8, "n_latent": 3}, {"optimizer": lambda: Adam(lr=0.01)}),
    "sgd, L=3": ({"n_hidden": 8, "n_latent": 3}, {"optimizer": lambda: SGD(lr=0.05), "L": 3}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_engines_agree_to_round_off_over_hundreds_of_steps(case):
    model_kwargs, trainer_kwargs = CASES[case]
    runs = run_both(model_kwargs, 15_000, **trainer_kwargs)  # 300 steps
    assert runs["reference"].engine == "reference" and runs["fused"].engine == "fused"
    assert_round_off(runs, rtol=1e-9)


@pytest.mark.slow
def test_the_papers_mnist_model_trains_alike_on_both_engines():
    """784-500-20, Adagrad 0.02, batch 100, the weight prior, dynamic binarization."""
    X_train, X_test = load_mnist("train")[0], load_mnist("test")[0][:1000]
    samples = 2_000 if CI else 20_000
    runs = {}
    for engine in ("reference", "fused"):
        trainer = Trainer(VAE(784, 500, 20, seed=0), X_train, X_test, seed=0, engine=engine,
                          eval_train_size=1000)
        trainer.run(samples, eval_every=samples // 2)
        runs[engine] = trainer
    assert_round_off(runs, rtol=1e-8)


def test_the_reference_binarization_draws_the_fused_kernels_bits():
    from minivae.fused import kernels
    X = grey_data(50, 30)
    rows = np.array([4, 0, 49, 4, 17])
    ours, fused = np.empty((5, 30)), np.empty((5, 30))
    binarize_rows(X, 2**63 + 11, ours, rows)
    kernels.binarize(X, 2**63 + 11, fused, rows)
    np.testing.assert_array_equal(ours, fused)
    assert 0 < ours.mean() < 1


def test_an_unknown_engine_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown engine 'fast'; choose one of 'fused', 'reference'"):
        Trainer(VAE(16, 8, 2, seed=0), grey_data(), engine="fast")
    with pytest.raises(ValueError, match="unknown engine"):
        check_engine(None)


def test_use_engine_sets_the_default_for_a_block():
    X = grey_data()
    with use_engine("reference"):
        assert Trainer(VAE(16, 8, 2, seed=0), X).engine == "reference"
    assert Trainer(VAE(16, 8, 2, seed=0), X).engine == "fused"


REFERENCE_RUN = """
import sys
import numpy as np
import minivae
from minivae import VAE, train
rng = np.random.default_rng(0)
X = np.clip(rng.random((200, 12)), 0, 1)
model = VAE(12, 6, 2, seed=0)
loss, grads = model.loss_and_grads((X[:10] > 0.5) * 1.0, rng.standard_normal((10, 2)))
trainer = train(model, X, X[:50], samples=2000, eval_every=1000, seed=0, engine="reference",
                batch_size=20)
print("numba" in sys.modules)
print(repr([(r.train_bound, r.test_bound) for r in trainer.history]))
"""


def _reference_run(cwd, env_extra=()):
    env = {**os.environ, "PYTHONPATH": str(cwd), **dict(env_extra)}
    out = subprocess.run([sys.executable, "-c", REFERENCE_RUN], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    numba_loaded, history = out.stdout.splitlines()
    return numba_loaded == "True", history


def test_a_reference_run_does_not_import_numba():
    numba_loaded, _ = _reference_run(ROOT)
    assert not numba_loaded


def test_the_minivae_cli_trains_on_the_reference_engine_without_numba(tmp_path):
    code = ("import sys; from minivae.cli.commands import main; "
            f"status = main(['train', '--dataset', 'frey', '--samples', '400', '--eval-every', '200', "
            f"'--eval-train-size', '100', '--quiet', '--engine', 'reference', '--out', {str(tmp_path / 'run')!r}]); "
            "print(status, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["0", "False"]
    assert "engine: reference" not in out.stderr  # --quiet


# A planted bug in a teaching function must change what the reference engine trains.
PLANTED = {
    "gaussian.sample_backward: sigma where half sigma belongs":
        ("gaussian.py", "sum_to_shape(0.5 * dz * sigma * eps, mu_shape)", "sum_to_shape(dz * sigma * eps, mu_shape)"),
    "layers.affine_backward: bias gradient averaged":
        ("layers.py", "db = dout.sum(axis=0)", "db = dout.mean(axis=0)"),
    "activations: tanh' as 1 - h":
        ("activations.py", "return 1.0 - h * h", "return 1.0 - h"),
    "optim: Adagrad accumulating g instead of g squared":
        ("optim.py", "return G + g * g", "return G + np.abs(g)"),
    "prior.log_prior_backward: the weight prior's gradient with the wrong sign":
        ("prior.py", "{name: -dout * p for", "{name: dout * p for"),
    "estimators.minibatch_backward: the sum's gradient where eq. 8 scales by N / M":
        ("estimators.py", "np.full(cache.M, dout * cache.N / cache.M)", "np.full(cache.M, dout * cache.N)"),
}


@pytest.fixture(scope="module")
def clean_history():
    return _reference_run(ROOT)[1]


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_a_planted_bug_in_a_teaching_function_changes_reference_training(bug, tmp_path, clean_history):
    name, old, new = PLANTED[bug]
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "minivae", copy / "minivae", ignore=shutil.ignore_patterns("__pycache__", "data"))
    source = copy / "minivae" / name
    text = source.read_text()
    assert text.count(old) == 1, f"{old!r} is no longer in {name}: update the planted bug"
    source.write_text(text.replace(old, new))
    numba_loaded, history = _reference_run(copy)
    assert not numba_loaded
    assert history != clean_history


def test_a_checkpoint_records_the_engine_and_a_resume_keeps_it(tmp_path):
    from minivae.training.checkpoint import restore_trainer, save
    X = grey_data()
    trainer = Trainer(VAE(16, 8, 2, seed=0), X, batch_size=50, seed=1, engine="reference")
    trainer.run(500, eval_every=500)
    save(tmp_path, trainer.model, trainer)
    assert restore_trainer(tmp_path, X).engine == "reference"
    assert restore_trainer(tmp_path, X, engine="fused").engine == "fused"


@pytest.mark.parametrize("engine", ["reference", "fused"])
def test_a_new_optimizer_given_to_the_trainer_is_the_one_that_steps(engine):
    """``minivae train --resume --lr`` hands the trainer a new optimizer; the engine must use it."""
    X = grey_data()
    runs = []
    for lr in (0.05, 0.05, 0.5):
        trainer = Trainer(VAE(16, 8, 2, seed=0), X, optimizer=Adagrad(lr=0.05), batch_size=50,
                          seed=1, engine=engine)
        trainer.optimizer = Adagrad(lr=lr)
        trainer.step()
        runs.append(trainer.model.params["dec.b_logits"].copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])
