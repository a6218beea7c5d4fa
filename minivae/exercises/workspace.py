r"""A student's workspace: one file per task, written by :func:`start`, filled in by :func:`solve`,
loaded by :func:`load_task`.

Files are numbered in course order: ``01_activations.py`` ... ``15_aevb_step.py`` for the tasks
(:data:`~minivae.exercises.tasks.TASKS`), then ``16_bug_log_sigma_half.py`` ... for the bug hunts
(:data:`~minivae.exercises.bughunts.BUGS`). ``exercises.json`` records the files and a hash of
each stub as written, so that :func:`solve` never overwrites a student's work unless told to.
"""
import hashlib
import importlib.util
import json
import textwrap
from pathlib import Path

from .bughunts import BUGS
from .grading import KINDS
from .source import imports, render, resolve
from .tasks import TASKS

__all__ = ["MANIFEST", "EXERCISES", "file_name", "task_file", "start", "solve", "load_task",
           "read_manifest", "ExerciseError", "written", "student_functions"]

MANIFEST = "exercises.json"
EXERCISES = {t.name: t for t in TASKS} | {b.name: b for b in BUGS}
"""Every exercise by name: the tasks, then the bug hunts."""


class ExerciseError(ValueError):
    """A workspace or exercise name the command cannot use (one line, exit status 2)."""


def file_name(name):
    """The workspace file of exercise ``name``: ``05_kl.py``, ``19_bug_kl_sign.py``."""
    order = list(EXERCISES).index(name) + 1
    return f"{order:02d}_{'bug_' if name not in {t.name for t in TASKS} else ''}{name}.py"


def _fill(*paragraphs):
    return "\n\n".join(textwrap.fill(p, 96) for p in paragraphs)


def _task_header(task, n):
    functions = ", ".join(f.replace(":", ".") for f in task.functions)
    text = _fill(f"Exercise {n} of {len(TASKS)}, {task.name}: {task.title} ({task.where}).",
                 task.intro,
                 f"Replaces {functions}; once its checks pass, `minivae train --engine reference "
                 f"--exercises DIR` trains with your version. Expected time: {task.minutes} minutes.",
                 'Write the lines between "your code: begin" and "your code: end" (each part raises '
                 'NotImplementedError until you do; "# define:" names the variables the given lines '
                 'after it use). Everything else is given. Check your work with')
    return f'"""{text}\n\n    minivae exercises check DIR {task.name}\n"""'


def _bug_header(bug):
    kinds = ", ".join(repr(k) for k in KINDS)
    text = _fill(f"Bug hunt, {bug.name}: {bug.title} (breaks task {bug.task}).", bug.story,
                 "The functions below are complete, and one of them carries this bug. Two things "
                 "to do:")
    steps = "\n".join(textwrap.fill(step, 96, subsequent_indent="   ") for step in (
        f"1. Run `minivae exercises check DIR {bug.name}` and find which kind of check catches "
        f"the bug; set CAUGHT_BY to it: one of {kinds}. Ask yourself why the others cannot see it.",
        f"2. Fix the code, so that every check of the task passes. Expected time: {bug.minutes} "
        f"minutes."))
    return f'"""{text}\n{steps}\n"""'


def _functions(exercise):
    task = EXERCISES[exercise.task] if hasattr(exercise, "task") else exercise
    return task, [resolve(path) for path in task.functions]


def task_file(name, mode):
    """The text of exercise ``name``'s workspace file: ``mode`` ``"stub"`` (for the student; a
    bug hunt's file is its buggy code) or ``"solution"``."""
    exercise = EXERCISES[name]
    task, funcs = _functions(exercise)
    defined = {f.__name__ for f in funcs}
    if hasattr(exercise, "task"):
        header, bug = _bug_header(exercise), exercise
    else:
        header, bug = _task_header(exercise, list(EXERCISES).index(name) + 1), None
    lines = [imports(funcs, skip=defined)]
    if bug is not None and mode == "stub":
        lines += list(bug.imports)
    parts = [header, "\n".join(lines)]
    for func in funcs:
        if bug is None:
            parts.append(render(func, task.name, mode))
        else:
            edits = bug.edits.get(func.__name__, ()) if mode == "stub" else ()
            parts.append(render(func, task.name, "solution", edits))
    if bug is not None:
        answer = sorted(bug.caught_by)[0] if mode == "solution" else None
        parts.append(f"CAUGHT_BY = {answer!r}  # which check catches the bug: one of "
                     f"{', '.join(map(repr, KINDS))}")
    return "\n\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def _hash(text):
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(directory):
    """The workspace's ``exercises.json``, or :class:`ExerciseError` if ``directory`` is none."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ExerciseError(f"{directory} is not an exercises workspace (no {MANIFEST}); create one "
                            f"with: minivae exercises start {directory}")
    return json.loads(path.read_text())


def _write_manifest(directory, manifest):
    (Path(directory) / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def start(directory):
    """Write the stubs of every exercise into ``directory`` (created if needed); files that
    exist already are kept. Returns ``(written, kept)``, lists of file names."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ExerciseError(f"{directory} is a file, not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"format": 1, "files": {}, "stub_sha256": {}}
    written, kept = [], []
    for name in EXERCISES:
        file, text = file_name(name), task_file(name, "stub")
        manifest["files"][name], manifest["stub_sha256"][file] = file, _hash(text)
        if (directory / file).exists():
            kept.append(file)
            continue
        (directory / file).write_text(text)
        written.append(file)
    _write_manifest(directory, manifest)
    return written, kept


def solve(directory, names=None, force=False):
    """Write the reference solutions of ``names`` (default: all) into ``directory``, a workspace
    (:func:`start` makes one first if there is none). A file that differs from its stub is a
    student's work: it is kept unless ``force``. Returns ``(written, kept)``."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        start(directory)
    manifest = read_manifest(directory)
    written, kept = [], []
    for name in names or list(EXERCISES):
        file = file_name(name)
        path = directory / file
        if path.exists() and not force and _hash(path.read_text()) != manifest["stub_sha256"].get(file):
            kept.append(file)
            continue
        path.write_text(task_file(name, "solution"))
        written.append(file)
    return written, kept


def load_task(directory, name):
    """The workspace file of exercise ``name``, imported as a fresh module."""
    path = Path(directory) / file_name(name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; minivae exercises start {directory} writes it")
    spec = importlib.util.spec_from_file_location(f"minivae_exercise_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def written(module, name):
    """Whether the student has written task ``name`` in ``module`` (no stub part is left)."""
    return f'raise NotImplementedError("{name}:' not in Path(module.__file__).read_text()


def student_functions(directory):
    """The student's functions of every written task of the workspace in ``directory``.

    Returns
    -------
    replacements : dict, package function -> the student's
    modules : list, the loaded modules (their globals are substituted too)
    used, skipped : lists of task names, written and still stubs
    """
    read_manifest(directory)
    replacements, modules, used, skipped = {}, [], [], []
    for task in TASKS:
        module = load_task(directory, task.name)
        if not written(module, task.name):
            skipped.append(task.name)
            continue
        for path in task.functions:
            func = resolve(path)
            replacements[func] = getattr(module, func.__name__)
        modules.append(module)
        used.append(task.name)
    return replacements, modules, used, skipped
