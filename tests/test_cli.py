"""End-to-end tests of the ``minivae`` command line on tiny budgets of the real data."""
import json
import subprocess
import sys

import numpy as np
import pytest

from minivae import checkpoint
from minivae.cli import build_parser, main


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


def test_train_refuses_to_overwrite_a_run(tmp_path):
    _train(tmp_path / "run")
    with pytest.raises(SystemExit, match="--resume"):
        _train(tmp_path / "run")


def test_evaluate_and_sample(tmp_path, capsys):
    _train(tmp_path / "run")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_train"] == 60000 and result["n_test"] == 10000
    assert result["binarization"] == "fixed"
    assert -784 * np.log(2) - 50 < result["test_bound"] < 0
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
    assert main(["evaluate", "/nonexistent/run"]) == 2


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
