"""Docstrings keep their LaTeX: a backslash in a non-raw docstring turns ``\\theta`` into a tab
and ``\\beta`` into a backspace, which the API pages would then show."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTROL = "\t\x07\x08\x0b\x0c\r"


def test_no_docstring_holds_a_control_character_from_a_lost_backslash():
    bad = []
    for path in sorted((ROOT / "minivae").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False) or ""
                if any(c in doc for c in CONTROL):
                    bad.append(f"{path.relative_to(ROOT)}: {getattr(node, 'name', 'module')}")
    assert not bad, "make these docstrings raw (r\"\"\"...\"\"\"): " + ", ".join(bad)
