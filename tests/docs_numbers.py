"""Numbers in the docs that a command re-makes: their markers, the runs, and an update mode.

A page declares a run once, in an HTML comment (invisible when rendered)::

    <!-- docnum run frey-s0
    cmd: minivae train --dataset frey --n-latent 10 --samples 2e5 --seed 0 --eval-every 1e5 --out {out} --quiet
    ci: same
    -->

``cmd`` is what the check runs (``minivae ...`` runs as ``python -m minivae ...``, leading
``NAME=value`` words set environment variables, ``{out}`` is a fresh directory); several ``cmd``
lines run in order in the same ``{out}``. ``ci`` says what happens when ``CI=true``: ``same``
runs the commands; another command runs instead (a smaller budget), and the numbers its output
does not hold are checked only outside CI; ``skip`` checks the run's numbers only outside CI.
``pytest: skip`` (for runs of minutes) leaves the run to this script alone. Run names are shared
by all pages.

Every number the run makes carries a marker right after it::

    | train | 640.79<!--docnum frey-s0 history.json[samples=100000].train_bound--> | ...

The path names a JSON file in ``{out}`` (or ``stdout``, the last command's output parsed as
JSON) and then keys (``.name``), list indices (``[0]``) and list entries selected by fields
(``[samples=100000]``, ``[family=pareto,param=scale]``). The printed number is compared with the
value rounded to the printed number of decimals; a string value (such as ``"8/11"``) must equal
the printed text.

A whole table can be marked instead; it must equal, line for line, the ``N``-th markdown table
(counting from 0) of a text file the run writes into ``{out}``::

    <!-- docnum table reparam-families tables.md 1 -->
    | family | param | ...

``python tests/docs_numbers.py`` runs every run and reports; ``--update`` also writes the new
values into the pages at their printed precision; ``--run NAME`` restricts both to some runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/*.md")
MINUS = "\u2212"

RUN_RE = re.compile(r"<!--\s*docnum run\s+(?P<name>[\w.-]+)\s*\n(?P<body>.*?)-->", re.S)
VALUE_RE = re.compile(
    r"(?P<number>\d+/\d+|[+\-\u2212]?\d[\d,]*(?:\.\d+)?)(?P<emph>\**)"
    r"<!--\s*docnum\s+(?P<run>[\w.-]+)\s+(?P<path>\S+)\s*-->")
TABLE_RE = re.compile(r"<!--\s*docnum table\s+(?P<run>[\w.-]+)\s+(?P<file>[\w.-]+)\s+(?P<index>\d+)\s*-->\n"
                      r"(?P<table>(?:\|.*\n)+)")
STEP_RE = re.compile(r"\.(?P<key>[A-Za-z_]\w*)|\[(?P<index>-?\d+)\]|\[(?P<select>\w+=[^\]]+)\]")


@dataclass
class Run:
    """Commands whose output the pages quote, run in order in one ``{out}``."""
    name: str
    cmds: list[str]
    ci: str
    pytest: bool
    page: str
    line: int

    def commands(self, ci: bool) -> list[str] | None:
        """The commands to run, or None when the run is skipped here."""
        if not ci or self.ci == "same":
            return self.cmds
        return None if self.ci == "skip" else [self.ci]


@dataclass
class Value:
    """A printed number and the run output it must equal."""
    run: str
    path: str
    printed: str
    page: str
    line: int
    span: tuple[int, int]

    @property
    def decimals(self) -> int:
        return len(self.printed.split(".")[1]) if "." in self.printed else 0

    def expected(self, value) -> str:
        """``value`` written the way this number is printed (digits, sign, minus, commas)."""
        if isinstance(value, str):
            return value
        text = f"{float(value):,.{self.decimals}f}" if "," in self.printed else f"{float(value):.{self.decimals}f}"
        if text.startswith("-"):
            text = (MINUS if self.printed.startswith(MINUS) else "-") + text[1:]
        elif self.printed.startswith("+"):
            text = "+" + text
        return text

    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class Table:
    """A markdown table that must equal the ``index``-th table of a text file the run writes."""
    run: str
    file: str
    index: int
    printed: str
    page: str
    line: int
    span: tuple[int, int]

    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class Markers:
    runs: dict[str, Run] = field(default_factory=dict)
    values: list[Value] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def of(self, run: str) -> list:
        return [m for m in self.values + self.tables if m.run == run]


def pages(root: Path = ROOT) -> list[Path]:
    found = []
    for pattern in PAGES:
        found.extend(sorted(root.glob(pattern)))
    return found


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _parse_run(name: str, body: str, page: str, line: int) -> Run | str:
    cmds, fields = [], {}
    for raw in body.strip().splitlines():
        key, sep, rest = raw.strip().partition(":")
        if not sep or key not in ("cmd", "ci", "pytest"):
            return f"{page}:{line}: run {name}: expected 'cmd:', 'ci:' or 'pytest:' lines, got {raw.strip()!r}"
        if key == "cmd":
            cmds.append(rest.strip())
        else:
            fields[key] = rest.strip()
    if not cmds or "ci" not in fields:
        return f"{page}:{line}: run {name} needs a 'cmd:' and a 'ci:' line"
    if fields.get("pytest", "yes") not in ("yes", "skip"):
        return f"{page}:{line}: run {name}: 'pytest:' is 'yes' or 'skip'"
    if fields["ci"] not in ("same", "skip") and len(cmds) > 1:
        return f"{page}:{line}: run {name}: a run of several commands has 'ci: same' or 'ci: skip'"
    if fields.get("pytest") == "skip" and fields["ci"] != "skip":
        return f"{page}:{line}: run {name}: 'pytest: skip' goes with 'ci: skip'"
    return Run(name, cmds, fields["ci"], fields.get("pytest", "yes") == "yes", page, line)


def read_markers(root: Path = ROOT) -> Markers:
    """Every run and every marked number on the pages under ``root``."""
    found = Markers()
    for path in pages(root):
        text = path.read_text(encoding="utf-8")
        page = str(path.relative_to(root))
        for m in RUN_RE.finditer(text):
            run = _parse_run(m["name"], m["body"], page, _line_of(text, m.start()))
            if isinstance(run, str):
                found.errors.append(run)
            elif run.name in found.runs:
                other = found.runs[run.name]
                found.errors.append(f"{page}:{run.line}: run {run.name} also declared at {other.page}:{other.line}")
            else:
                found.runs[run.name] = run
        for m in VALUE_RE.finditer(text):
            found.values.append(Value(m["run"], m["path"], m["number"], page, _line_of(text, m.start()),
                                      m.span("number")))
        for m in TABLE_RE.finditer(text):
            found.tables.append(Table(m["run"], m["file"], int(m["index"]), m["table"], page,
                                      _line_of(text, m.start("table")), m.span("table")))
        tables = sum(1 for t in found.tables if t.page == page)
        if len(re.findall(r"<!--\s*docnum table\b", text)) != tables:
            found.errors.append(f"{page}: a 'docnum table' marker is not followed by a table")
        marked = len(re.findall(r"<!--\s*docnum\s+(?!run\b|table\b)", text))
        placed = sum(1 for v in found.values if v.page == page)
        if marked != placed:
            found.errors.append(f"{page}: {marked - placed} docnum marker(s) not right after a number")
    for v in found.values + found.tables:
        if v.run not in found.runs:
            found.errors.append(f"{v.where()}: {v.printed.strip()[:40]} names run {v.run!r}, which no page declares")
    for v in found.values:
        try:
            parse_path(v.path)
        except ValueError as e:
            found.errors.append(f"{v.where()}: {e}")
    return found


def parse_path(path: str) -> tuple[str, list[tuple]]:
    """``'history.json[samples=0].test_bound'`` -> ``('history.json', [('select', {'samples': '0'}), ('key', 'test_bound')])``.

    ``[a=1,b=x]`` selects the one list entry whose fields match all the conditions.
    """
    m = re.match(r"(stdout|[\w.-]+?\.json)(?=[.\[]|$)", path)
    if not m:
        raise ValueError(f"path {path!r} must start with 'stdout' or a JSON file name")
    steps, pos = [], m.end()
    while pos < len(path):
        s = STEP_RE.match(path, pos)
        if not s:
            raise ValueError(f"path {path!r}: cannot read {path[pos:]!r}")
        if s["key"]:
            steps.append(("key", s["key"]))
        elif s["index"]:
            steps.append(("index", int(s["index"])))
        else:
            steps.append(("select", dict(cond.split("=", 1) for cond in s["select"].split(","))))
        pos = s.end()
    return m[1], steps


def _matches(got, want: str) -> bool:
    try:
        return float(got) == float(want)
    except (TypeError, ValueError):
        return str(got) == want


def lookup(outputs: dict, path: str):
    """The value at ``path`` in ``outputs`` (``{'stdout': ..., 'history.json': ...}``); KeyError if absent."""
    source, steps = parse_path(path)
    node = outputs[source]
    for step in steps:
        if step[0] == "key":
            node = node[step[1]]
        elif step[0] == "index":
            node = node[step[1]]
        else:
            hits = [item for item in node if all(_matches(item.get(k), want) for k, want in step[1].items())]
            if len(hits) != 1:
                raise KeyError(f"{len(hits)} entries with {step[1]}")
            node = hits[0]
    return node


def argv_of(cmd: str, out: str) -> tuple[list[str], dict[str, str]]:
    """The command as an argv for this Python, and its environment settings."""
    words = shlex.split(cmd.replace("{out}", out))
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words[:1] == ["minivae"]:
        words = [sys.executable, "-m", "minivae"] + words[1:]
    elif words[:1] == ["python"]:
        words = [sys.executable] + words[1:]
    else:
        raise ValueError(f"command must start with 'minivae' or 'python': {cmd!r}")
    return words, env


def execute(cmds: list[str], workdir: Path) -> tuple[dict, float]:
    """Run ``cmds`` with ``{out}`` = ``workdir/out``; return the JSON files in it, the last
    command's output as ``stdout`` if it is JSON, and the wall time in seconds."""
    out, start, stdout = workdir / "out", time.perf_counter(), ""
    for cmd in cmds:
        argv, env = argv_of(cmd, str(out))
        done = subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd!r} exited with {done.returncode}:\n{done.stderr[-3000:]}")
        stdout = done.stdout
    seconds = time.perf_counter() - start
    outputs = {}
    for path in sorted(out.glob("*")) if out.is_dir() else []:
        if path.suffix == ".json":
            outputs[path.name] = json.loads(path.read_text())
        elif path.suffix == ".md":
            outputs[path.name] = path.read_text()
    try:
        outputs["stdout"] = json.loads(stdout)
    except json.JSONDecodeError:
        pass
    return outputs, seconds


