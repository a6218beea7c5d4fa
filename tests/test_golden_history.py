"""The fused engine's MNIST history, recorded before a refactor, must not change.

The paper's MNIST model (784-500-20, tanh, Bernoulli, Adagrad 0.02, M = 100, the weight prior),
trained for a short budget with a fixed seed on the Numba backend with two threads. Its history
and a hash of its final parameters are stored in ``golden/mnist_fused_history.json``. On the
machine that recorded them (same CPU, library versions and threads) the test wants them bit for
bit; elsewhere OpenBLAS and vector math pick other kernels and the last bits move, so it wants the
bounds to ``rtol = 1e-10`` (backends and thread counts differ by about 1e-14 at this budget).

Record again only on purpose, when a change is meant to alter training:
``python tests/test_golden_history.py --record``.
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden" / "mnist_fused_history.json"
PROTOCOL = {"samples": 5000, "eval_every": 2500, "eval_train_size": 1000, "seed": 0, "threads": 2,
            "backend": "numba"}


def _fingerprint():
    import llvmlite.binding as ll
    import numba

    from minivae.fused.kernels import vecmath
    return {"cpu": ll.get_host_cpu_name(), "numpy": np.__version__, "numba": numba.__version__,
            "vector_math": vecmath.ISA, "threads": PROTOCOL["threads"]}


def _train():
    """``(history, parameter hash)`` of the protocol's run."""
    import minivae
    from minivae.fused import kernels
    from minivae.fused.backend import use_backend
    from minivae.datasets import load_mnist

    X_train, X_test = load_mnist("train")[0], load_mnist("test")[0]
    threads = kernels.get_threads()
    kernels.set_threads(PROTOCOL["threads"])
    try:
        with use_backend(PROTOCOL["backend"]):
            model = minivae.VAE(784, n_hidden=500, n_latent=20, decoder="bernoulli",
                                seed=PROTOCOL["seed"])
            trainer = minivae.train(model, X_train, X_test, samples=PROTOCOL["samples"],
                                    eval_every=PROTOCOL["eval_every"], seed=PROTOCOL["seed"],
                                    eval_train_size=PROTOCOL["eval_train_size"])
    finally:
        kernels.set_threads(threads)
    history = [[r.samples, r.train_bound.hex(), r.test_bound.hex()] for r in trainer.history]
    digest = hashlib.sha256()
    for name in sorted(model.params):
        digest.update(name.encode() + np.ascontiguousarray(model.params[name]).tobytes())
    return history, digest.hexdigest()


def test_the_fused_engine_trains_as_it_did_when_recorded():
    golden = json.loads(GOLDEN.read_text())
    assert golden["protocol"] == PROTOCOL
    history, params = _train()
    assert [h[0] for h in history] == [h[0] for h in golden["history"]]
    if golden["fingerprint"] == _fingerprint():
        assert history == golden["history"]
        assert params == golden["params_sha256"]
    else:
        got = np.array([[float.fromhex(b) for b in h[1:]] for h in history])
        want = np.array([[float.fromhex(b) for b in h[1:]] for h in golden["history"]])
        np.testing.assert_allclose(got, want, rtol=1e-10)


def record():
    history, params = _train()
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({"protocol": PROTOCOL, "fingerprint": _fingerprint(),
                                  "history": history, "params_sha256": params}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(__doc__)
    record()
