# %% [markdown]
# # 07 — Frey Face: a Gaussian decoder and a two-dimensional latent manifold
#
# **Learning goals.** After this lesson you can
# 1. train the paper's Frey Face model (App. C.2: a Gaussian decoder with a sigmoid mean head,
#    200 tanh hidden units) with Algorithm 1;
# 2. read a Frey Face bound: a sum of log-*densities*, so it is positive and not comparable to MNIST's;
# 3. draw the learned manifold of a two-dimensional latent space as in the paper's Fig. 4.
#
# **Paper:** Sec. 5 (Frey Face), App. A (Fig. 4), App. C.2.
#
# **Engine:** the reference engine (`engine="reference"`).
# **Run time:** 22 s (100,000 samples), or 2.6 s with `MINIVAE_FAST=1` (what the
# test suite sets: 3,000 samples), measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/07_frey_face.py` (other jobs kept the machine busy).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

import minivae
from minivae.datasets import load_frey

FAST = os.environ.get("MINIVAE_FAST") == "1"
X_train, X_test = load_frey("train"), load_frey("test")
print("train", X_train.shape, "test", X_test.shape, "values in", (X_train.min().round(3), X_train.max().round(3)))

# %% [markdown]
# ## 1. Train
# The decoder outputs a mean (through a sigmoid, since the grey values lie in $(0, 1)$) and a
# log-variance per pixel; everything else is Algorithm 1 as for MNIST, with no binarization.
# $J = 2$ so that the latent space can be drawn.

# %%
model = minivae.VAE(560, n_hidden=200, n_latent=2, decoder="gaussian", seed=0)
trainer = minivae.Trainer(model, X_train, X_test, seed=0, engine="reference")
budget = 3_000 if FAST else 100_000
history = trainer.run(budget, eval_every=budget // (5 if FAST else 10))
for record in history[::2]:
    print(record)

samples = [r.samples for r in history]
plt.plot(samples, [r.train_bound for r in history], label="train")
plt.plot(samples, [r.test_bound for r in history], label="test")
plt.xlabel("training samples seen")
plt.ylabel(r"$\mathcal L$ per datapoint (nats)")
plt.legend()
plt.title("Frey Face, $J = 2$, reference engine")
plt.show()

# %% [markdown]
# ## 2. The learned manifold
# Fig. 4 of the paper maps a grid of the unit square through the inverse CDF of the Gaussian
# prior to $z$-space, and shows the decoder's mean at each point. Nearby $z$ give similar faces;
# the two axes pick up pose and expression as training goes on (after a short run they are blurry).

# %%
n = 8
u = np.linspace(0.05, 0.95, n)
Z = np.array([[norm.ppf(a), norm.ppf(b)] for b in u[::-1] for a in u])
faces = model.decode(Z).reshape(n, n, 28, 20)
canvas = np.block([[faces[i, j] for j in range(n)] for i in range(n)])
plt.figure(figsize=(5, 6))
plt.imshow(canvas, cmap="gray")
plt.axis("off")
plt.title("The decoder's mean over a grid of $z$")
plt.show()

# %% [markdown]
# ## Check yourself
# * Why is the Frey Face bound positive while MNIST's is negative?
# * What does the sigmoid on the mean head buy, and what would happen to a pixel at exactly 0 or 1
#   without it?
# * In the manifold, which direction of $z$ changes the expression, which the pose?

# %%
assert history[-1].test_bound > history[0].test_bound
assert canvas.shape == (8 * 28, 8 * 20) and np.all((canvas > 0) & (canvas < 1))
print("check yourself: PASSED")
