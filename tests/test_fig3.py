"""``minivae reproduce fig3`` and ``minivae evaluate --marginal`` end to end on tiny budgets of the
real data."""
import csv
import json

import numpy as np
import pytest

from minivae.cli.commands import main
from minivae.baselines.mcem import MCEMTrainer
from minivae.experiments import fig3
from minivae.experiments.fig3 import reproduce_fig3
from minivae.experiments.fig3_run import MarginalSettings, fig3_spec, train_fig3_run
from minivae.training.runlock import RunLocked, lock_run
from minivae.experiments.runs import load_data
from minivae.training.trainer import Trainer
from minivae.baselines.wakesleep import WakeSleepTrainer

from test_checkpoint_faults import tamper

TINY = dict(samples=1000, train_sizes=(300, 1200), n_hidden=8, start=500, quiet=True,
            settings=MarginalSettings(eval_size=12, n_samples=24, n_leapfrog=4))


def _small(dataset):
    """The real data, cut to 1200 training and 300 test images so that every estimate is quick."""
    d = load_data(dataset)
    return d._replace(X_train=d.X_train[:1200], X_test=d.X_test[:300], y_test=None)


@pytest.fixture(autouse=True)
def small_data(monkeypatch):
    monkeypatch.setattr(fig3, "load_data", _small)


@pytest.fixture(scope="module")
def fig3_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fig3, "load_data", _small)
        result = reproduce_fig3(out, mcem_samples=500, **TINY)
    return out, result


