"""The docs' marked numbers equal what their commands print today (see ``tests/docs_numbers.py``).

The markers' syntax and the commands' arguments are checked quickly; re-running the commands is
``slow``. Under ``CI=true`` each run executes its ``ci:`` command (a smaller budget, or none), so
some numbers are checked only outside CI; the pages say which.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import docs_numbers as dn
from strategies import in_ci

MARKERS = dn.read_markers()


def test_markers_parse_and_name_declared_runs():
    assert MARKERS.errors == []
    assert MARKERS.runs and MARKERS.values


def test_every_result_in_a_table_is_marked_or_its_section_says_it_is_not_re_run():
    assert dn.unmarked_results() == []


def test_an_unmarked_result_is_found_unless_its_section_is_dated(tmp_path):
    page = tmp_path / "docs" / "p.md"
    page.parent.mkdir()
    page.write_text("# A\n\n| x | 1.25 | 0.5 |\n\n# B\n\nMade at X; not re-run since.\n\n| y | 3.25 |\n"
                    "\n# C\n\n| z | 4.25<!--docnum r stdout.z--> |\n\n```\n| code | 5.25 |\n```\n")
    assert dn.unmarked_results(tmp_path) == ["docs/p.md:3: 1.25"]


@pytest.mark.parametrize("name", sorted(MARKERS.runs))
def test_each_run_quotes_numbers_and_its_commands_parse(name, tmp_path):
    """Every declared run is quoted on some page, and its commands are accepted by their parsers
    (with ``{out}`` an existing, empty directory: commands that read a run check that it exists)."""
    run = MARKERS.runs[name]
    assert MARKERS.of(name), f"run {name} is declared but no number or table names it"
    for cmd in run.cmds + (run.commands(ci=True) or []):
        argv, _ = dn.argv_of(cmd, str(tmp_path))
        for word in argv:  # a directory inside {out} that an earlier command of the run makes
            if word.startswith(f"{tmp_path}/") and cmd is not run.cmds[0]:
                Path(word).mkdir(parents=True, exist_ok=True)
        _parse_only(argv[1:] if argv[1] == "-c" else argv[2:])


def _parse_only(argv):
    """Parse ``-m module args...`` with the module's own parser, running nothing."""
    module, args = argv[0], argv[1:]
    if argv[0] == "-c":
        compile(argv[1], "<docs command>", "exec")
    elif module == "minivae":
        from minivae.cli.commands import build_parser
        build_parser().parse_args(args)
    elif module == "minivae.experiments.reparam_variance":
        from minivae.experiments.reparam_variance import _parser
        _parser().parse_args(args)
    else:
        pytest.fail(f"no parser known for python -m {module}")


def test_a_marker_not_after_a_number_is_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "<!-- docnum run r\ncmd: minivae train --out {out}\nci: skip\n-->\n"
        "| a | 1.25<!--docnum r history.json[samples=0].test_bound--> |\n"
        "| b | n/a <!--docnum r history.json[samples=0].test_bound--> |\n"
        "| c | 2.5<!--docnum nosuch stdout.x--> |\n")
    found = dn.read_markers(tmp_path)
    assert [v.printed for v in found.values] == ["1.25", "2.5"]
    assert any("not right after a number" in e for e in found.errors)
    assert any("'nosuch'" in e for e in found.errors)


def test_compare_rounds_to_the_printed_digits_and_update_rewrites(tmp_path):
    page = tmp_path / "docs" / "p.md"
    page.parent.mkdir()
    page.write_text("<!-- docnum run r\ncmd: minivae train --out {out}\nci: same\n-->\n"
                    "x \u2212145.63<!--docnum r history.json[samples=200000].train_bound--> and "
                    "1,765<!--docnum r stdout.n--> and +1.2<!--docnum r stdout.d[1]-->\n")
    found = dn.read_markers(tmp_path)
    outputs = {"history.json": [{"samples": 0, "train_bound": -1.0},
                                {"samples": 200000, "train_bound": -149.7911}],
               "stdout": {"n": 1765, "d": [0, 1.249]}}
    wrong, absent = dn.compare(found.values, outputs)
    assert absent == []
    assert [(v.printed, new) for v, new in wrong] == [("\u2212145.63", "\u2212149.79")]
    dn.update(tmp_path, wrong)
    assert "x \u2212149.79<!--docnum" in page.read_text()
    assert dn.compare(dn.read_markers(tmp_path).values, outputs) == ([], [])


def test_a_marked_table_is_compared_line_for_line_and_updated(tmp_path):
    page = tmp_path / "docs" / "p.md"
    page.parent.mkdir()
    page.write_text("<!-- docnum run r\ncmd: minivae train --out {out}\nci: same\n-->\ntext\n\n"
                    "<!-- docnum table r tables.md 1 -->\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n")
    found = dn.read_markers(tmp_path)
    assert found.errors == [] and len(found.tables) == 1
    outputs = {"tables.md": "| x |\n|---|\n\n| a | b |\n|---|---|\n| 1 | 3 |"}
    wrong, absent = dn.compare(found.of("r"), outputs)
    assert absent == [] and [new for _, new in wrong] == ["| a | b |\n|---|---|\n| 1 | 3 |\n"]
    assert "- | 1 | 2 |" in dn.report(found.runs["r"], wrong)
    dn.update(tmp_path, wrong)
    assert page.read_text().endswith("| 1 | 3 |\n\nafter\n")
    assert dn.compare(dn.read_markers(tmp_path).of("r"), outputs) == ([], [])


def test_lookup_selects_by_fields_and_reports_an_absent_or_ambiguous_entry():
    rows = {"r.json": {"rows": [{"f": "z^2", "p": "loc", "v": 1}, {"f": "z^2", "p": "scale", "v": 2},
                                {"f": "1/(1+z^2)", "p": "loc", "v": 3}]}}
    assert dn.lookup(rows, "r.json.rows[f=z^2,p=scale].v") == 2
    assert dn.lookup(rows, "r.json.rows[f=1/(1+z^2)].v") == 3
    with pytest.raises(KeyError):
        dn.lookup(rows, "r.json.rows[f=z^2].v")
    with pytest.raises(KeyError):
        dn.lookup({"history.json": [{"samples": 0}]}, "history.json[samples=100000].train_bound")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MARKERS.runs))
def test_marked_numbers_equal_what_the_command_prints(name, tmp_path):
    run = MARKERS.runs[name]
    cmds = run.commands(in_ci())
    if cmds is None:
        pytest.skip(f"run {name} is not re-run under CI=true (ci: skip); its commands were parsed above")
    if not run.pytest:
        pytest.skip(f"run {name} takes minutes (pytest: skip); check it with "
                    f"python tests/docs_numbers.py --run {name}")
    outputs, _ = dn.execute(cmds, tmp_path)
    values = MARKERS.of(name)
    wrong, absent = dn.compare(values, outputs)
    assert not wrong, dn.report(run, wrong)
    if cmds == run.cmds:
        assert not absent, [f"{v.where()}: not in the output of {cmds}" for v in absent]
    else:
        assert len(absent) < len(values), f"the CI command of run {name} checks none of its numbers"
