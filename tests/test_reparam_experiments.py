"""Tests for the experiment modules minivae.experiments.reparam_compare and minivae.experiments.reparam_variance.

They run on tiny budgets here; the measured numbers in docs/results.md and docs/reparam.md come
from the commands written there.
"""
import json

import numpy as np
import pytest

from minivae.model import VAE
from minivae.reparam import Gaussian, Pareto
from minivae.experiments import reparam_compare as compare, reparam_variance as variance


def test_compare_runs_end_to_end_on_a_tiny_budget(tmp_path):
    figure = tmp_path / "bound.png"
    results = compare.main(["--families", "laplace", "--samples", "400", "--n-hidden", "8", "--n-latent", "2",
                            "--n-train", "400", "--n-test", "300", "--out", str(tmp_path),
                            "--figure", str(figure)])
    assert [r["label"] for r in results] == ["gaussian-B (minivae.VAE)", "laplace-A"]
    for r in results:
        assert r["samples"] == 400 and np.isfinite(r["test_bound"]) and r["test_bound"] < 0
        assert r["test_bounds"].shape == (300,)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["results"][1]["model"]["family"] == "laplace"
    assert "laplace-A" in (tmp_path / "table.md").read_text()
    assert figure.stat().st_size > 0
    assert compare.paired_difference(results[0], results[0]) == (0.0, 0.0)


@pytest.mark.parametrize("module", [compare, variance])
def test_help(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out


@pytest.mark.parametrize("module", [compare, variance])
def test_a_figure_path_without_a_known_suffix_is_refused_before_any_work(module, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--figure", str(tmp_path / "plot"), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert (f"argument --figure: {tmp_path / 'plot'}: end the file name in one of .png, .pdf, .svg"
            in capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_decoder_gradient_variance_is_the_same_for_estimators_a_and_b():
    model = VAE(10, 6, 2, init_std=0.3, seed=0)
    X = (np.random.default_rng(0).random((8, 10)) < 0.5) * 1.0
    out = variance.estimator_gradient_variance(model, X, 20, np.random.default_rng(1))
    assert out["dec"]["A"] == pytest.approx(out["dec"]["B"], rel=1e-12)
    assert out["enc"]["A"] != pytest.approx(out["enc"]["B"], rel=1e-3)
    assert set(out) == set(model.params) | {"enc", "dec"}
    assert "| init | enc |" in variance.format_estimator_table({"init": out})


def test_family_table_shows_the_score_function_bias_for_a_moving_support():
    cases = [(Gaussian(), {"loc": 0.5, "scale": 1.0}), (Pareto(), {"scale": 1.0, "alpha": 5.0})]
    rows = variance.family_gradient_variance(cases, n=50_000, rng=np.random.default_rng(0))
    assert len(rows) == 2 * 2 * len(variance.TEST_FUNCTIONS)
    for r in rows:
        gap = abs(r["pathwise_mean"] - r["score_mean"])
        se = np.hypot(r["pathwise_se"], r["score_se"])
        if (r["family"], r["param"]) == ("pareto", "scale"):
            assert gap > 20 * se
        else:
            assert gap < 5 * se
    assert "| pareto | scale |" in variance.format_family_table(rows)
