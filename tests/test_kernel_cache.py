"""Numba's disk cache of the compiled loops: right in every compile order, fresh after every edit.

Each test starts new Python processes over a new ``NUMBA_CACHE_DIR``, because what goes wrong
with a disk cache shows only when one process loads what another compiled.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minivae.fused.kernels import diskcache

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys
import numpy as np
from minivae import VAE
from minivae.fused import kernels
from minivae.fused.backend import use_backend
from minivae.fused.engine import fast_path

kernels.force_compiled_loops(True)  # the transcendental loops too, wherever libmvec is
wrong = []
for spec in sys.argv[1:]:
    decoder, dtype = spec.split(":")
    model = VAE(20, n_hidden=7, n_latent=3, decoder=decoder, init_std=0.3, seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    X = rng.random((6, 20))
    X = ((X < 0.5) * 1.0 if decoder == "bernoulli" else X).astype(dtype)
    eps = rng.standard_normal((1, 6, 3)).astype(dtype)
    loss, grads = model.loss_and_grads(X, eps, "B")
    with use_backend("numba"):
        fused_loss, fused_grads = fast_path(model).loss_and_grads(X, eps)
    rtol = 1e-4 if dtype == "float32" else 1e-10
    for name, g in {"loss": loss, **grads}.items():
        f = fused_loss if name == "loss" else fused_grads[name]
        scale = np.max(np.abs(g))
        if not np.allclose(f, g, rtol=rtol, atol=rtol * scale):
            wrong.append(f"{spec} {name}: fused {np.ravel(f)[:3]} reference {np.ravel(g)[:3]}")
print("\\n".join(wrong) or "all agree")
sys.exit(1 if wrong else 0)
"""

# Orders that, before the fix, made a later process link a cached loop to the wrong function.
ORDERS = [
    ["gaussian:float64", "bernoulli:float32"],
    ["bernoulli:float64", "gaussian:float32"],
    ["gaussian:float32", "bernoulli:float64", "gaussian:float64", "bernoulli:float32"],
    ["bernoulli:float32", "gaussian:float64", "gaussian:float32", "bernoulli:float64"],
]


def _run(code, args, cache_dir, cwd=ROOT):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(cwd),
           "MINIVAE_BACKEND": "numba"}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_processes_sharing_a_fresh_cache_agree_with_the_reference_in_any_compile_order(tmp_path):
    for order in ORDERS:
        result = _run(CHILD, order, tmp_path / "cache")
        assert result.returncode == 0, (f"compile order {order}:\n{result.stdout}"
                                        f"{result.stderr[-2000:]}")


ADAGRAD = """
import numpy as np
from minivae.fused.kernels import loops
p = np.ones(4)
loops.adagrad(p, (np.ones(4),), np.zeros(4), 0.1, 1e-10, 0.0, 1e-300, 0, 4)
print(p[0])
"""


@pytest.mark.slow
def test_an_edit_to_a_kernel_formula_takes_effect_with_the_cache_in_place(tmp_path):
    """Numba checks a cached loop against ``loops.py`` alone; ``optim.py`` holds Adagrad's formula."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "minivae", copy / "minivae",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    cache = tmp_path / "cache"
    first = _run(ADAGRAD, [], cache, cwd=copy)
    assert first.returncode == 0, first.stderr
    assert float(first.stdout) == pytest.approx(0.9)  # 1 - 0.1 * g / sqrt(g^2)
    formulas = copy / "minivae" / "optim.py"
    source = formulas.read_text()
    assert source.count("return G + g * g") == 1
    formulas.write_text(source.replace("return G + g * g", "return G + 4.0 * g * g"))
    second = _run(ADAGRAD, [], cache, cwd=copy)
    assert second.returncode == 0, second.stderr
    assert float(second.stdout) == pytest.approx(0.95)  # 1 - 0.1 * g / sqrt(4 g^2)


def test_the_cache_stamp_covers_every_kernel_source(tmp_path):
    names = {p.name for p in diskcache.SOURCES}
    assert {"loops.py", "scalar.py", "vecmath.py", "diskcache.py"} <= names
    kernels = {p.name for p in (ROOT / "minivae" / "fused" / "kernels").glob("*.py")}
    assert names == kernels | {"activations.py", "gaussian.py", "likelihoods.py", "optim.py", "binarize.py"}
    assert all(p.exists() for p in diskcache.SOURCES)
    files = [tmp_path / n for n in ("a.py", "b.py")]
    for f in files:
        f.write_text("x = 1\n")
    before = diskcache.sources_hash(files)
    files[1].write_text("x = 2\n")
    assert diskcache.sources_hash(files) != before
    assert diskcache.ENABLED, diskcache.describe()
