"""``minivae reproduce``: the pieces (schedule, grid, step-size pilot, resumable runs) and the three
commands end to end on tiny budgets of the real data."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

import minivae
from minivae.datasets import binarize_fixed
from minivae.experiments.active_units import latent_activity
from minivae.training import checkpoint
from minivae.cli.commands import build_parser, main
from minivae.experiments.fig2 import default_pilot_samples, summarize
from minivae.experiments.manifold import latent_grid
from minivae.experiments import appendix, fig2, runs
from minivae.experiments.runs import RunSpec, load_data, train_run
from minivae.experiments.spec import open_trainer
from minivae.experiments.schedule import log_schedule
from minivae.training.runlock import RunLocked, lock_run
from minivae.experiments.stepsize import choose_step_size
from minivae.baselines.wakesleep import WakeSleepTrainer

from test_checkpoint_faults import tamper

TINY = ["--n-hidden", "8", "--eval-train-size", "200", "--quiet"]


@pytest.fixture(autouse=True)
def small_data(monkeypatch):
    """The real data, cut to 2000 training and 500 test images so that every evaluation is quick."""
    def load(dataset):
        d = load_data(dataset)
        y = None if d.y_test is None else d.y_test[:500]
        return d._replace(X_train=d.X_train[:2000], X_test=d.X_test[:500], y_test=y)

    for module in (fig2, appendix):
        monkeypatch.setattr(module, "load_data", load)


# -- the pieces ---------------------------------------------------------------------------------
def test_log_schedule_is_log_spaced_in_whole_minibatches_and_ends_at_the_budget():
    points = log_schedule(10**6)
    assert points[0] == 1000 and points[-1] == 10**6
    assert all(p % 100 == 0 for p in points) and points == sorted(set(points))
    ratios = np.diff(np.log10(points))
    np.testing.assert_allclose(ratios, 0.2, atol=0.01)          # five points per decade
    assert log_schedule(10**5)[:-1] == [p for p in points if p < 10**5]  # a longer run keeps them
    assert log_schedule(10**6, after=10**5)[0] > 10**5
    assert log_schedule(1050) == [1000, 1100] and log_schedule(300) == [300]


def test_latent_grid_maps_cell_midpoints_through_the_inverse_gaussian_cdf():
    n = 5
    Z = latent_grid(n)
    assert Z.shape == (n * n, 2)
    U = norm.cdf(Z).reshape(n, n, 2)
    midpoints = (np.arange(n) + 0.5) / n
    np.testing.assert_allclose(U[0, :, 0], midpoints, rtol=1e-12)          # z1 grows to the right
    np.testing.assert_allclose(U[:, 0, 1], midpoints[::-1], rtol=1e-12)    # z2 grows upwards
    np.testing.assert_allclose(Z.sum(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ValueError):
        latent_grid(0)


def test_default_pilot_is_one_percent_of_the_budget_but_at_least_ten_thousand():
    assert default_pilot_samples(10**7) == 10**5
    assert default_pilot_samples(10**5) == 10**4
    assert default_pilot_samples(5000) == 5000


def test_summary_counts_the_points_where_aevb_is_above_wake_sleep():
    h = lambda *b: [{"samples": s, "train_bound": x, "test_bound": x}  # noqa: E731
                    for s, x in zip((0, 100, 200), b)]
    runs = [{"n_latent": 3, "algorithm": "aevb", "lr": 0.1, "status": "done",
             "history": h(-500, -200, -150)},
            {"n_latent": 3, "algorithm": "wakesleep", "lr": 0.02, "status": "done",
             "history": h(-500, -250, -140)}]
    row = summarize(runs)[0]
    assert row["aevb_above_wakesleep_train"] == "1/2"      # the point at 0 samples is left out
    assert row["aevb"]["train_bound"] == -150 and row["wakesleep"]["lr"] == 0.02


@pytest.fixture(scope="module")
def mnist():
    d = load_data("mnist")
    return d._replace(X_train=d.X_train[:2000], X_test=d.X_test[:500], y_test=d.y_test[:500])


def test_a_diverged_candidate_is_dropped_and_its_run_is_not_retried(tmp_path, mnist, monkeypatch):
    original = minivae.Trainer.step

    def step(self):
        if self.optimizer.lr == 0.1 and self.samples >= 300:
            raise FloatingPointError("non-finite loss (test)")
        return original(self)

    monkeypatch.setattr(minivae.Trainer, "step", step)
    spec = RunSpec("mnist", 2, 8, "aevb", 0.01, eval_train_size=200)
    choice = choose_step_size(spec, tmp_path, 500, mnist, quiet=True)
    assert choice.train_bound[0.1] is None and choice.chosen in (0.01, 0.02)
    assert choice.chosen == max((0.01, 0.02), key=choice.train_bound.get)
    status = json.loads((tmp_path / "mnist/J2/aevb/lr0.1/status.json").read_text())
    assert status["status"] == "diverged" and status["samples"] == 300
    monkeypatch.setattr(minivae.Trainer, "step", lambda self: pytest.fail("retrained"))
    again = train_run(RunSpec("mnist", 2, 8, "aevb", 0.1, eval_train_size=200), tmp_path, 500,
                      mnist, quiet=True)
    assert again.status == "diverged" and again.samples == 300


def test_a_run_resumed_to_a_larger_budget_keeps_its_points(tmp_path, mnist):
    spec = RunSpec("mnist", 2, 8, "wakesleep", 0.02, eval_train_size=200)
    short = train_run(spec, tmp_path, 1000, mnist, quiet=True)
    longer = train_run(spec, tmp_path, 2000, mnist, quiet=True)
    assert [r["samples"] for r in longer.history] == [0, 1000, 1600, 2000]
    assert longer.history[:2] == short.history


def test_a_run_saved_before_checkpoints_recorded_the_algorithm_resumes_as_its_own(tmp_path, mnist):
    """Its spec is read from the checkpoint as it was written then (``extra.algorithm``), and it
    continues as wake-sleep: the same history as a run of today's format."""
    spec = RunSpec("mnist", 2, 8, "wakesleep", 0.02, eval_train_size=200)
    runs = {}
    for root in ("old", "new"):
        train_run(spec, tmp_path / root, 1000, mnist, quiet=True)
        if root == "old":
            tamper(spec.directory(tmp_path / root),
                   meta=lambda m: (m.pop("algorithm"), m["extra"].update(algorithm="wakesleep")))
        runs[root] = train_run(spec, tmp_path / root, 2000, mnist, quiet=True)
    drop = lambda h: [{k: v for k, v in r.items() if k != "wall_time"} for r in h]  # noqa: E731
    assert drop(runs["old"].history) == drop(runs["new"].history)
    assert checkpoint.read_meta(spec.directory(tmp_path / "old"))["algorithm"] == "wakesleep"


