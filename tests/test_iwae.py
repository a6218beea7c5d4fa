"""``minivae reproduce iwae``: the IWAE paper's schedule, initialization, active units, a resumed
run equal to an uninterrupted one, and the command end to end on tiny budgets of the real MNIST."""
import json
import os
import signal
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from minivae.fused.engine import fast_path
from minivae import VAE
from minivae.training import checkpoint
from minivae.cli.commands import build_parser, main
from minivae.experiments import iwae
from minivae.experiments.active_units import count_active, latent_activity
from minivae.experiments.glorot import glorot_uniform
from minivae.experiments.iwae_schedule import N_STAGES, stage_lr, stages
from minivae.training.runlock import RunLocked, lock_run
from minivae.training.trainer import Trainer

TINY = iwae.IwaeSettings(n_stages=2, k=5, n_train=100, n_test=40, eval_train_size=40,
                         checkpoint_every=60)
"""Two stages (1 + 3 passes over 100 images = 20 steps of 20), a checkpoint every 3 steps."""
TIMING = ("eval_seconds", "train_seconds", "examples_per_second")


# -- the pieces -------------------------------------------------------------------------------
def test_schedule_is_3_to_the_i_passes_at_the_papers_step_sizes():
    schedule = stages(60_000)
    assert [s.passes for s in schedule] == [1, 3, 9, 27, 81, 243, 729, 2187]
    assert sum(s.passes for s in schedule) == 3280
    assert schedule[-1].end == 3280 * 60_000 and schedule[0].start == 0
    assert all(a.end == b.start for a, b in zip(schedule, schedule[1:]))
    assert [s.end - s.start for s in schedule] == [s.passes * 60_000 for s in schedule]
    lrs = np.array([s.lr for s in schedule])
    assert lrs[0] == 1e-3 and lrs[-1] == pytest.approx(1e-3 * 10 ** -1, rel=1e-12)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], 10 ** (-1 / 7), rtol=1e-12)
    assert stage_lr(6) == pytest.approx(1.3894954943731375e-4, rel=1e-12)  # 1e-3 * 10**(-6/7)
    assert stages(1000, 3)[-1].end == 13_000
    with pytest.raises(ValueError, match="8 stages"):
        stages(60_000, N_STAGES + 1)


def test_glorot_uniform_bounds_weights_by_fan_in_and_out_and_zeros_biases():
    model = glorot_uniform(VAE(784, [200, 200], 50, seed=0), np.random.default_rng(1))
    for name, p in model.params.items():
        if p.ndim == 1:
            assert not p.any(), name
            continue
        limit = np.sqrt(6 / sum(p.shape))
        assert np.abs(p).max() <= limit and np.abs(p).max() > 0.99 * limit, name
        assert np.var(p) == pytest.approx(limit ** 2 / 3, rel=0.05), name  # U(-a, a): a^2 / 3
    assert model.params["enc.W1"].base is not None  # still views of the flat buffer


def test_pixel_logits_are_the_logits_of_the_clipped_pixel_means():
    X = np.array([[0.0, 0.5, 1.0], [0.0, 0.3, 1.0]])
    mean = np.array([0.001, 0.4, 0.999])
    np.testing.assert_allclose(iwae.pixel_logits(X), np.log(mean / (1 - mean)), rtol=1e-12)


def test_the_pixel_logits_start_changes_only_the_decoders_output_bias():
    X = np.random.default_rng(1).random((30, 784))
    zero = iwae._new_trainer(TINY, X, None, []).model.params
    logits = iwae._new_trainer(replace(TINY, output_bias="pixel-logits"), X, None, []).model.params
    for name, p in zero.items():
        if name == "dec.b_logits":
            assert not p.any()
            np.testing.assert_array_equal(logits[name], iwae.pixel_logits(X))
        else:
            np.testing.assert_array_equal(logits[name], p, err_msg=name)
    with pytest.raises(ValueError, match="output_bias must be one of"):
        iwae._new_trainer(replace(TINY, output_bias="mean"), X, None, [])


def test_active_units_count_the_encoder_means_whose_variance_over_x_exceeds_0_01():
    """Identity encoder: mu_j = s_j x_j with x_j a fair coin, so A_j = s_j^2 / 4 exactly."""
    model = VAE(4, 4, 4, activation="identity", seed=0)
    for name, p in model.params.items():
        p[...] = 0.0
    model.params["enc.W1"][...] = np.eye(4)
    s = np.sqrt([0.08, 0.0399, 0.0401, 0.0])           # A = 0.02, 0.009975, 0.010025, 0
    model.params["enc.W_mu"][...] = np.diag(s)
    model.params["enc.b_mu"][...] = [3.0, -1.0, 0.5, 7.0]  # a shift moves no mean's variance
    X = np.tile([[0.0, 1, 1, 0], [1, 0, 0, 1]], (50, 1))
    activity = latent_activity(model, X, batch_size=7)
    np.testing.assert_allclose(activity, s ** 2 / 4, rtol=1e-12, atol=1e-15)
    assert count_active(activity) == 2


