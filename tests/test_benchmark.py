"""The A/B helpers of minivae.cli.benchmark run, cover every variant and leave the settings as found.
(Speed itself is measured by commands, never asserted by a test.)"""
from pathlib import Path

import numpy as np
import pytest

from minivae.cli import benchmark
from minivae.fused import kernels
from minivae.fused.backend import get_backend


def test_kernel_ab_times_every_kernel_in_every_variant():
    before = (get_backend(), kernels.get_threads())
    rows = benchmark.kernel_ab("float64", batch_size=8, reps=2, n_threads=2)
    assert [name for name, _ in rows][0].startswith("bernoulli") and len(rows) == 6
    for _, times in rows:
        assert set(times) == {"numpy", "numba, 1 thread", "numba, 2 threads"}
        assert all(t > 0 for t in times.values())
    assert (get_backend(), kernels.get_threads()) == before
    assert "adagrad" in benchmark.format_ab(rows)


def test_step_ab_reports_each_configuration():
    before = (kernels.vecmath.enabled(), kernels.get_threads())
    rates = benchmark.step_ab("float32", batch_size=20, rounds=1, configs=((True, 1), (False, 2)),
                              steps_per_round=1)
    assert set(rates) == {(True, 1), (False, 2)} and all(r > 0 for r in rates.values())
    assert (kernels.vecmath.enabled(), kernels.get_threads()) == before
    assert "examples/s" in benchmark.format_ab(step_rates=rates)


def test_rates_time_each_contestant_after_its_warm_up_and_restore_settings():
    before = (get_backend(), kernels.get_threads())
    calls = []
    contestants = {name: (lambda name=name: calls.append(name.upper()),
                          lambda name=name: calls.append(name)) for name in "ab"}
    rates = benchmark._rates(contestants, batch_size=10, steps=3, warmup=2)
    assert set(rates) == {"a", "b"} and all(r > 0 for r in rates.values())
    assert "".join(calls) == "A" + "aa" + "aaa" + "B" + "bb" + "bbb"
    assert (get_backend(), kernels.get_threads()) == before


def test_phases_cover_the_step_and_leave_the_settings():
    import numpy as np
    before = (get_backend(), kernels.get_threads())
    X = (np.random.default_rng(0).random((300, 784)) < 0.2).astype(float)
    ms = benchmark.phases(X, "float64", batch_size=100, steps=2, warmup=1)
    # the check is its own phase unless the optimizer adds the shards' checked gradients
    assert [n for n in ms if n != "finiteness check"] == ["minibatch", "noise", "loss and gradient",
                                                          "update", "step"]
    assert all(v > 0 for v in ms.values())
    assert ms["step"] >= ms["loss and gradient"]
    assert (get_backend(), kernels.get_threads()) == before


def test_row_reports_medians_and_the_median_of_per_round_ratios():
    rounds = [{"numpy": 10.0, "numba": 30.0, "torch": 10.0},   # ratio 3
              {"numpy": 10.0, "numba": 20.0, "torch": 20.0},   # ratio 1 (a slow spell for numba)
              {"numpy": 40.0, "numba": 24.0, "torch": 12.0}]   # ratio 2; numpy best: 40/12
    row = benchmark._row(100, "float32", rounds)
    assert (row["numpy"], row["numba"], row["torch"]) == (10.0, 24.0, 12.0)
    assert row["numba_to_torch"] == 2.0
    assert row["best_to_torch"] == 3.0  # median of 3, 1, 10/3
    assert row["per_round"]["numba"] == [30.0, 20.0, 24.0]
    assert benchmark.format_row(row).split()[-2:] == ["2.00x", "3.00x"]
    assert "torch" not in benchmark._row(100, "float32", [{"numba": 5.0}])


def test_run_benchmark_needs_a_round():
    import pytest
    with pytest.raises(ValueError, match="rounds"):
        benchmark.run_benchmark(rounds=0)


def test_the_table_names_the_yardstick_or_how_to_install_it():
    row = benchmark._row(100, "float32", [{"numpy": 10.0, "numba": 30.0, "torch": 15.0}])
    result = {"rows": [row], "threads": 2, "cpu_count": 2, "blas": "OpenBLAS", "numpy": "2",
              "rounds": 1, "kernels": "kernels", "compile_seconds": 9.0,
              "cached_startup_seconds": 0.6, "torch_available": True,
              "torch": "PyTorch 2.13.0+cpu, fused Adagrad"}
    text = benchmark.format_table(result)
    assert "yardstick: PyTorch 2.13.0+cpu, fused Adagrad, as many threads as BLAS" in text
    assert "2.00x" in text and "pip install" not in text
    result.update(rows=[benchmark._row(100, "float32", [{"numba": 30.0}])],
                  torch_available=False, torch=None)
    text = benchmark.format_table(result)
    assert "`pip install torch==2.13.0`" in text and "yardstick:" not in text


def test_wakesleep_rates_time_every_engine_and_leave_the_settings():
    import numpy as np
    before = (get_backend(), kernels.get_threads())
    X = (np.random.default_rng(0).random((300, 784)) < 0.2).astype(float)
    result = benchmark.wakesleep_rates(X, ("float64",), steps=2, warmup=1, rounds=2)
    (row,) = result["rows"]
    names = [name for name, _, _ in benchmark.WAKESLEEP_CONTESTANTS]
    assert all(row[n] > 0 for n in names) and len(row["per_round"]) == 2
    assert row["fused_to_aevb"] > 0 and row["fused_to_reference"] > 0
    assert result["cpu"] and (get_backend(), kernels.get_threads()) == before
    table = benchmark.format_wakesleep(result)
    assert "WS fused/AEVB" in table and result["cpu"] in table


def test_engine_rates_time_both_engines():
    X = (np.random.default_rng(0).random((300, 784)) < 0.2).astype(float)
    result = benchmark.engine_rates(X, ("float64",), steps=2, warmup=1, rounds=2)
    (row,) = result["rows"]
    assert row["fused"] > 0 and row["reference"] > 0 and len(row["per_round"]) == 2
    assert row["fused_to_reference"] == pytest.approx(
        np.median([r["fused"] / r["reference"] for r in row["per_round"]]))
    assert "fused/reference" in benchmark.format_engines(result)


ROOT = Path(__file__).resolve().parents[1]


def test_import_time_reports_that_the_package_imports_no_numba():
    rows = benchmark.import_times([None, ROOT], rounds=1)
    assert [r["numba"] for r in rows] == [False, False]
    assert all(r["median"] > 0 for r in rows)
    text = benchmark.format_import_times(rows)
    assert "numba loaded: no" in text and str(ROOT) in text