def tables_in(text: str) -> list[str]:
    """The markdown tables in ``text``: runs of lines that start with ``|``."""
    return re.findall(r"(?:^\|.*(?:\n|$))+", text, re.M)


def _new_text(v, outputs):
    if isinstance(v, Table):
        table = tables_in(outputs[v.file])[v.index]
        return table if table.endswith("\n") else table + "\n"
    return v.expected(lookup(outputs, v.path))


def compare(values: list, outputs: dict) -> tuple[list[tuple], list]:
    """``(mismatches as (marked number or table, new text), those the outputs do not hold)``."""
    wrong, absent = [], []
    for v in values:
        try:
            new = _new_text(v, outputs)
        except (KeyError, IndexError, TypeError):
            absent.append(v)
            continue
        if new != v.printed:
            wrong.append((v, new))
    return wrong, absent


def report(run: Run, wrong: list[tuple[Value, str]]) -> str:
    lines = [f"run {run.name} ({run.page}:{run.line}): {len(wrong)} printed number(s) differ from "
             f"`{' && '.join(run.cmds)}`:"]
    for v, new in wrong:
        if isinstance(v, Table):
            old, now = v.printed.splitlines(), new.splitlines()
            diff = [f"    - {a}\n    + {b}" for a, b in zip(old, now) if a != b]
            lines.append(f"  {v.where()}: table differs from table {v.index} of {v.file}:\n" + "\n".join(diff))
        else:
            lines.append(f"  {v.where()}: printed {v.printed}, now {new}  ({v.path})")
    lines.append("  to write the new values into the pages: python tests/docs_numbers.py --update "
                 f"--run {run.name}")
    return "\n".join(lines)


