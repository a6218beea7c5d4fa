r"""Exercises with a grader, and bug hunts: the course in the box.

``minivae exercises start DIR`` writes a workspace of stubs cut from the package's own teaching
functions (:mod:`~minivae.exercises.source`, :mod:`~minivae.exercises.workspace`), one per task of
:data:`~minivae.exercises.tasks.TASKS` and per bug hunt of :data:`~minivae.exercises.bughunts.BUGS`;
``check`` runs the checks of :mod:`~minivae.exercises.checks` (:mod:`~minivae.exercises.grader`);
``solve`` writes the reference solutions; ``minivae train --exercises DIR`` trains with the
student's functions in place of the package's (:mod:`~minivae.exercises.substitute`).
See docs/exercises.md.
"""
from .bughunts import BUGS
from .grader import grade
from .substitute import substituted
from .tasks import TASKS
from .workspace import load_task, solve, start

__all__ = ["TASKS", "BUGS", "start", "solve", "grade", "load_task", "substituted"]