@pytest.mark.parametrize("algorithm", ["aevb", "wakesleep"])
def test_a_run_saves_between_its_evaluations_and_resumes_from_there_bit_for_bit(
        algorithm, tmp_path, mnist, monkeypatch):
    """Late in a long run the log-spaced points lie millions of samples apart: a checkpoint every
    ``CHECKPOINT_EVERY`` samples keeps what a stopped session trained. Stopped after the save at
    1200 samples (between the points 1000 and 1600), the run resumes there and ends as a run
    that saved only at its points."""
    spec = RunSpec("mnist", 2, 8, algorithm, 0.02, eval_train_size=200)
    straight = train_run(spec, tmp_path / "straight", 2000, mnist, quiet=True)
    cls = type(open_trainer(spec, tmp_path / "probe", mnist.X_train, mnist.X_test, []))
    original = cls.step

    def stopped(self):
        if self.samples == 1400:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(runs, "CHECKPOINT_EVERY", 300)
    monkeypatch.setattr(cls, "step", stopped)
    with pytest.raises(KeyboardInterrupt):
        train_run(spec, tmp_path / "stopped", 2000, mnist, quiet=True)
    directory = spec.directory(tmp_path / "stopped")
    assert checkpoint.read_meta(directory)["trainer"]["samples"] == 1200
    monkeypatch.setattr(cls, "step", original)
    resumed = train_run(spec, tmp_path / "stopped", 2000, mnist, quiet=True)
    drop = lambda h: [{k: v for k, v in r.items() if k != "wall_time"} for r in h]  # noqa: E731
    assert [r["samples"] for r in resumed.history] == [0, 1000, 1600, 2000]
    assert drop(resumed.history) == drop(straight.history)
    ends = [np.load(spec.directory(tmp_path / root) / "checkpoint.npz") for root in ("straight", "stopped")]
    floats = [k for k in ends[0].files if ends[0][k].dtype.kind == "f"]
    assert floats and all(np.array_equal(ends[0][k], ends[1][k]) for k in floats)


