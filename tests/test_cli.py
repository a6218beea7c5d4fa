"""End-to-end tests of the ``minivae`` command line on tiny budgets of the real data."""
import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minivae.datasets import binarize_fixed, load_mnist
from minivae.experiments.active_units import latent_activity
from minivae.training import checkpoint
from minivae.cli.commands import build_parser, main

from cli_errors import one_line, refused

REPO = Path(__file__).resolve().parents[1]
FREY = ["--dataset", "frey", "--n-hidden", "20", "--n-latent", "2"]


def _train(out, *extra):
    return main(["train", "--dataset", "mnist", "--n-latent", "3", "--n-hidden", "20",
                 "--samples", "2000", "--eval-every", "1000", "--eval-train-size", "200",
                 "--seed", "1", "--out", str(out), "--quiet", *extra])


def test_train_writes_history_checkpoint_and_plot(tmp_path, capsys):
    assert _train(tmp_path / "run") == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["samples"] for r in history] == [0, 1000, 2000]
    assert all(np.isfinite(r["train_bound"]) and np.isfinite(r["test_bound"]) for r in history)
    assert history[-1]["test_bound"] > history[0]["test_bound"]
    assert (tmp_path / "run" / "bound.png").stat().st_size > 0
    assert checkpoint.load(tmp_path / "run").trainer["samples"] == 2000
    assert "test bound" in capsys.readouterr().out


def test_resume_continues_where_the_run_stopped(tmp_path):
    _train(tmp_path / "a", "--samples", "4000")
    _train(tmp_path / "b", "--samples", "2000")
    assert main(["train", "--resume", str(tmp_path / "b"), "--samples", "4000", "--quiet"]) == 0
    a, b = checkpoint.load(tmp_path / "a"), checkpoint.load(tmp_path / "b")
    for name, p in a.model.params.items():
        np.testing.assert_array_equal(p, b.model.params[name])
    assert b.trainer["history"][-1] == {**a.trainer["history"][-1],
                                        "wall_time": b.trainer["history"][-1]["wall_time"]}


def test_train_refuses_to_overwrite_a_run(tmp_path, capsys):
    _train(tmp_path / "run")
    capsys.readouterr()
    assert _train(tmp_path / "run") == 2
    assert f"--resume {tmp_path / 'run'}" in one_line(capsys.readouterr().err)


def test_evaluate_and_sample(tmp_path, capsys):
    _train(tmp_path / "run")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_train"] == 60000 and result["n_test"] == 10000
    assert result["binarization"] == "fixed"
    assert -784 * np.log(2) - 50 < result["test_bound"] < 0
    model = checkpoint.load(tmp_path / "run").model
    activity = latent_activity(model, binarize_fixed(load_mnist("test")[0]))
    assert result["n_latent"] == model.n_latent
    assert result["active_units"] == np.sum(activity > 0.01)
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    assert f"active latent units: {result['active_units']} of {model.n_latent}" in capsys.readouterr().out
    assert main(["sample", str(tmp_path / "run"), "--n", "12", "--cols", "4"]) == 0
    assert (tmp_path / "run" / "samples.png").stat().st_size > 0


def test_frey_trains_with_the_gaussian_decoder(tmp_path):
    assert main(["train", "--dataset", "frey", "--n-latent", "2", "--n-hidden", "20",
                 "--samples", "3000", "--eval-every", "1500", "--out", str(tmp_path / "f"),
                 "--quiet"]) == 0
    history = json.loads((tmp_path / "f" / "history.json").read_text())
    assert history[-1]["train_bound"] > history[0]["train_bound"]
    assert checkpoint.load(tmp_path / "f").model.decoder == "gaussian"


def test_gradcheck_command_passes_and_prints_a_table(capsys):
    assert main(["gradcheck", "--n-checks", "5"]) == 0
    out = capsys.readouterr().out
    assert "enc.W_logvar" in out and "dec.W_logits" in out and "dec.W_mean" in out
    assert "FAIL" not in out


def test_bad_arguments_are_reported():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--samples", "lots"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--dataset", "cifar"])
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "/nonexistent/run"])
    assert exit_.value.code == 2


