"""Every tutorial runs end to end in its fast mode."""
import os
import runpy
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("[0-9][0-9]_*.py"))


def test_there_are_tutorials():
    assert TUTORIALS


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(path, monkeypatch, capsys):
    monkeypatch.setitem(os.environ, "MINIVAE_FAST", "1")
    runpy.run_path(str(path), run_name="__main__")
    assert "PASSED" in capsys.readouterr().out