def test_fig3_writes_every_run_with_finite_estimates(fig3_dir):
    out, result = fig3_dir
    runs = {(r["spec"]["n_train"], r["spec"]["algorithm"]): r for r in result["runs"]}
    assert set(runs) == {(n, a) for n in (300, 1200) for a in ("aevb", "wakesleep", "mcem")}
    for (n, algo), run in runs.items():
        points = [r["samples"] for r in run["marginal"]]
        capped = algo == "mcem" and n > 1000
        assert points == ([500] if capped else [500, 1000])
        assert run["cut_short"] == capped
        for r in run["marginal"]:
            for split in ("train", "test"):
                # log p(x) of 784 binary pixels: negative, and above the uniform model's -784 log 2
                assert -784 * np.log(2) < r[f"{split}_log_px"] < 0
                assert 0 < r[f"{split}_acceptance"] <= 1 and r[f"{split}_mc_stderr"] >= 0
    rows = list(csv.DictReader(open(out / "fig3_mnist.csv")))
    assert len(rows) == sum(len(r["marginal"]) for r in result["runs"])
    assert json.loads((out / "fig3_mnist.json").read_text())["settings"]["mcem_samples"] == 500
    assert (out / "fig3_mnist.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (out / "fig3_mnist.png").stat().st_size > 10_000
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_fig3_reads_finished_runs_instead_of_retraining(fig3_dir, monkeypatch):
    out, result = fig3_dir
    for cls in (Trainer, WakeSleepTrainer, MCEMTrainer):
        monkeypatch.setattr(cls, "step", lambda self: pytest.fail("a finished run was retrained"))
    again = reproduce_fig3(out, mcem_samples=500, **TINY)
    assert [r["marginal"] for r in again["runs"]] == [r["marginal"] for r in result["runs"]]


def test_fig3_resumes_a_run_to_a_larger_budget(fig3_dir):
    out, _ = fig3_dir
    more = dict(TINY, samples=2000, train_sizes=(300,), algorithms=("mcem",))
    run = reproduce_fig3(out, **more)["runs"][0]
    points = [r["samples"] for r in run["marginal"]]
    assert points[:2] == [500, 1000] and points[-1] == 2000 and points == sorted(set(points))


def test_fig3_refuses_a_directory_with_other_settings(fig3_dir):
    out, _ = fig3_dir
    with pytest.raises(ValueError, match="other settings"):
        reproduce_fig3(out, **dict(TINY, samples=2000, train_sizes=(300,), algorithms=("aevb",),
                                   lr=0.1))


@pytest.mark.slow
def test_a_fig3_run_saved_before_checkpoints_recorded_the_algorithm_resumes(tmp_path):
    """Its spec is read from the checkpoint as it was written then (``extra.algorithm``), and it
    continues as wake-sleep: the same estimates as a run of today's format."""
    spec, data = fig3_spec(300, "wakesleep", n_hidden=8), _small("mnist")
    args = (data.X_train[:300], data.X_test, MarginalSettings(eval_size=2, n_samples=12))
    runs = {}
    for root in ("old", "new"):
        train_fig3_run(spec, tmp_path / root, [100], *args, quiet=True)
        if root == "old":
            tamper(spec.directory(tmp_path / root),
                   meta=lambda m: (m.pop("algorithm"), m["extra"].update(algorithm="wakesleep")))
        runs[root] = train_fig3_run(spec, tmp_path / root, [100, 200], *args, quiet=True)
    drop = lambda run: [{k: v for k, v in r.items() if k not in ("seconds", "train_time")}  # noqa: E731
                        for r in run["marginal"]]
    assert drop(runs["old"]) == drop(runs["new"]) and len(runs["old"]["marginal"]) == 2


def test_a_fig3_run_directory_in_use_is_refused(tmp_path):
    spec = fig3_spec(300, "aevb", n_hidden=8)
    data = _small("mnist")
    with lock_run(spec.directory(tmp_path)):
        with pytest.raises(RunLocked, match="in use"):
            train_fig3_run(spec, tmp_path, [500], data.X_train[:300], data.X_test, quiet=True)


def test_fig3_spec_and_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown algorithm"):
        fig3_spec(1000, "gibbs")
    with pytest.raises(ValueError, match="training images"):
        reproduce_fig3("unused", **dict(TINY, train_sizes=(5000,)))


def test_fig3_command_line(tmp_path, capsys):
    assert main(["reproduce", "fig3", "--samples", "500", "--train-sizes", "300",
                 "--algorithms", "aevb", "--n-hidden", "8", "--eval-size", "5",
                 "--posterior-samples", "24", "--start", "500", "--quiet",
                 "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "N=   300      aevb" in text and "fig3_mnist.csv" in text
    assert main(["reproduce", "fig3", "--fast", "--samples", "500"]) == 2


# -- minivae evaluate --marginal ----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    assert main(["train", "--samples", "2000", "--n-hidden", "16", "--n-latent", "2",
                 "--eval-train-size", "100", "--quiet", "--out", str(out)]) == 0
    return out


def _evaluate(capsys, *args):
    assert main(["evaluate", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_marginal_estimates_agree_and_lie_above_the_bound(trained_dir, capsys):
    common = (trained_dir, "--n", "40", "--L", "200")
    hmc = _evaluate(capsys, *common, "--marginal", "hmc", "--posterior-samples", "100")
    iw = _evaluate(capsys, *common, "--marginal", "is", "--k", "2000")
    for split in ("train", "test"):
        assert hmc[f"n_{split}"] == iw[f"n_{split}"] == 40
        a, b = hmc[f"{split}_marginal"]["log_px"], iw[f"{split}_marginal"]["log_px"]
        assert abs(a - b) < 0.5, (split, a, b)
        # the bound (L = 200 averages its noise away) lies below log p(x)
        assert iw[f"{split}_bound"] < b
        assert 0.3 < hmc[f"{split}_marginal"]["acceptance"] <= 1


def test_evaluate_marginal_text_output_and_defaults(trained_dir, capsys):
    assert main(["evaluate", str(trained_dir), "--marginal", "is", "--k", "3", "--n", "7"]) == 0
    text = capsys.readouterr().out
    assert "log p(x) per datapoint" in text and "importance sampling, k=3" in text
    assert "N=7" in text
    with pytest.raises(SystemExit):
        main(["evaluate", str(trained_dir), "--marginal", "hmc", "--k", "0"])


def test_evaluate_an_mcem_model_refuses_importance_sampling_and_says_why(fig3_dir, capsys):
    mcem_dir = fig3_dir[0] / "mnist" / "N300" / "mcem"
    assert main(["evaluate", str(mcem_dir), "--marginal", "is", "--n", "5"]) == 2
    assert "q(z|x) untrained" in capsys.readouterr().err
    assert main(["evaluate", str(mcem_dir), "--marginal", "hmc", "--n", "4",
                 "--posterior-samples", "24"]) == 0
    text = capsys.readouterr().out
    assert "trained with MCEM" in text and "log p(x) per datapoint" in text
    assert _evaluate(capsys, mcem_dir, "--n", "3")["encoder_trained"] is False


def test_evaluate_importance_sampling_in_blocks_equals_one_call_and_reports_progress(
        trained_dir, capsys, monkeypatch):
    from minivae.training import checkpoint
    from minivae.cli import commands as cli
    from minivae.datasets import binarize_fixed, load_mnist
    from minivae.marginal.importance import importance_log_px
    monkeypatch.setattr(cli, "IS_BLOCK", 200)
    model = checkpoint.load(trained_dir).model
    X = binarize_fixed(load_mnist("test")[0])[:500]
    blocks = cli._importance_with_progress(model, X, 4, np.random.default_rng(3), "test")
    np.testing.assert_array_equal(blocks, importance_log_px(model, X, 4, rng=3))
    err = capsys.readouterr().err
    assert "test: importance sampling, 200/500 images" in err and "400/500 images" in err


def test_fig3_fast_estimates_on_fewer_images_unless_told(monkeypatch, capsys):
    from minivae.cli import reproduce as reproduce_cli
    seen = []

    def fake(out, samples, train_sizes, algorithms, mcem_samples, lr, n_latent, n_hidden,
             settings, *rest):
        seen.append((samples, settings.eval_size))
        return {"settings": {"n_latent": 3, "n_hidden": 100}, "elapsed": 0.0, "runs": []}

    monkeypatch.setattr(reproduce_cli, "reproduce_fig3", fake)
    for argv in (["--fast"], ["--fast", "--eval-size", "300"], ["--samples", "2000"]):
        assert main(["reproduce", "fig3", *argv, "--quiet"]) == 0
    assert seen == [(100_000, 200), (100_000, 300), (2000, 1000)]