def test_the_two_layer_model_trains_with_adam_on_the_fused_path():
    """The run's Trainer takes the fused step: two hidden layers per side and Adam go through
    the fused engine's fast path (no fall-back to the reference path)."""
    calls = []
    X = (np.random.default_rng(0).random((40, 784)) < 0.2).astype(float)
    trainer = iwae._new_trainer(TINY, X, None, [])
    fused = fast_path(trainer.model).loss_and_grad_parts
    fast_path(trainer.model).loss_and_grad_parts = lambda *a: calls.append(1) or fused(*a)
    trainer.model.loss_and_grads = None  # the reference path would fail
    trainer.step()
    assert calls == [1] and trainer.model.n_hidden == [200, 200]
    assert type(trainer.optimizer).__name__ == "Adam" and trainer.optimizer.epsilon == 1e-4
    assert trainer.opt_state["enc.W2"]["t"] == 1 and not trainer.weight_prior


# -- the run ----------------------------------------------------------------------------------
def _strip(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


class Killed(Exception):
    pass


def test_a_killed_run_resumes_to_the_same_bits_as_an_uninterrupted_one(tmp_path, monkeypatch):
    whole = iwae.reproduce_iwae(tmp_path / "whole", TINY, quiet=True)
    step = Trainer.step
    calls = []

    def dies_at_step_13(self):
        calls.append(1)
        if len(calls) == 13:   # 260 samples: stage 2, after the checkpoint at 240
            raise Killed
        return step(self)

    monkeypatch.setattr(Trainer, "step", dies_at_step_13)
    with pytest.raises(Killed):
        iwae.reproduce_iwae(tmp_path / "cut", TINY, quiet=True)
    monkeypatch.setattr(Trainer, "step", step)
    meta = checkpoint.read_meta(tmp_path / "cut")
    assert meta["trainer"]["samples"] == 240 and meta["extra"]["stage"] == 1
    assert meta["optimizer"]["lr"] == stage_lr(1)
    assert len(json.loads((tmp_path / "cut" / "iwae.json").read_text())["stages"]) == 1
    resumed = iwae.reproduce_iwae(tmp_path / "cut", TINY, quiet=True)
    assert _strip(resumed) == _strip(whole)
    a, b = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "cut")
    for name in a.model.params:
        assert np.array_equal(a.model.params[name], b.model.params[name]), name
        for slot in a.opt_state[name]:
            assert np.array_equal(a.opt_state[name][slot], b.opt_state[name][slot]), (name, slot)
    assert a.trainer["rng_state"] == b.trainer["rng_state"] and a.trainer["samples"] == 400


def test_ctrl_c_saves_after_the_current_step_and_the_run_resumes_to_the_same_bits(tmp_path,
                                                                                   monkeypatch):
    whole = iwae.reproduce_iwae(tmp_path / "whole", TINY, quiet=True)
    step = Trainer.step
    calls = []

    def ctrl_c_in_step_13(self):
        calls.append(1)
        bound = step(self)
        if len(calls) == 13:
            os.kill(os.getpid(), signal.SIGINT)
        return bound

    monkeypatch.setattr(Trainer, "step", ctrl_c_in_step_13)
    with pytest.raises(KeyboardInterrupt):
        iwae.reproduce_iwae(tmp_path / "cut", TINY, quiet=True)
    monkeypatch.setattr(Trainer, "step", step)
    assert checkpoint.read_meta(tmp_path / "cut")["trainer"]["samples"] == 260  # not 240
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert _strip(iwae.reproduce_iwae(tmp_path / "cut", TINY, quiet=True)) == _strip(whole)


def test_a_finished_stage_is_read_not_retrained_and_more_stages_continue(tmp_path, monkeypatch):
    one = iwae.reproduce_iwae(tmp_path, replace(TINY, n_stages=1), quiet=True)
    monkeypatch.setattr(iwae, "evaluate_stage", lambda *a: pytest.fail("stage 1 re-evaluated"))
    monkeypatch.setattr(Trainer, "step", lambda self: pytest.fail("retrained"))
    again = iwae.reproduce_iwae(tmp_path, replace(TINY, n_stages=1), quiet=True)
    assert again == one
    monkeypatch.undo()
    both = iwae.reproduce_iwae(tmp_path, TINY, quiet=True)
    assert both[0] == one[0] and both[1]["samples"] == 400


def test_the_checkpoints_elapsed_time_counts_only_wall_time(tmp_path, monkeypatch):
    """With the run's clock stopped, a fresh run has taken no time. (The elapsed time saved in
    stage 3 once added stage 2's training seconds: a variable reused in the stage loop.)"""
    monkeypatch.setattr(iwae, "time", SimpleNamespace(perf_counter=lambda: 100.0))
    iwae.reproduce_iwae(tmp_path, replace(TINY, n_stages=3), quiet=True)
    assert checkpoint.read_meta(tmp_path)["extra"]["elapsed"] == 0.0


