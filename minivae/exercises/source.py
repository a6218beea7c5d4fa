r"""Stubs and solutions cut from the package's own functions, so they cannot drift.

The teaching functions mark the lines a student writes::

    def kl_forward(mu, logvar):
        ...
        # exercise: kl begin
        kl = 0.5 * np.sum(mu * mu + (var_minus_1 - logvar), axis=-1)
        # exercise: end
        return kl, KLCache(mu, var_minus_1)

:func:`render` turns such a function into a *stub* (the marked lines replaced by
``raise NotImplementedError``, with the names they must define listed) or a *solution* (the
marked lines as they are), and :func:`imports` writes the import lines every name it uses needs.
"""
import ast
import builtins
import inspect
import re
import textwrap
import types

__all__ = ["BEGIN", "END", "MarkerError", "function_source", "render", "imports", "resolve"]

BEGIN = "# --- your code: begin " + "-" * 60
END = "# --- your code: end " + "-" * 62
_MARK = re.compile(r"^(?P<indent>\s*)# exercise: (?:(?P<task>\w+) begin|end)\s*$")


class MarkerError(ValueError):
    """A function's exercise markers are missing, unbalanced or name another task."""


def resolve(path):
    """The object that ``"module:qualname"`` names (``"minivae.model:VAE._bound_forward"``)."""
    module_name, _, qualname = path.partition(":")
    obj = __import__(module_name, fromlist=["_"])
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def function_source(func):
    """The source of ``func`` (a function or method), dedented to column 0."""
    return textwrap.dedent(inspect.getsource(func))


def _regions(lines, task, where):
    """``[(begin, end)]`` line indices of ``task``'s marked regions (the marker lines)."""
    regions, begin = [], None
    for i, line in enumerate(lines):
        match = _MARK.match(line)
        if not match:
            continue
        if match["task"] is not None:
            if begin is not None:
                raise MarkerError(f"{where}: nested '# exercise: ... begin' at line {i + 1}")
            if match["task"] != task:
                raise MarkerError(f"{where}: marker of task {match['task']!r}, expected {task!r}")
            begin = i
        else:
            if begin is None:
                raise MarkerError(f"{where}: '# exercise: end' without a begin at line {i + 1}")
            regions.append((begin, i))
            begin = None
    if begin is not None:
        raise MarkerError(f"{where}: '# exercise: {task} begin' is never ended")
    if not regions:
        raise MarkerError(f"{where}: no '# exercise: {task} begin' marker")
    return regions


def _stored_names(code):
    """Names assigned by the statements of ``code`` (dedented)."""
    names = []
    for node in ast.walk(ast.parse(textwrap.dedent(code))):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in names:
            names.append(node.id)
    return names


def _loaded_names(code):
    return {node.id for node in ast.walk(ast.parse(textwrap.dedent(code)))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def render(func, task, mode, edits=()):
    """``func``'s source as a ``"stub"`` or a ``"solution"`` of ``task``.

    Parameters
    ----------
    func : the package's function (or method)
    task : str, the task whose markers to cut
    mode : ``"stub"`` (marked lines replaced by ``raise NotImplementedError``) or ``"solution"``
    edits : pairs ``(old, new)`` applied to the solution text, each exactly once (a bug hunt's
        bug); ``MarkerError`` if ``old`` is not found once, so a bug cannot drift from the source
    """
    where = f"{func.__module__}.{func.__qualname__}"
    lines = function_source(func).splitlines()
    regions = _regions(lines, task, where)
    out, last = [], 0
    for begin, end in regions:
        indent = _MARK.match(lines[begin])["indent"]
        body = "\n".join(lines[begin + 1:end])
        after = "\n".join(line for line in lines[end + 1:] if not _MARK.match(line))
        out += lines[last:begin] + [indent + BEGIN]
        if mode == "stub":
            needed = [n for n in _stored_names(body) if n in _loaded_names(after)] if after.strip() else []
            if needed:
                out.append(f"{indent}# define: {', '.join(needed)}")
            out.append(f'{indent}raise NotImplementedError("{task}: {func.__name__} is not '
                       f'written yet")')
        elif mode == "solution":
            out += lines[begin + 1:end]
        else:
            raise ValueError(f"mode must be 'stub' or 'solution', got {mode!r}")
        out.append(indent + END)
        last = end + 1
    text = "\n".join(out + lines[last:]) + "\n"
    for old, new in edits:
        if text.count(old) != 1:
            raise MarkerError(f"{where}: a bug's edit expects {old!r} exactly once in the source")
        text = text.replace(old, new)
    return text


def _free_names(source):
    """Global names ``source`` (one function) reads: loaded, never bound in it, not builtins."""
    tree = ast.parse(source)
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            args = node.args
            bound |= {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
            bound |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    loaded = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound
                and not hasattr(builtins, node.id) and node.id not in loaded):
            loaded.append(node.id)
    return loaded


def imports(funcs, skip=()):
    """Import lines for every global name the sources of ``funcs`` read, except ``skip`` (the
    functions defined beside them): ``import numpy as np``, ``from minivae.gaussian import ...``."""
    modules, names = set(), {}
    for func in funcs:
        for name in _free_names(function_source(func)):
            if name in skip:
                continue
            obj = func.__globals__[name]
            if isinstance(obj, types.ModuleType):
                modules.add(f"import {obj.__name__}" if obj.__name__ == name
                            else f"import {obj.__name__} as {name}")
            else:
                names.setdefault(func.__module__, set()).add(name)
    lines = sorted(modules)
    for module in sorted(names):
        line = f"from {module} import {', '.join(sorted(names[module]))}"
        if len(line) > 100:
            wrapped = textwrap.wrap(", ".join(sorted(names[module])), 84 - len(module))
            line = f"from {module} import (" + f",\n{' ' * (len(module) + 14)}".join(
                w.rstrip(",") for w in wrapped) + ")"
        lines.append(line)
    return "\n".join(lines)
