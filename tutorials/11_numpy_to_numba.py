# %% [markdown]
# # 11 — From NumPy to Numba: what the fused engine does and why it is faster
#
# **Learning goals.** After this lesson you can
# 1. say where the time of a readable training step goes: many small elementwise passes over
#    large arrays, each allocating a temporary;
# 2. describe the fused engine's changes: each elementwise stage is one compiled loop, the
#    workspaces are allocated once, the products with the sparse binarized data skip zeros,
#    and the minibatch is sharded over threads;
# 3. check that the fused step computes the readable step's numbers (to float64 round-off),
#    because its loops evaluate the very formulas of the teaching modules.
#
# **Engine:** both. This is the one lesson that runs the fused engine (`engine="fused"`,
# `minivae.fused`), beside the reference engine for comparison.
# **Run time:** 9.1 s, including Numba's first compilation into an empty cache, or 2.2 s with
# `MINIVAE_FAST=1` (what the test suite sets: fewer timing repeats), measured on 2026-12-07 on a
# shared 2-core AMD EPYC server with `python tutorials/11_numpy_to_numba.py` (other jobs kept the
# machine busy). Timings printed here are this machine's, on this run; they are not asserted.

# %%
import inspect
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import minivae
from minivae import gaussian
from minivae.datasets import binarize_fixed, load_mnist
from minivae.fused.backend import use_backend
from minivae.fused.engine import fast_path

FAST = os.environ.get("MINIVAE_FAST") == "1"
X_all, _ = load_mnist("train")
X = binarize_fixed(X_all[:100])
model = minivae.VAE(784, n_hidden=500, n_latent=20, seed=0)
eps = np.random.default_rng(0).standard_normal((1, 100, 20))

# %% [markdown]
# ## 1. One formula, written once
# The fused kernels do not re-derive anything. `minivae.fused.kernels.scalar` wraps the plain
# NumPy functions at the bottom of `gaussian.py`, `likelihoods.py`, `activations.py` and
# `optim.py` with Numba's `register_jitable`, so a compiled loop calls, per element, the same
# line that the NumPy backend applies to whole arrays. For instance the KL of one latent dimension:

# %%
print(inspect.getsource(gaussian.kl_term))

# %% [markdown]
# ## 2. The same numbers
# `fast_path(model)` is the fused estimator-B step. Compare its loss and every gradient with
# the readable `VAE.loss_and_grads`, on both of its backends (`numpy`: whole-array kernels,
# `numba`: compiled loops).

# %%
loss_ref, grads_ref = model.loss_and_grads(X, eps, estimator="B")
worst = {}
for backend in ("numpy", "numba"):
    with use_backend(backend):
        loss_fused, grads_fused = fast_path(model).loss_and_grads(X, eps)
        worst[backend] = max(float(np.max(np.abs(grads_fused[k] - grads_ref[k])) / (np.max(np.abs(grads_ref[k])) + 1e-300))
                             for k in grads_ref)
    print(f"{backend:>5}: loss {loss_fused:.12f} vs reference {loss_ref:.12f}; "
          f"largest relative gradient difference {worst[backend]:.1e}")

# %% [markdown]
# ## 3. Where the time goes
# Time one training step (loss, gradients and the Adagrad update) with each engine, for the
# paper's MNIST model ($D = 784$, 500 hidden units, $J = 20$, $M = 100$). The reference step
# makes a dozen NumPy passes over `(100, 784)` and `(100, 500)` arrays and allocates a new array
# for each; the fused step makes one pass per stage, into buffers it keeps, and on binarized
# MNIST (about 13% of the pixels on) its first and last matrix products skip the zeros.

# %%
def time_steps(engine, n_steps):
    m = minivae.VAE(784, n_hidden=500, n_latent=20, seed=0)
    trainer = minivae.Trainer(m, X_all[:2000], seed=0, engine=engine, eval_train_size=100)
    trainer.step()                                   # warm up (compiles on the first fused call)
    start = time.perf_counter()
    for _ in range(n_steps):
        trainer.step()
    return (time.perf_counter() - start) / n_steps, m


n_steps = 5 if FAST else 50
per_step, trained = {}, {}
for engine in ("reference", "fused"):
    per_step[engine], trained[engine] = time_steps(engine, n_steps)
    print(f"{engine:>9}: {1000 * per_step[engine]:.1f} ms per step of 100 images")

plt.bar(list(per_step), [1000 * t for t in per_step.values()])
plt.ylabel("ms per training step (M = 100)")
plt.title("One step of Algorithm 1, measured on this machine")
plt.show()

# %% [markdown]
# Both trainers started from the same seed and saw the same minibatches and noise, so their
# parameters after the same steps agree to round-off: the fused engine is a faster way to run
# the same algorithm, not a different one. `minivae bench` measures the engines properly
# (repeats, batch sizes, threads); the site's performance page has the numbers and a profile.
#
# ## Check yourself
# * Why does the fused engine never form the gradient with respect to the data $X$?
# * Why is sharding a minibatch over threads not bit-for-bit the same as one thread?
# * Which of the formulas would you have to change in two places if the kernels did not reuse
#   the teaching modules' functions?

# %%
assert abs(loss_fused - loss_ref) < 1e-10 * abs(loss_ref)
assert max(worst.values()) < 1e-10
drift = max(float(np.max(np.abs(trained["fused"].params[k] - trained["reference"].params[k])))
            for k in trained["reference"].params)
print("largest parameter difference after the same steps:", drift)
assert drift < 1e-8
print("check yourself: PASSED")