def test_a_directory_with_other_settings_is_refused(tmp_path):
    iwae.reproduce_iwae(tmp_path, replace(TINY, n_stages=1), quiet=True)
    for change in ({"seed": 1}, {"k": 6}, {"dtype": "float32"}, {"output_bias": "pixel-logits"}):
        with pytest.raises(ValueError, match="holds an iwae run with " + next(iter(change))):
            iwae.reproduce_iwae(tmp_path, replace(TINY, **change), quiet=True)


def test_a_run_saved_before_the_output_bias_option_continues_as_zero(tmp_path, monkeypatch):
    identity = iwae.IwaeSettings.identity
    old = lambda self: {k: v for k, v in identity(self).items() if k != "output_bias"}  # noqa: E731
    monkeypatch.setattr(iwae.IwaeSettings, "identity", old)
    one = iwae.reproduce_iwae(tmp_path, replace(TINY, n_stages=1), quiet=True)
    assert "output_bias" not in json.loads((tmp_path / "iwae.json").read_text())["settings"]
    monkeypatch.undo()
    assert iwae.reproduce_iwae(tmp_path, TINY, quiet=True)[0] == one[0]
    with pytest.raises(ValueError, match="holds an iwae run with output_bias 'zero'"):
        iwae.reproduce_iwae(tmp_path, replace(TINY, output_bias="pixel-logits"), quiet=True)


def test_a_run_directory_in_use_or_holding_another_experiment_is_refused(tmp_path):
    with lock_run(tmp_path / "busy"):
        with pytest.raises(RunLocked, match="in use"):
            iwae.reproduce_iwae(tmp_path / "busy", TINY, quiet=True)
    assert not checkpoint.exists(tmp_path / "busy")
    model = VAE(784, 8, 2)
    trainer = Trainer(model, np.zeros((20, 784)))
    checkpoint.save(tmp_path / "train", model, trainer)
    with pytest.raises(ValueError, match="another experiment"):
        iwae.reproduce_iwae(tmp_path / "train", TINY, quiet=True)


# -- the command ------------------------------------------------------------------------------
def test_fast_command_runs_end_to_end_and_writes_strict_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["reproduce", "iwae", "--fast", "--stages", "2", "--k", "10", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "after stage 2/8 (4 passes): test NLL" in printed and "86.76" in printed
    results = json.loads((out / "iwae.json").read_text())
    assert results["paper"]["test_nll"] == 86.76 and results["settings"]["k"] == 10
    assert [r["samples"] for r in results["stages"]] == [1000, 4000]
    for r in results["stages"]:
        assert r["test_nll"] > 0 and r["test_elbo"] < -r["test_nll"] + 1.0  # NLL <~ -ELBO
        assert 0 <= r["active_units"] <= 50 and len(r["activity"]) == 50
    assert results["protocol"]["optimizer"] == {"name": "adam", "beta1": 0.9, "beta2": 0.999,
                                                "epsilon": 1e-4}
    meta = checkpoint.read_meta(out)
    assert meta["extra"]["experiment"] == "iwae" and meta["model"]["n_hidden"] == [200, 200]


@pytest.mark.parametrize("argv, message", [
    (["--stages", "9"], "--stages 9: the schedule has 8 stages at most"),
    (["--fast", "--stages", "4"], "--stages 4: --fast runs 3 stages at most"),
])
def test_too_many_stages_are_refused_in_one_line(argv, message, tmp_path, capsys):
    assert main(["reproduce", "iwae", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not checkpoint.exists(tmp_path)


@pytest.mark.parametrize("argv", [["--stages", "0"], ["--k", "0"], ["--k", "1.5"],
                                  ["--dtype", "float16"], ["--seed", "-1"],
                                  ["--checkpoint-every", "0"], ["--output-bias", "mean"], []])
def test_bad_arguments_are_refused_by_the_parser(argv):
    out = [] if argv == [] else ["--out", "x"]   # [] : --out is required
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "iwae", *argv, *out])


def test_output_bias_reaches_the_runs_settings(tmp_path, monkeypatch):
    from minivae.cli import reproduce
    seen = []
    record = {"stage": 0, "total_passes": 1, "test_nll": 90.0, "k": 5, "active_units": 3}
    monkeypatch.setattr(reproduce, "reproduce_iwae",
                        lambda out, settings, quiet: seen.append(settings) or [record])
    for argv, expected in (([], "zero"), (["--output-bias", "pixel-logits"], "pixel-logits")):
        assert main(["reproduce", "iwae", "--fast", *argv, "--out", str(tmp_path)]) == 0
        assert seen.pop().output_bias == expected


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert main(["reproduce", "iwae", "--fast", "--out", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err
