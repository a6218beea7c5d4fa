"""``minivae train --family``: a VAE with another latent family from the command line, on tiny
budgets of the real data (as tests/test_cli.py)."""
import json

import numpy as np
import pytest

from minivae.training import checkpoint
from minivae.cli.commands import main

from cli_errors import one_line, refused

TINY = ["--dataset", "mnist", "--n-latent", "3", "--n-hidden", "20", "--eval-train-size", "200",
        "--seed", "1", "--quiet"]


def _train(out, *extra):
    return main(["train", *TINY, "--eval-every", "1000", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def laplace_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("family") / "laplace"
    assert _train(out, "--family", "laplace", "--samples", "2000") == 0
    return out


def test_train_family_laplace_trains_with_estimator_a_and_saves_the_family(laplace_run):
    ckpt = checkpoint.load(laplace_run)
    assert ckpt.model.family_name == "laplace" and ckpt.model.config()["family"] == "laplace"
    assert ckpt.trainer["config"]["estimator"] == "A"
    history = json.loads((laplace_run / "history.json").read_text())
    assert [r["samples"] for r in history] == [0, 1000, 2000]
    assert history[-1]["test_bound"] > history[0]["test_bound"]


def test_resume_keeps_the_family_and_continues_exactly(laplace_run, tmp_path):
    part = tmp_path / "part"
    assert _train(part, "--family", "laplace", "--samples", "1000") == 0
    assert main(["train", "--resume", str(part), "--samples", "2000", "--quiet"]) == 0
    a, b = checkpoint.load(laplace_run), checkpoint.load(part)
    assert b.model.family_name == "laplace" and b.trainer["config"]["estimator"] == "A"
    for name, p in a.model.params.items():
        np.testing.assert_array_equal(p, b.model.params[name], err_msg=name)
    assert [{k: v for k, v in r.items() if k != "wall_time"} for r in a.trainer["history"]] == \
           [{k: v for k, v in r.items() if k != "wall_time"} for r in b.trainer["history"]]


def test_family_with_estimator_b_is_a_usage_error_saying_why(tmp_path, capsys):
    line = refused(["train", *TINY, "--samples", "1000", "--out", str(tmp_path / "r"),
                    "--family", "laplace", "--estimator", "B"], capsys)
    assert "--family laplace cannot train with --estimator B" in line
    assert "closed form" in line and "--estimator A" in line
    assert not (tmp_path / "r").exists()


def test_resume_refuses_another_family_or_estimator_b(laplace_run, capsys):
    line = refused(["train", "--resume", str(laplace_run), "--family", "cauchy"], capsys)
    assert "--family cauchy (the run's: laplace)" in line
    line = refused(["train", "--resume", str(laplace_run), "--estimator", "B"], capsys)
    assert "--estimator B (the run's: A)" in line


def test_an_unknown_family_is_refused_naming_the_choices(tmp_path, capsys):
    line = refused(["train", *TINY, "--out", str(tmp_path / "r"), "--family", "gamma"], capsys)
    assert "argument --family: invalid choice: 'gamma'" in line and "laplace" in line


def test_evaluate_a_laplace_run_defaults_to_estimator_a(laplace_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(laplace_run), "--n", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["estimator"] == "A" and np.isfinite(result["test_bound"])
    assert "closed form" in refused(["evaluate", str(laplace_run), "--n", "50", "--estimator", "B"],
                                    capsys)
    assert "App. D" in refused(["evaluate", str(laplace_run), "--n", "2", "--marginal", "hmc"], capsys)


def test_sample_a_laplace_run_titles_its_prior(laplace_run, tmp_path, capsys):
    assert main(["sample", str(laplace_run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0


def test_gradcheck_of_a_family_checks_estimator_a_for_both_decoders(capsys):
    assert main(["gradcheck", "--family", "laplace", "--n-checks", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("== family=laplace") == 2 and "estimator B" not in out
    assert "decoder=bernoulli" in out and "decoder=gaussian" in out