def test_python_dash_m_help_runs():
    out = subprocess.run([sys.executable, "-m", "minivae", "train", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "--samples" in out and "Adagrad" in out


def test_bench_runs_on_a_tiny_budget(capsys):
    assert main(["bench", "--steps", "3", "--warmup", "1", "--batch-sizes", "100",
                 "--dtypes", "float32", "--no-torch", "--json", "--rounds", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    row = result["rows"][0]
    assert row["batch"] == 100 and row["numpy"] > 0 and row["numba"] > 0 and "torch" not in row
    assert result["rounds"] == 2 and len(row["per_round"]["numba"]) == 2
    assert result["compile_seconds"] > 0 and result["cached_startup_seconds"] > 0


@pytest.mark.parametrize("bad", [["--batch-sizes", "0"], ["--steps", "0"], ["--warmup", "-1"]])
def test_bench_refuses_bad_counts(bad, capsys):
    with pytest.raises(SystemExit):
        main(["bench", *bad])
    assert "must be a whole number" in capsys.readouterr().err


# -- the command line never silently changes what was asked (issue 15) --------------------------
@pytest.fixture(scope="module")
def frey_run(tmp_path_factory):
    """A tiny Frey Face run of 1000 samples, evaluated every 500."""
    out = tmp_path_factory.mktemp("cli") / "frey"
    assert main(["train", *FREY, "--samples", "1000", "--eval-every", "500", "--out", str(out),
                 "--quiet"]) == 0
    return out


@pytest.mark.parametrize("argv,named", [
    (["train", "--lr", "0"], "--lr"), (["train", "--lr", "inf"], "--lr"),
    (["train", "--n-latent", "0"], "--n-latent"), (["train", "--n-hidden", "0"], "--n-hidden"),
    (["train", "--batch-size", "0"], "--batch-size"), (["train", "--L", "0"], "--L"),
    (["train", "--eval-every", "0"], "--eval-every"), (["train", "--samples", "inf"], "--samples"),
    (["train", "--eval-train-size", "0"], "--eval-train-size"), (["train", "--seed", "-1"], "--seed"),
    (["train", "--activation", "cosh"], "--activation"),
    (["sample", "RUN", "--cols", "0"], "--cols"), (["sample", "RUN", "--n", "0"], "--n"),
    (["sample", "RUN", "--seed", "-1"], "--seed"), (["evaluate", "RUN", "--L", "0"], "--L"),
    (["evaluate", "RUN", "--seed", "-2"], "--seed"), (["gradcheck", "--n-checks", "0"], "--n-checks"),
    (["gradcheck", "--L", "0"], "--L"), (["gradcheck", "--seed", "-1"], "--seed"),
    (["reproduce", "fig2", "--seed", "-1"], "--seed"), (["reproduce", "fig3", "--seed", "-1"], "--seed"),
    (["reproduce", "manifold", "--from", "/nonexistent/run"], "--from"),
    (["evaluate", "/nonexistent/run"], "dir"), (["train", "--resume", "/nonexistent/run"], "--resume"),
])
def test_invalid_values_are_refused_naming_the_argument(argv, named, frey_run, tmp_path, capsys):
    argv = [str(frey_run) if a == "RUN" else a for a in argv]
    if argv[0] == "train" and "--resume" not in argv:  # a cheap run, if the value were accepted
        argv = ["train", "--dataset", "frey", "--samples", "0", *argv[1:], "--out", str(tmp_path / "new")]
    assert f"argument {named}" in refused(argv, capsys)
    assert not (tmp_path / "new").exists()


def test_sample_refuses_an_out_it_cannot_write_a_figure_to(frey_run, tmp_path, capsys):
    assert "is a directory" in refused(["sample", str(frey_run), "--out", str(tmp_path)], capsys)
    for name in ("grid", "grid.txt"):
        line = refused(["sample", str(frey_run), "--out", str(tmp_path / name)], capsys)
        assert f"argument --out: {tmp_path / name}: end the file name in one of .png, .pdf, .svg" in line
    assert list(tmp_path.iterdir()) == []
    assert main(["sample", str(frey_run), "--n", "4", "--out", str(tmp_path / "grid.svg")]) == 0
    assert (tmp_path / "grid.svg").read_bytes().lstrip().startswith(b"<?xml")


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", "2000"], "--batch-size 2,000 is larger than the training set (1,765"),
    (["--samples", "50"], "--samples 50 is not a whole number of minibatches"),
    (["--samples", "1000", "--eval-every", "150"], "--eval-every 150 is not a whole number"),
    (["--eval-train-size", "5000"], "--eval-train-size 5,000 is larger than the training set"),
    (["--binarization", "dynamic"], "--binarization dynamic applies to a decoder of binary data"),
])
def test_train_refuses_settings_it_would_change(argv, message, tmp_path, capsys):
    assert message in refused(["train", *FREY, "--samples", "2000", "--out", str(tmp_path / "r"),
                               *argv], capsys)


@pytest.mark.parametrize("argv,message", [
    (["fig2", "--fast", "--samples", "1000"], "--fast or --samples"),
    (["fig2", "--samples", "1000", "--pilot-samples", "2000"], "--pilot-samples 2,000 is more"),
    (["fig3", "--samples", "1000", "--start", "2000"], "--start 2,000 is after the budget"),
])
def test_reproduce_refuses_settings_it_would_change(argv, message, tmp_path, capsys):
    cheap = {"fig2": ["--dataset", "frey", "--latents", "2", "--algorithms", "aevb"],
             "fig3": ["--train-sizes", "100", "--algorithms", "aevb", "--eval-size", "5"]}
    assert message in refused(["reproduce", *argv, *cheap[argv[0]], "--n-hidden", "5",
                               "--quiet", "--out", str(tmp_path / "r")], capsys)


def test_out_naming_a_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert "--out" in refused(["train", *FREY, "--samples", "100", "--out", str(tmp_path / "f")],
                              capsys)
    assert "--out" in refused(["train", *FREY], capsys)  # --out (or --resume) is required


def test_resume_refuses_every_setting_it_cannot_honour(frey_run, capsys):
    line = refused(["train", "--resume", str(frey_run), "--batch-size", "50", "--n-latent", "3",
                    "--dtype", "float32", "--optimizer", "sgd", "--L", "2", "--estimator", "A",
                    "--no-weight-prior", "--seed", "7", "--n-hidden", "30", "--dataset", "mnist",
                    "--activation", "relu", "--eval-train-size", "100", "--decoder", "bernoulli"],
                   capsys)
    for flag in ("--batch-size 50", "--n-latent 3", "--dtype float32", "--optimizer sgd", "--L 2",
                 "--estimator A", "--no-weight-prior", "--seed 7", "--n-hidden 30",
                 "--dataset mnist", "--activation relu", "--eval-train-size 100",
                 "--decoder bernoulli"):
        assert flag in line
    assert "--samples 500 is less than" in refused(
        ["train", "--resume", str(frey_run), "--samples", "500"], capsys)


def test_resume_accepts_the_runs_own_settings_and_honours_a_new_step_size(frey_run, tmp_path,
                                                                           capsys):
    run = tmp_path / "run"
    assert main(["train", *FREY, "--samples", "1000", "--eval-every", "500", "--out", str(run),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), *FREY, "--samples", "1500", "--lr", "0.01",
                 "--batch-size", "100", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "--lr changes from 0.02 to 0.01 at 1,000 samples" in err
    ckpt = checkpoint.load(run)
    assert ckpt.optimizer.lr == 0.01
    assert {"samples": 1000, "option": "--lr", "from": 0.02, "to": 0.01} in ckpt.extra["changes"]
    assert [r["samples"] for r in ckpt.trainer["history"]] == [0, 500, 1000, 1500]


def _history(run):
    return [{k: v for k, v in r.items() if k != "wall_time"}
            for r in json.loads((run / "history.json").read_text())]


def _same_run(a, b):
    assert _history(a) == _history(b)
    pa, pb = checkpoint.load(a).model.params, checkpoint.load(b).model.params
    for name in pa:
        np.testing.assert_array_equal(pa[name], pb[name])


def test_a_plain_resume_keeps_the_evaluation_schedule(tmp_path):
    run = lambda out, samples: main(["train", *FREY, "--samples", samples, "--eval-every", "700",  # noqa: E731
                                     "--out", str(out), "--quiet"])
    assert run(tmp_path / "whole", "2100") == 0
    assert run(tmp_path / "parts", "1400") == 0
    assert main(["train", "--resume", str(tmp_path / "parts"), "--samples", "2100", "--quiet"]) == 0
    assert [r["samples"] for r in _history(tmp_path / "whole")] == [0, 700, 1400, 2100]
    _same_run(tmp_path / "whole", tmp_path / "parts")


def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly(tmp_path, monkeypatch, capsys):
    """SIGINT between two evaluations: the run stops after that step with status 130, saves it,
    and its resume ends where an uninterrupted run does."""
    from minivae.training.trainer import Trainer
    step = Trainer.step

    def step_then_interrupt(self):
        bound = step(self)
        if self.samples == 500:
            os.kill(os.getpid(), signal.SIGINT)
        return bound

    args = [*FREY, "--samples", "1400", "--eval-every", "700", "--quiet"]
    assert main(["train", *args, "--out", str(tmp_path / "whole")]) == 0
    monkeypatch.setattr(Trainer, "step", step_then_interrupt)
    capsys.readouterr()
    assert main(["train", *args, "--out", str(tmp_path / "parts")]) == 130
    err = one_line(capsys.readouterr().err)
    assert "interrupted at 500 of 1,400 samples" in err and "holds the run at 500 samples" in err
    assert err.endswith(f"minivae train --resume {tmp_path / 'parts'}")
    assert checkpoint.load(tmp_path / "parts").trainer["samples"] == 500
    monkeypatch.setattr(Trainer, "step", step)
    assert main(["train", "--resume", str(tmp_path / "parts"), "--quiet"]) == 0
    _same_run(tmp_path / "whole", tmp_path / "parts")


def test_ctrl_c_in_a_subprocess_prints_the_resume_command(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "minivae", "train", *FREY, "--samples", "1e8",
                             "--eval-every", "1e5", "--out", str(out)], cwd=REPO,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # wait until training has started
            if line.startswith("eval @ 0 samples"):
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert f"continue it with: minivae train --resume {out}" in err
    samples = checkpoint.load(out).trainer["samples"]
    assert f"holds the run at {samples:,} samples" in err


def test_damaged_checkpoints_fail_in_one_line_naming_the_run(frey_run, tmp_path, capsys):
    for name, damage in (("truncated", lambda b: b[:100]), ("empty", lambda b: b"")):
        run = tmp_path / name
        run.mkdir()
        for f in frey_run.iterdir():
            (run / f.name).write_bytes(f.read_bytes())
        (run / "checkpoint.npz").write_bytes(damage((run / "checkpoint.npz").read_bytes()))
        for argv in (["evaluate", str(run)], ["sample", str(run)], ["train", "--resume", str(run)]):
            capsys.readouterr()
            assert main(argv) == 1
            assert str(run) in one_line(capsys.readouterr().err)


def test_an_unwritable_run_directory_fails_in_one_line_naming_it(tmp_path, monkeypatch, capsys):
    def refuse(directory, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(directory / "checkpoint.npz.tmp"))

    monkeypatch.setattr(checkpoint, "save", refuse)
    assert main(["train", *FREY, "--samples", "200", "--out", str(tmp_path / "r"), "--quiet"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"{tmp_path / 'r' / 'checkpoint.npz.tmp'}: Permission denied" in line


def test_divergence_fails_in_one_line_with_the_resume_command(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *FREY, "--samples", "2000", "--lr", "1e3", "--eval-every", "100",
                 "--out", str(out), "--quiet"]) == 1
    line = one_line(capsys.readouterr().err)
    assert "non-finite" in line and f"minivae train --resume {out} --lr" in line


def test_divergence_in_a_process_prints_one_line_and_no_numpy_warnings(tmp_path):
    out = tmp_path / "r"
    result = subprocess.run([sys.executable, "-m", "minivae", "train", *FREY, "--samples", "2000",
                             "--lr", "1e3", "--eval-every", "100", "--out", str(out), "--quiet"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "non-finite" in one_line(result.stderr)


def test_debug_shows_the_traceback_and_other_errors_are_one_line(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("a defect")

    monkeypatch.setattr(checkpoint, "load", broken)
    run = tmp_path / "r"
    run.mkdir()
    assert main(["evaluate", str(run)]) == 1
    assert "unexpected RuntimeError: a defect" in one_line(capsys.readouterr().err)
    assert main(["--debug", "evaluate", str(run)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("minivae evaluate: error")


def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_command_and_option_has_help_with_its_default():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) == 19  # minivae, its 7 commands, reproduce's 7 and exercises' 4
    for parser in parsers:
        assert parser.description, parser.prog
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction,
                                   argparse._SubParsersAction)):
                continue
            assert action.help, f"{parser.prog} {action.dest}"
            if action.option_strings and action.nargs != 0:  # an option taking a value
                assert "default" in action.help or "required" in action.help, \
                    f"{parser.prog} {action.dest}: {action.help}"


def test_train_usage_says_out_or_resume_is_required():
    usage = build_parser()._subparsers._group_actions[0].choices["train"].format_usage()
    assert "(--out DIR | --resume DIR)" in usage


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    import minivae
    assert capsys.readouterr().out.strip() == f"minivae {minivae.__version__}"


def test_a_run_directory_in_use_fails_in_one_line(tmp_path, capsys):
    from minivae.training.runlock import lock_run
    with lock_run(tmp_path / "r"):
        assert main(["train", *FREY, "--samples", "200", "--out", str(tmp_path / "r"),
                     "--quiet"]) == 1
    assert f"{tmp_path / 'r'} is in use" in one_line(capsys.readouterr().err)


def test_resume_refuses_a_run_of_minivae_reproduce(frey_run, tmp_path, capsys):
    from minivae.experiments.presets import get_preset
    frey = get_preset("frey")
    trainer = checkpoint.restore_trainer(frey_run, frey.load("train"), frey.load("test"))
    run = tmp_path / "wakesleep"
    checkpoint.save(run, trainer.model, trainer,
                    extra={"dataset": "frey", "experiment": "reproduce"})
    assert "minivae reproduce" in refused(["train", "--resume", str(run)], capsys)


# -- --algorithm: wake-sleep and MCEM train and resume like AEVB (issue 16) ---------------------
ALGORITHM_RUNS = {"wakesleep": ["--algorithm", "wakesleep"],
                  "mcem": ["--algorithm", "mcem", "--n-leapfrog", "3", "--marginal-eval-size", "2"]}


@pytest.mark.parametrize("algorithm", ["wakesleep", pytest.param("mcem", marks=pytest.mark.slow)])
def test_wakesleep_and_mcem_runs_resume_bit_exactly(tmp_path, algorithm):
    """A run stopped and resumed equals an uninterrupted one: history, parameters, MCEM's chains.
    (MCEM on MNIST: its steps on Frey Face's Gaussian decoder take a second each.)"""
    data = FREY if algorithm == "wakesleep" else ["--dataset", "mnist", "--n-latent", "2",
                                                  "--n-hidden", "8", "--eval-train-size", "100"]
    run = lambda out, samples: main(["train", *data, *ALGORITHM_RUNS[algorithm], "--samples",  # noqa: E731
                                     samples, "--eval-every", "200", "--out", str(out), "--quiet"])
    assert run(tmp_path / "whole", "400") == 0
    assert run(tmp_path / "parts", "300") == 0   # stopped between two evaluations
    assert main(["train", "--resume", str(tmp_path / "parts"), "--samples", "400", "--quiet"]) == 0
    whole, parts = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "parts")
    assert [r for r in _history(tmp_path / "parts") if r["samples"] != 300] == \
        _history(tmp_path / "whole")
    for name, p in whole.model.params.items():
        np.testing.assert_array_equal(p, parts.model.params[name], err_msg=name)
    assert whole.algorithm == parts.algorithm == algorithm
    assert whole.arrays.keys() == parts.arrays.keys() == ({"chain_z", "chain_step_size"}
                                                          if algorithm == "mcem" else set())
    for name, a in whole.arrays.items():
        np.testing.assert_array_equal(a, parts.arrays[name], err_msg=name)
    assert parts.trainer["config"] == whole.trainer["config"]


def test_resume_refuses_another_algorithm(frey_run, tmp_path, capsys):
    line = refused(["train", "--resume", str(frey_run), "--algorithm", "wakesleep"], capsys)
    assert "--algorithm wakesleep (the run's: aevb)" in line
    assert "--n-leapfrog applies to --algorithm mcem only; this run's algorithm is aevb" in \
        refused(["train", "--resume", str(frey_run), "--n-leapfrog", "4"], capsys)
    assert "--n-updates, --target-accept apply to --algorithm mcem only" in refused(
        ["train", *FREY, "--n-updates", "2", "--target-accept", "0.8", "--out", str(tmp_path / "r")],
        capsys)
    assert not (tmp_path / "r").exists()
    mcem = tmp_path / "mcem"
    assert main(["train", *FREY, *ALGORITHM_RUNS["mcem"], "--samples", "100", "--out", str(mcem),
                 "--quiet"]) == 0
    line = refused(["train", "--resume", str(mcem), "--algorithm", "aevb", "--n-leapfrog", "4"],
                   capsys)
    assert "--algorithm aevb (the run's: mcem)" in line and "--n-leapfrog 4 (the run's: 3)" in line
