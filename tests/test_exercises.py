"""The exercises (minivae.exercises): stubs cut from the package's functions, the grader, the bug
hunts and training with a student's functions."""
import json

import numpy as np
import pytest

from minivae import VAE
from minivae.engine import ReferenceEngine
from minivae.exercises import BUGS, TASKS, grade, solve, start, substituted
from minivae.exercises.grader import grade_module, passed
from minivae.exercises.source import MarkerError, function_source, render, resolve
from minivae.exercises.workspace import EXERCISES, file_name, load_task, task_file
from minivae.optim import Adagrad


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stubs")
    start(directory)
    return directory


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("solved")
    solve(directory)
    return directory


def test_the_course_has_at_least_14_tasks_and_10_bug_hunts():
    assert len(TASKS) >= 14 and len(BUGS) >= 10
    assert [t.name for t in TASKS][:3] == ["activations", "affine", "mlp"]
    assert TASKS[-1].name == "aevb_step"


def test_untouched_stubs_pass_no_exercise(stubs):
    results = grade(stubs)
    assert set(results) == set(EXERCISES)
    assert not any(all(r.status == "pass" for r in rs) for rs in results.values())
    for task in TASKS:
        assert {r.status for r in results[task.name]} == {"not written"}, task.name


def test_after_solve_every_exercise_passes(solved):
    results = grade(solved)
    failing = {name: [r.message for r in rs if r.status != "pass"] for name, rs in results.items()}
    assert passed(results), {k: v for k, v in failing.items() if v}


def test_a_stub_holds_no_line_of_its_solution():
    for task in TASKS:
        stub = task_file(task.name, "stub")
        assert "NotImplementedError" in stub
        compile(stub, task.name, "exec")
        for path in task.functions:
            hidden, inside = [], False
            for line in render(resolve(path), task.name, "solution").splitlines():
                inside = ("your code: begin" in line) or (inside and "your code: end" not in line)
                if inside and "your code" not in line and len(line.strip()) > 12:
                    hidden.append(line.strip())
            assert hidden, path
            stub_lines = {l.strip() for l in stub.splitlines()}
            for line in hidden:
                assert line not in stub_lines, (task.name, line)


def test_stubs_keep_the_docstring_and_name_what_the_given_lines_need():
    text = task_file("log_q", "stub")
    assert "Diagonal Gaussian log-density" in text and "Returns" in text
    assert "# define: diff_over_var, sq_over_var, log_density" in text
    assert "Replaces minivae.gaussian.log_normal_forward, minivae.gaussian.log_normal_backward" in text


def test_markers_are_checked():
    from minivae import gaussian
    with pytest.raises(MarkerError, match="marker of task 'kl', expected 'affine'"):
        render(gaussian.kl_forward, "affine", "stub")
    with pytest.raises(MarkerError, match="no '# exercise: kl begin'"):
        render(gaussian.precision, "kl", "stub")
    with pytest.raises(MarkerError, match="exactly once"):
        render(gaussian.kl_forward, "kl", "solution", edits=[("not in the source", "x")])


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_each_bug_fails_exactly_the_checks_it_names(bug, stubs):
    module = load_task(stubs, bug.name)
    results = grade_module(bug.name, module, stubs / file_name(bug.name))
    failed = {r.kind for r in results if r.status != "pass" and r.kind != "diagnosis"}
    assert failed == set(bug.caught_by)
    assert all(r.status in ("pass", "fail", "error") for r in results)


def test_the_std_exp_logvar_model_passes_every_gradient_check_and_fails_a_distribution_test(stubs):
    module = load_task(stubs, "std_exp_logvar")
    results = grade_module("std_exp_logvar", module)
    gradient = [r for r in results if r.kind == "gradient"]
    assert gradient and all(r.status == "pass" for r in gradient)
    distribution = [r for r in results if r.kind == "distribution"]
    assert [r.status for r in distribution] == ["fail"]
    assert "variance of z" in distribution[0].message