def update(root: Path, wrong: list[tuple[Value, str]]) -> None:
    """Replace each wrong printed number by its new text, last span first so offsets hold."""
    for page in sorted({v.page for v, _ in wrong}):
        path = root / page
        text = path.read_text(encoding="utf-8")
        for v, new in sorted(((v, n) for v, n in wrong if v.page == page), key=lambda p: -p[0].span[0]):
            text = text[:v.span[0]] + new + text[v.span[1]:]
        path.write_text(text, encoding="utf-8")


RESULT_RE = re.compile(r"[+\-\u2212]?\d+\.\d{2,}")
STALE = "not re-run since"
NOT_RESULTS = ("docs/performance.md", "docs/equations.md")  # dated timings; the paper's constants


def unmarked_results(root: Path = ROOT) -> list[str]:
    """Table cells with a number of two or more decimals that carry no ``docnum`` marker, are in
    no marked table, and stand in a section (from its heading) that does not say it was
    "not re-run since". Pages in ``NOT_RESULTS`` are left out."""
    found = []
    for path in pages(root):
        page = str(path.relative_to(root))
        if page in NOT_RESULTS:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        section, marked_table, in_code = "", False, False
        for number, line in enumerate(lines, 1):
            if line.startswith("```"):
                in_code = not in_code
            if in_code:
                continue
            if line.startswith("#"):
                section = ""
            section += line + "\n"
            stripped = line.strip()
            if stripped.startswith("<!--") and "docnum table" in stripped:
                marked_table = True
            elif not stripped.startswith("|"):
                marked_table = marked_table and stripped.startswith("<!--")
                continue
            if marked_table or STALE in section:
                continue
            for cell in stripped.strip("|").split("|"):
                if RESULT_RE.search(cell) and "docnum" not in cell:
                    found.append(f"{page}:{number}: {cell.strip()}")
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Re-run the commands behind the docs' marked numbers.")
    p.add_argument("--update", action="store_true", help="write the new values into the pages")
    p.add_argument("--run", nargs="+", help="only these runs (default: all)")
    p.add_argument("--ci", action="store_true", help="run what CI runs (the 'ci:' commands)")
    args = p.parse_args(argv)
    markers = read_markers()
    if markers.errors:
        print("\n".join(markers.errors), file=sys.stderr)
        return 1
    unknown = set(args.run or ()) - set(markers.runs)
    if unknown:
        print(f"no such run: {', '.join(sorted(unknown))}; runs: {', '.join(markers.runs)}", file=sys.stderr)
        return 2
    status, all_wrong = 0, []
    for name, run in markers.runs.items():
        if args.run and name not in args.run:
            continue
        cmds = run.commands(args.ci)
        if cmds is None:
            print(f"run {name}: skipped (ci: skip)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            outputs, seconds = execute(cmds, Path(tmp))
        values = markers.of(name)
        wrong, absent = compare(values, outputs)
        print(f"run {name}: {len(values) - len(absent)} of {len(values)} numbers checked, "
              f"{len(wrong)} differ; {seconds:.0f} s wall")
        if absent and cmds == run.cmds:
            print("\n".join(f"  {v.where()}: not in the output" for v in absent))
            status = 1
        if wrong:
            print(report(run, wrong))
            all_wrong += wrong
            status = 1
    if args.update and all_wrong:
        update(ROOT, all_wrong)
        print(f"updated {len(all_wrong)} number(s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
