"""``minivae exercises list | start DIR | check DIR [TASK...] | solve DIR [TASK...]`` and the
hook behind ``minivae train --exercises DIR`` (docs/exercises.md)."""
import contextlib
import sys

from ..exercises.bughunts import BUGS
from ..exercises.grader import details, grade, passed, resolve_names, score_table
from ..exercises.substitute import substituted
from ..exercises.tasks import TASKS
from ..exercises.workspace import file_name, solve, start, student_functions
from .argtypes import UsageError

__all__ = ["add_exercises_command", "exercises_context"]


def _list(args):
    print("Tasks, in course order (minivae exercises check DIR NAME grades one):")
    for n, task in enumerate(TASKS, start=1):
        print(f"  {n:2d}  {task.name:<16} {task.minutes:3d} min  {task.title} ({task.where})")
        print(f"      {'':<16}          replaces {', '.join(f.split(':')[1] for f in task.functions)}")
    print("Bug hunts (name the check that catches the bug, then fix it):")
    for n, bug in enumerate(BUGS, start=len(TASKS) + 1):
        print(f"  {n:2d}  {bug.name:<24} {bug.minutes:3d} min  {bug.title} (task {bug.task})")
    total = sum(t.minutes for t in TASKS) + sum(b.minutes for b in BUGS)
    print(f"about {total / 60:.0f} hours in all")
    return 0


def _start(args):
    written, kept = start(args.dir)
    print(f"wrote {len(written)} exercise files to {args.dir}"
          + (f"; kept {len(kept)} that were there: {', '.join(kept)}" if kept else ""))
    print(f"start with {args.dir}/{file_name(TASKS[0].name)}; grade your work with: "
          f"minivae exercises check {args.dir}")
    return 0


def _solve(args):
    written, kept = solve(args.dir, resolve_names(args.tasks), force=args.force)
    print(f"wrote {len(written)} reference solutions to {args.dir}")
    if kept:
        print(f"kept {len(kept)} files that differ from their stubs (your work?): "
              f"{', '.join(kept)}; --force overwrites them", file=sys.stderr)
    return 0


def _check(args):
    results = grade(args.dir, args.tasks)
    if not args.quiet:
        print(details(results))
        print()
    print(score_table(results))
    return 0 if passed(results) else 1


def add_exercises_command(sub):
    """Add ``exercises`` and its four sub-commands to the sub-parsers ``sub``."""
    p = sub.add_parser("exercises", help="the course: exercise stubs, a grader and bug hunts",
                       description="Exercises cut from the package's own teaching functions: "
                                   "start a workspace, check it, train with it (minivae train "
                                   "--engine reference --exercises DIR); solve fills in the "
                                   "reference solutions. See docs/exercises.md.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="the tasks and bug hunts, in course order, with times",
                       description="List the tasks and bug hunts in course order, with the "
                                   "minutes each should take and the package functions each "
                                   "replaces.").set_defaults(func=_list)
    s = actions.add_parser("start", help="write a workspace of stubs into DIR (existing files "
                                         "are kept)",
                           description="Write one stub file per task and per bug hunt into DIR "
                                       "(created if needed). A file that exists is kept, so "
                                       "running it again never loses work.")
    s.add_argument("dir", metavar="DIR", help="the workspace directory (required)")
    s.set_defaults(func=_start)
    c = actions.add_parser("check", help="grade the workspace DIR; exit status 0 only when every "
                                         "exercise asked for passes",
                           description="Run every check of the exercises asked for (gradient "
                                       "checks, known answers, distribution tests, training "
                                       "curves) and print the failures and a score table. Exit "
                                       "status 0 only when all of them pass, else 1.")
    c.add_argument("dir", metavar="DIR", help="the workspace directory (required)")
    c.add_argument("tasks", nargs="*", metavar="TASK", help="names or numbers (default: all)")
    c.add_argument("--quiet", action="store_true", help="only the score table")
    c.set_defaults(func=_check)
    v = actions.add_parser("solve", help="write the reference solutions into DIR (for teachers)",
                           description="Write the reference solutions into DIR (a workspace; "
                                       "made first if there is none). A file that differs from "
                                       "its stub is kept unless --force.")
    v.add_argument("dir", metavar="DIR", help="the workspace directory (required)")
    v.add_argument("tasks", nargs="*", metavar="TASK", help="names or numbers (default: all)")
    v.add_argument("--force", action="store_true",
                   help="overwrite files that differ from their stubs")
    v.set_defaults(func=_solve)


def exercises_context(args):
    """For ``minivae train --exercises DIR``: a context in which the reference engine runs the
    student's written tasks (a null context without the option)."""
    directory = getattr(args, "exercises", None)
    if directory is None:
        return contextlib.nullcontext()
    if args.engine != "reference":
        raise UsageError("--exercises trains with your functions on the readable engine: add "
                         "--engine reference")
    replacements, modules, used, skipped = student_functions(directory)
    results = grade(directory, used)
    failing = [name for name, rs in results.items() if not all(r.status == "pass" for r in rs)]
    if not args.quiet:
        print(f"your functions from {directory}: {', '.join(used) or 'none yet'}"
              + (f"; the package's for {', '.join(skipped)}" if skipped else ""), file=sys.stderr)
        if failing:
            print(f"  warning: {', '.join(failing)} fail{'s' if len(failing) == 1 else ''} "
                  f"checks (minivae exercises check {directory}); training with them anyway",
                  file=sys.stderr)
    return substituted(replacements, modules)