def test_a_bug_hunt_needs_its_diagnosis_and_its_fix(tmp_path):
    solve(tmp_path, ["std_exp_logvar"])
    path = tmp_path / file_name("std_exp_logvar")
    assert passed(grade(tmp_path, ["std_exp_logvar"]))
    path.write_text(path.read_text().replace("CAUGHT_BY = 'distribution'", "CAUGHT_BY = 'gradient'"))
    [diagnosis] = [r for r in grade(tmp_path, ["std_exp_logvar"])["std_exp_logvar"]
                   if r.kind == "diagnosis"]
    assert diagnosis.status == "fail" and "does not catch this bug" in diagnosis.message


def test_a_failure_names_the_tensor_the_entries_the_error_and_a_hint(stubs):
    results = grade_module("log_sigma_half", load_task(stubs, "log_sigma_half"))
    [failure] = [r for r in results if r.kind == "gradient"]
    message = failure.message
    assert "the gradient with respect to logvar" in message
    assert "12 of 12 entries differ" in message and "relative error" in message
    assert "yours" in message and "expected" in message and "hint:" in message


def test_an_error_in_the_students_code_names_the_line(tmp_path):
    solve(tmp_path, ["kl"])
    path = tmp_path / file_name("kl")
    path.write_text(path.read_text().replace("dmu = d * mu", "dmu = d * mu_typo"))
    results = grade(tmp_path, ["kl"])["kl"]
    [error] = [r for r in results if r.status == "error"]
    assert "NameError" in error.message and f"{path.name}:" in error.message


def test_start_and_solve_never_overwrite_a_students_work(tmp_path):
    start(tmp_path)
    path = tmp_path / file_name("affine")
    path.write_text(path.read_text() + "\n# my work\n")
    written, kept = start(tmp_path)
    assert written == [] and file_name("affine") in kept
    written, kept = solve(tmp_path)
    assert kept == [file_name("affine")] and "# my work" in path.read_text()
    solve(tmp_path, ["affine"], force=True)
    assert "# my work" not in path.read_text()
    assert json.loads((tmp_path / "exercises.json").read_text())["files"]["affine"] == path.name


def test_the_substitution_reaches_every_task_on_the_training_path_and_is_undone():
    originals = [resolve(path) for task in TASKS for path in task.functions]
    called = set()

    def spy(func):
        def wrapper(*args, **kwargs):
            called.add(func.__qualname__)
            return func(*args, **kwargs)
        return wrapper
    with substituted({f: spy(f) for f in originals}):
        for decoder, estimator in (("bernoulli", "B"), ("gaussian", "A")):
            model = VAE(6, [4], 2, decoder=decoder, seed=0)
            X = (np.random.default_rng(0).random((5, 6)) < 0.5).astype(float)
            engine = ReferenceEngine(model, Adagrad(lr=0.1))
            engine.step(X, np.random.default_rng(1).standard_normal((1, 5, 2)), estimator, None, 0.1)
    assert called == {f.__qualname__ for f in originals}
    assert [resolve(path) for task in TASKS for path in task.functions] == originals
    from minivae import latent, layers
    assert layers.affine_forward is resolve("minivae.layers:affine_forward")
    assert latent.GaussianLatent.sample_forward is resolve("minivae.gaussian:sample_forward")


def test_the_substitution_is_undone_after_an_error():
    from minivae import layers

    def broken(*args):
        raise RuntimeError("student")
    original = layers.affine_forward
    with pytest.raises(RuntimeError), substituted({original: broken}):
        layers.mlp_forward(np.ones((1, 2)), [np.ones((2, 2))], [np.zeros(2)], "tanh")
    assert layers.affine_forward is original
    assert "exercise" in function_source(original)


def test_the_handout_lists_every_exercise_with_its_minutes_in_course_order():
    from pathlib import Path
    page = (Path(__file__).resolve().parents[1] / "docs" / "exercises.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| ") and line[2].isdigit()]
    expected = [(t.name, t.minutes) for t in TASKS] + [(b.name, b.minutes) for b in BUGS]
    found = [(row.split("|")[2].strip(" `"), int(row.split("|")[-2])) for row in rows]
    assert found == expected
