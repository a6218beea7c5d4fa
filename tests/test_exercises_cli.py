"""``minivae exercises ...`` and ``minivae train --exercises`` end to end."""
import argparse
import json

import pytest

from minivae.cli.commands import build_parser, main
from minivae.exercises import BUGS, TASKS
from minivae.exercises.workspace import file_name

TRAIN = ["train", "--dataset", "mnist", "--n-latent", "2", "--n-hidden", "10", "--samples", "1000",
         "--eval-every", "500", "--eval-train-size", "100", "--seed", "3"]


def _history(run):
    return [{k: v for k, v in r.items() if k != "wall_time"}
            for r in json.loads((run / "history.json").read_text())]


def test_check_on_untouched_stubs_reports_0_passed_and_fails(tmp_path, capsys):
    assert main(["exercises", "start", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["exercises", "check", str(tmp_path / "ws")]) == 1
    out = capsys.readouterr().out
    assert f"0 of {len(TASKS) + len(BUGS)} exercises passed" in out
    assert "todo" in out and "not written" in out


def test_check_after_solve_passes_everything(tmp_path, capsys):
    assert main(["exercises", "solve", str(tmp_path / "ws")]) == 0
    capsys.readouterr()
    assert main(["exercises", "check", str(tmp_path / "ws"), "--quiet"]) == 0
    out = capsys.readouterr().out
    n = len(TASKS) + len(BUGS)
    assert f"{n} of {n} exercises passed" in out


def test_check_grades_the_tasks_asked_for_by_name_or_number(tmp_path, capsys):
    main(["exercises", "start", str(tmp_path)])
    main(["exercises", "solve", str(tmp_path), "kl"])
    capsys.readouterr()
    assert main(["exercises", "check", str(tmp_path), "kl", "--quiet"]) == 0
    assert main(["exercises", "check", str(tmp_path), "5", "4", "--quiet"]) == 1
    table = capsys.readouterr().out
    assert "sampler" in table and "1 of 2 exercises passed" in table


def test_usage_errors_are_one_line(tmp_path, capsys):
    assert main(["exercises", "check", str(tmp_path)]) == 2
    assert "not an exercises workspace" in capsys.readouterr().err
    main(["exercises", "start", str(tmp_path)])
    capsys.readouterr()
    assert main(["exercises", "check", str(tmp_path), "no_such_task"]) == 2
    assert "no exercise 'no_such_task'" in capsys.readouterr().err
    assert main([*TRAIN, "--exercises", str(tmp_path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--engine reference" in err and len(err.strip().splitlines()) == 1


def test_list_shows_every_exercise_in_course_order(capsys):
    assert main(["exercises", "list"]) == 0
    out = capsys.readouterr().out
    positions = [out.index(f" {t.name} ") for t in TASKS] + [out.index(f" {b.name} ") for b in BUGS]
    assert positions == sorted(positions)
    assert "replaces sample_forward, sample_backward" in out


def test_the_exercises_parsers_have_help_and_descriptions():
    sub = build_parser()._subparsers._group_actions[0].choices["exercises"]
    actions = sub._subparsers._group_actions[0].choices
    assert set(actions) == {"list", "start", "check", "solve"}
    for parser in [sub, *actions.values()]:
        assert parser.description
        for action in parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, (parser.prog, action.dest)


@pytest.mark.slow
def test_training_with_the_solved_exercises_gives_the_reference_engines_history(tmp_path):
    main(["exercises", "solve", str(tmp_path / "ws")])
    assert main([*TRAIN, "--engine", "reference", "--exercises", str(tmp_path / "ws"),
                 "--out", str(tmp_path / "mine"), "--quiet"]) == 0
    assert main([*TRAIN, "--engine", "reference", "--out", str(tmp_path / "package"), "--quiet"]) == 0
    assert _history(tmp_path / "mine") == _history(tmp_path / "package")


@pytest.mark.slow
def test_training_with_a_students_bug_changes_the_history(tmp_path, capsys):
    main(["exercises", "solve", str(tmp_path / "ws")])
    path = tmp_path / "ws" / file_name("weight_prior")
    path.write_text(path.read_text().replace("-dout * p for", "dout * p for"))
    assert main([*TRAIN, "--engine", "reference", "--out", str(tmp_path / "package"), "--quiet"]) == 0
    capsys.readouterr()
    assert main([*TRAIN, "--engine", "reference", "--exercises", str(tmp_path / "ws"),
                 "--out", str(tmp_path / "mine")]) == 0
    err = capsys.readouterr().err
    assert "warning: weight_prior fails checks" in err
    assert _history(tmp_path / "mine") != _history(tmp_path / "package")
