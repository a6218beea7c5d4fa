"""The package's layers (docs/design.md): imports run one way, from a wing down to the readable
core, never up. Every import statement is read with ``ast``, those inside functions too."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minivae"

LAYERS = [  # bottom to top; a module may import from its own layer and the ones below
    ("foundations", ["minivae.validation", "minivae.broadcast", "minivae.flat", "minivae.datasets"]),
    ("readable core", ["minivae.activations", "minivae.layers", "minivae.gaussian", "minivae.likelihoods",
                       "minivae.prior", "minivae.estimators", "minivae.encoder", "minivae.decoder",
                       "minivae.reparam", "minivae.latent", "minivae.model", "minivae.optim",
                       "minivae.engine", "minivae.gradcheck", "minivae.modelcheck"]),
    ("fused engine", ["minivae.fused"]),
    ("training", ["minivae.training"]),
    ("exercises", ["minivae.exercises"]),
    ("baselines and log p(x)", ["minivae.baselines", "minivae.marginal", "minivae.fullvb"]),
    ("experiments", ["minivae.experiments"]),
    ("command line", ["minivae.cli", "minivae.__main__"]),
]


def layer_of(module):
    """The index in :data:`LAYERS` of ``module`` (longest matching prefix), or ``None``."""
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (i, len(prefix))
    return None if best is None else best[0]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield ".".join(parts), path, is_package


def imported(module, path, is_package):
    """Every minivae module or package that ``module``'s source imports from, absolute."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "minivae" or name.startswith("minivae."):
                yield name, node.lineno


def test_every_module_has_a_layer():
    missing = [m for m, _, _ in modules() if m != "minivae" and layer_of(m) is None]
    assert not missing, f"add these modules to a layer of tests/test_architecture.py: {missing}"


def test_no_import_runs_upward():
    upward = []
    for module, path, is_package in modules():
        if module == "minivae":  # the package's face re-exports the public names of every layer
            continue
        own = layer_of(module)
        for name, line in imported(module, path, is_package):
            target = layer_of(name)
            if target is not None and target > own:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({LAYERS[own][0]}) imports {name} "
                              f"({LAYERS[target][0]})")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import_inside_a_function(tmp_path):
    source = "def f():\n    from .training.trainer import Trainer\n    return Trainer\n"
    path = tmp_path / "model.py"
    path.write_text(source)
    names = [n for n, _ in imported("minivae.model", path, False)]
    assert "minivae.training.trainer" in names
    assert layer_of("minivae.training.trainer") > layer_of("minivae.model")


@pytest.mark.parametrize("path", ["VAE", "train", "Trainer", "datasets", "gradcheck", "reparam",
                                  "Adagrad", "save", "load"])
def test_the_public_paths_stay_importable(path):
    import minivae
    assert getattr(minivae, path) is not None
    assert path in minivae.__all__


def test_the_teaching_core_imports_no_numba():
    code = ("import sys, minivae, minivae.reparam, minivae.gradcheck, minivae.modelcheck, "
            "minivae.training.checkpoint, minivae.training.evaluation, minivae.marginal; "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_docs_design_pictures_every_layer_and_module():
    """docs/design.md's picture of the layers names each layer of :data:`LAYERS`, top to bottom,
    and each module or package in it, so that the page follows the code."""
    page = (ROOT / "docs" / "design.md").read_text()
    picture = page.split("## Layers", 1)[1].split("```")[1]
    lines = picture.splitlines()
    heads = [next((i for i, line in enumerate(lines) if line.startswith(f" {name} ")), None)
             for name, _ in LAYERS]
    assert None not in heads, f"layers missing from the picture: {[n for (n, _), h in zip(LAYERS, heads) if h is None]}"
    assert heads == sorted(heads, reverse=True), "the picture must show the layers top (command line) to bottom"
    for (name, prefixes), start in zip(LAYERS, heads):
        end = min([h for h in heads if h > start], default=len(lines))
        block = "\n".join(lines[start:end])
        for prefix in prefixes:
            short = prefix.removeprefix("minivae.")
            assert (prefix in block or f"{short}.py" in block or f"{short}/" in block), \
                f"docs/design.md's picture does not name {prefix} in the layer {name!r}"
