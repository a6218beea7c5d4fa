r"""``minivae exercises check``: run every check of the exercises asked for and score them.

A check passes, fails with its message, is *not written* (the stub still raises
``NotImplementedError``) or stops with an error (the message and the line of the student's file).
An exercise passes when all its checks pass; a bug hunt also needs its diagnosis,
``CAUGHT_BY``, to name a check that the buggy code fails.
"""
import traceback
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .checks import CHECKS
from .grading import KINDS, Check, CheckFailed
from .workspace import EXERCISES, ExerciseError, file_name, load_task, read_manifest

__all__ = ["Result", "grade", "grade_module", "passed", "details", "score_table", "resolve_names",
           "checks_of"]


class Result(NamedTuple):
    """The verdict of one check: ``status`` is ``"pass"``, ``"fail"``, ``"not written"`` or
    ``"error"``."""
    exercise: str
    kind: str
    what: str
    status: str
    message: str = ""


def resolve_names(names):
    """Exercise names from the command line (names or their numbers), checked; all if empty."""
    if not names:
        return list(EXERCISES)
    out = []
    for name in names:
        if name.isdigit() and 1 <= int(name) <= len(EXERCISES):
            name = list(EXERCISES)[int(name) - 1]
        if name not in EXERCISES:
            raise ExerciseError(f"no exercise {name!r}; minivae exercises list shows them")
        out.append(name)
    return out


def _where(exc, path):
    """The last line of the student's file in ``exc``'s traceback, as ``file:line``."""
    lines = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return f" ({path.name}:{lines[-1].lineno}: {lines[-1].line})" if lines else ""


def _diagnosis(bug):
    def run(module):
        said = getattr(module, "CAUGHT_BY", None)
        if said is None:
            raise CheckFailed(f"set CAUGHT_BY to the kind of check that catches the bug, one of "
                              f"{', '.join(map(repr, KINDS))}")
        if said not in KINDS:
            raise CheckFailed(f"CAUGHT_BY = {said!r} is not a kind of check; choose one of "
                              f"{', '.join(map(repr, KINDS))}")
        if said not in bug.caught_by:
            why = {"gradient": "finite differences compare the backward with its own forward, and "
                               "here they agree",
                   "training": "no check of this task trains"}.get(said, "it passes on the buggy code")
            raise CheckFailed(f"CAUGHT_BY = {said!r}: the {said} check does not catch this bug "
                              f"({why}); run the checks on the buggy code again")
    return run


def checks_of(name):
    """The checks of exercise ``name``: its task's, and for a bug hunt the diagnosis first."""
    exercise = EXERCISES[name]
    if hasattr(exercise, "task"):
        return [Check("diagnosis", "CAUGHT_BY names a check that catches the bug",
                      _diagnosis(exercise))] + CHECKS[exercise.task]
    return CHECKS[name]


def _run(name, check, module, path):
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            check.run(module)
    except NotImplementedError:
        return Result(name, check.kind, check.what, "not written",
                      "your code raises NotImplementedError: write the marked lines")
    except CheckFailed as exc:
        return Result(name, check.kind, check.what, "fail", str(exc))
    except Exception as exc:  # the student's code raised: show what and where
        return Result(name, check.kind, check.what, "error",
                      f"{type(exc).__name__}: {exc}{_where(exc, path)}")
    return Result(name, check.kind, check.what, "pass")


def grade_module(name, module, path=Path("?")):
    """The :class:`Result` of every check of exercise ``name`` on ``module``."""
    return [_run(name, check, module, Path(path)) for check in checks_of(name)]


def grade(directory, names=None):
    """``{name: [Result, ...]}`` for the exercises ``names`` (default all) of the workspace."""
    read_manifest(directory)
    results = {}
    for name in resolve_names(names):
        path = Path(directory) / file_name(name)
        try:
            module = load_task(directory, name)
        except Exception as exc:  # a syntax error, a missing file, an import that fails
            results[name] = [Result(name, "load", f"import {path.name}", "error",
                                    f"{type(exc).__name__}: {exc}{_where(exc, path)}")]
            continue
        results[name] = grade_module(name, module, path)
    return results


def passed(results):
    """Whether every check of every exercise in ``results`` passed."""
    return all(r.status == "pass" for rs in results.values() for r in rs)


def details(results):
    """One line per check, its message indented below it when it did not pass."""
    lines = []
    for name, rs in results.items():
        lines.append(f"{file_name(name)}")
        for r in rs:
            mark = {"pass": "ok  ", "fail": "FAIL", "not written": "todo", "error": "ERR "}[r.status]
            lines.append(f"  {mark} {r.kind:<12} {r.what}")
            if r.status in ("fail", "error"):
                lines.extend("        " + line for line in r.message.splitlines())
    return "\n".join(lines)


def score_table(results):
    """The per-exercise score table and the total."""
    rows = [("exercise", "checks passed", "verdict")]
    done = 0
    for name, rs in results.items():
        ok = sum(r.status == "pass" for r in rs)
        if all(r.status == "pass" for r in rs):
            verdict, done = "passed", done + 1
        elif all(r.status == "not written" for r in rs if r.kind != "diagnosis"):
            verdict = "not written"
        else:
            verdict = "failed"
        rows.append((name, f"{ok}/{len(rs)}", verdict))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, width)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in width))
    lines.append(f"{done} of {len(results)} exercises passed")
    return "\n".join(lines)