def test_checkpoints_between_points_fall_on_multiples_of_the_interval():
    assert runs._stops(0, 1000, 300) == [300, 600, 900, 1000]
    assert runs._stops(600, 1600, 300) == [900, 1200, 1500, 1600]
    assert runs._stops(1000, 1100, 300) == [1100]
    assert runs._stops(1200, 1500, 300) == [1500]


def test_a_run_directory_in_use_is_refused(tmp_path, mnist):
    spec = RunSpec("mnist", 2, 8, "aevb", 0.02, eval_train_size=200)
    with lock_run(spec.directory(tmp_path)):
        with pytest.raises(RunLocked, match="in use"):
            train_run(spec, tmp_path, 500, mnist, quiet=True)
    assert not checkpoint.exists(spec.directory(tmp_path))


# -- the commands -------------------------------------------------------------------------------
def _fig2(out, dataset="mnist", *extra):
    return main(["reproduce", "fig2", "--dataset", dataset, "--latents", "2", "3", "--samples",
                 "1600", "--pilot-samples", "1000", "--out", str(out), *TINY, *extra])


def test_fig2_writes_csv_json_png_for_both_algorithms(tmp_path, capsys):
    assert _fig2(tmp_path) == 0
    result = json.loads((tmp_path / "fig2_mnist.json").read_text())
    X_test = binarize_fixed(load_data("mnist").X_test[:500])
    assert {(r["n_latent"], r["algorithm"]) for r in result["runs"]} == \
        {(J, a) for J in (2, 3) for a in ("aevb", "wakesleep")}
    for run in result["runs"]:
        pilot = run["step_size_pilot"]
        assert pilot["pilot_samples"] == 1000 and set(pilot["train_bound"]) == {"0.01", "0.02", "0.1"}
        assert run["lr"] == float(max(pilot["train_bound"], key=pilot["train_bound"].get))
        assert [r["samples"] for r in run["history"]] == [0, 1000, 1600]
        bounds = [r[k] for r in run["history"] for k in ("train_bound", "test_bound")]
        assert np.all(np.isfinite(bounds)) and max(bounds) < 0
        assert run["history"][-1]["train_bound"] > run["history"][0]["train_bound"]
        model = checkpoint.load(tmp_path / f"mnist/J{run['n_latent']}/{run['algorithm']}/lr{run['lr']:g}").model
        activity = latent_activity(model, X_test)
        assert run["active_units"] == np.sum(activity > 0.01)
    assert {row["aevb"]["active_units"] for row in result["summary"]} <= {0, 1, 2, 3}
    with open(tmp_path / "fig2_mnist.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(len(r["history"]) for r in result["runs"])
    assert (tmp_path / "fig2_mnist.png").stat().st_size > 10_000
    assert (tmp_path / "fig2_mnist.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["fig2_mnist.csv", "fig2_mnist.json", "fig2_mnist.png", "mnist"]
    out = capsys.readouterr().out
    assert "AEVB above WS" in out and f"{result['runs'][0]['active_units']}/2 active" in out


def test_fig2_does_not_retrain_finished_runs(tmp_path, monkeypatch):
    _fig2(tmp_path)
    before = json.loads((tmp_path / "fig2_mnist.json").read_text())
    for cls in (minivae.Trainer, WakeSleepTrainer):
        monkeypatch.setattr(cls, "step", lambda self: pytest.fail("a finished run was retrained"))
    assert _fig2(tmp_path) == 0
    after = json.loads((tmp_path / "fig2_mnist.json").read_text())
    assert after["runs"] == before["runs"]


def test_fig2_gives_no_active_units_for_a_model_trained_past_the_budget(tmp_path, capsys):
    """Read at a smaller budget, a run's bounds stop there but its checkpoint does not: its active
    units would describe another model, so there are none."""
    _fig2(tmp_path)
    capsys.readouterr()
    assert main(["reproduce", "fig2", "--latents", "2", "--samples", "1000", "--pilot-samples",
                 "1000", "--out", str(tmp_path), *TINY]) == 0
    result = json.loads((tmp_path / "fig2_mnist.json").read_text())
    assert [r["active_units"] for r in result["runs"]] == [None, None]
    assert [r["history"][-1]["samples"] for r in result["runs"]] == [1000, 1000]
    out = capsys.readouterr().out
    assert "AEVB above WS" in out and " active" not in out


def test_fig2_on_frey_face_uses_the_gaussian_decoder(tmp_path):
    assert main(["reproduce", "fig2", "--dataset", "frey", "--latents", "2", "--samples", "1000",
                 "--pilot-samples", "500", "--step-sizes", "0.02", "0.1", "--out", str(tmp_path),
                 *TINY]) == 0
    result = json.loads((tmp_path / "fig2_frey.json").read_text())
    assert len(result["runs"]) == 2
    assert all(np.isfinite(r["history"][-1]["test_bound"]) for r in result["runs"])
    meta = checkpoint.read_meta(tmp_path / "frey/J2/wakesleep/lr0.1")
    assert meta["model"]["decoder"] == "gaussian" and meta["algorithm"] == "wakesleep"


def test_fig2_refuses_a_directory_with_other_settings(tmp_path, capsys):
    _fig2(tmp_path, "mnist", "--algorithms", "aevb")
    capsys.readouterr()
    assert main(["reproduce", "fig2", "--latents", "2", "--samples", "1600", "--pilot-samples",
                 "1000", "--algorithms", "aevb", "--out", str(tmp_path), "--n-hidden", "9",
                 "--eval-train-size", "200", "--quiet"]) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["manifold", "samples"])
def test_appendix_commands_run_without_samples(command, tmp_path, monkeypatch):
    """``minivae reproduce manifold --dataset frey`` (as in the README) stopped with
    int(None): --samples had no default. The default budget is shrunk for the test."""
    monkeypatch.setattr("minivae.cli.reproduce.APPENDIX_SAMPLES", 1000)
    extra = ["--grid", "3"] if command == "manifold" else ["--latents", "2", "--n", "4"]
    assert main(["reproduce", command, "--dataset", "frey", *extra, *TINY,
                 "--out", str(tmp_path)]) == 0
    assert build_parser().parse_args(["reproduce", command]).samples == 1000


def test_manifold_trains_plots_and_reloads(tmp_path):
    args = ["reproduce", "manifold", "--samples", "1000", "--grid", "4", *TINY]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    for name in ("manifold_mnist.png", "latent_means_mnist.png", "manifold_mnist.json"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    result = json.loads((tmp_path / "a" / "manifold_mnist.json").read_text())
    assert result["model"]["samples"] == 1000 and np.isfinite(result["model"]["test_bound"])
    run = tmp_path / "a/mnist/J2/aevb/lr0.02"
    assert main(["reproduce", "manifold", "--from", str(run), "--grid", "3", "--quiet",
                 "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "manifold_mnist.png").exists()


def test_manifold_needs_two_latent_dimensions(tmp_path, capsys):
    main(["reproduce", "samples", "--latents", "3", "--samples", "500", "--out", str(tmp_path),
          *TINY])
    capsys.readouterr()
    assert main(["reproduce", "manifold", "--from", str(tmp_path / "mnist/J3/aevb/lr0.02"),
                 "--quiet", "--out", str(tmp_path)]) == 2
    assert "2 latent dimensions" in capsys.readouterr().err


def test_samples_and_frey_manifold(tmp_path):
    assert main(["reproduce", "samples", "--latents", "2", "3", "--samples", "500", "--n", "16",
                 "--out", str(tmp_path), *TINY]) == 0
    result = json.loads((tmp_path / "samples_mnist.json").read_text())
    assert [m["n_latent"] for m in result["models"]] == [2, 3]
    assert (tmp_path / "samples_mnist.png").stat().st_size > 0
    runs = [str(tmp_path / f"mnist/J{J}/aevb/lr0.02") for J in (3, 2)]
    assert main(["reproduce", "samples", "--from", *runs, "--n", "4", "--quiet",
                 "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "samples_mnist.json").read_text())
    assert [m["n_latent"] for m in again["models"]] == [3, 2]
    assert main(["reproduce", "manifold", "--dataset", "frey", "--samples", "500", "--grid", "3",
                 "--out", str(tmp_path), *TINY]) == 0
    assert (tmp_path / "manifold_frey.png").exists()
    assert not (tmp_path / "latent_means_frey.png").exists()     # Frey Face has no labels


def test_bad_reproduce_arguments_are_reported(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "fig2", "--samples", "0"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "fig2", "--step-sizes", "-1"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "fig2", "--algorithms", "backprop"])
    assert main(["reproduce", "fig2", "--fast", "--samples", "1000"]) == 2
    assert "not both" in capsys.readouterr().err


def test_reproduce_help_explains_the_experiments():
    out = subprocess.run([sys.executable, "-m", "minivae", "reproduce", "fig2", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "wake-sleep" in out and "--fast" in out and "--latents" in out
