"""The documentation site builds with ``mkdocs build --strict``: every page, every link, the API
from the docstrings, and every tutorial executed (fast mode) with its outputs and figures."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS_MODULES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python",
                "mkdocs_jupyter", "jupytext", "pymdownx", "ipykernel")
MISSING = [m for m in DOCS_MODULES if importlib.util.find_spec(m.split(".")[0]) is None
           or importlib.util.find_spec(m) is None]
TUTORIALS = sorted(p.stem for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py"))

pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed (missing {', '.join(MISSING)}): "
                          f"pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "MINIVAE_FAST": "1", "PYTHONPATH": str(ROOT)}  # this checkout's code
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    return out


@pytest.mark.slow
def test_every_tutorial_is_a_page_with_outputs_and_a_figure(site):
    assert TUTORIALS
    for name in TUTORIALS:
        html = (site / "tutorials" / name / "index.html").read_text()
        assert "PASSED" in html, f"{name}: the check-yourself output is not on the page"
        assert "data:image/png" in html, f"{name}: no figure on the page"


@pytest.mark.slow
def test_api_and_derivation_pages_are_built(site):
    api = (site / "api" / "core" / "index.html").read_text()
    assert 'id="minivae.gaussian.kl_forward"' in api
    assert "arithmatex" in (site / "derivation" / "kl" / "index.html").read_text()
