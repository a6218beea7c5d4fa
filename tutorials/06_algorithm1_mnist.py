# %% [markdown]
# # 06 — Algorithm 1 end to end on MNIST
#
# **Learning goals.** After this lesson you can
# 1. write Algorithm 1 (the AEVB loop) in ten lines: a minibatch, noise, the gradient of the
#    minibatch estimator, an Adagrad step;
# 2. say what each of the paper's settings does: $M = 100$, $L = 1$, dynamic binarization, the
#    $\mathcal N(0, I)$ weight prior, Adagrad with step size 0.02;
# 3. run the same algorithm through `minivae.Trainer`, read its history and draw samples.
#
# **Paper:** Algorithm 1, Sec. 5 (MNIST, Fig. 2). Derivation: the site's page "Adagrad and Algorithm 1".
#
# **Engine:** the reference engine throughout (`engine="reference"`): every step runs the readable
# forward/backward pairs and `minivae.optim.Adagrad`, no compiled code.
# **Run time:** 128 s (100,000 samples with the paper's 500 hidden units and 20 latents), or
# 3.0 s with `MINIVAE_FAST=1` (what the test suite sets: a smaller model, 3,000 samples),
# measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/06_algorithm1_mnist.py` (other jobs kept the machine busy).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minivae
from minivae.datasets import binarize, binarize_fixed, load_mnist

FAST = os.environ.get("MINIVAE_FAST") == "1"
X_train, _ = load_mnist("train")
X_test, _ = load_mnist("test")
if FAST:
    X_train, X_test = X_train[:5000], X_test[:1000]
H, J = (100, 10) if FAST else (500, 20)
N = len(X_train)

# %% [markdown]
# ## 1. Algorithm 1, by hand
# Repeat until convergence:
# 1. $X^M \leftarrow$ a random minibatch of $M$ datapoints (binarized afresh: each grey value is
#    the probability of a black pixel);
# 2. $\epsilon \leftarrow$ $L \times M$ draws from $\mathcal N(0, I)$;
# 3. $g \leftarrow \nabla_{\theta,\phi}\tilde{\mathcal L}^M(\theta, \phi; X^M, \epsilon)$ (eq. 8, estimator B);
# 4. $\theta, \phi \leftarrow$ an Adagrad step along $g$, plus the weight prior's gradient.
#
# The code minimizes the loss $-\frac1M\sum_i\tilde{\mathcal L}$ per datapoint, so the weight prior
# $\log\mathcal N(\theta; 0, I)$, which belongs to the whole data set, enters per datapoint as
# $\frac1N\log\mathcal N$: its gradient adds $\theta/N$ to the loss gradient (`decay=1/N`).

# %%
model = minivae.VAE(784, n_hidden=H, n_latent=J, seed=0)
optimizer = minivae.Adagrad(lr=0.02)
rng = np.random.default_rng(0)
M, L = 100, 1
state, by_hand = None, []
for step in range(20 if FAST else 200):
    X = binarize(X_train[rng.choice(N, M, replace=False)], rng)          # 1.
    eps = rng.standard_normal((L, M, J))                                   # 2.
    loss, grads = model.loss_and_grads(X, eps, estimator="B")             # 3.
    state = optimizer.update(model.params, grads, state, decay=1.0 / N)   # 4.
    by_hand.append(-loss)
print(f"minibatch bound: first step {by_hand[0]:.1f}, last step {by_hand[-1]:.1f} nats")

# %% [markdown]
# ## 2. The same algorithm through the trainer
# `minivae.Trainer` adds what a real run needs: an epoch-wise shuffle, evaluation of the bound on a
# fixed binarization of the test set and of a training subset, checkpoints and callbacks. The
# paper's settings are its defaults.

# %%
model = minivae.VAE(784, n_hidden=H, n_latent=J, seed=0)
trainer = minivae.Trainer(model, X_train, X_test, seed=0, engine="reference",
                          eval_train_size=1000 if FAST else 10_000)
budget = 3_000 if FAST else 100_000
history = trainer.run(budget, eval_every=budget // 10)
for record in history[::2]:
    print(record)

samples = [r.samples for r in history]
plt.plot(samples, [r.train_bound for r in history], label="train")
plt.plot(samples, [r.test_bound for r in history], label="test")
plt.xlabel("training samples seen")
plt.ylabel(r"$\mathcal L$ per datapoint (nats)")
plt.legend()
plt.title(f"AEVB on MNIST, $J = {J}$, {H} hidden units, reference engine")
plt.show()

# %% [markdown]
# ## 3. Samples and reconstructions
# Sampling runs the generative model: $z \sim \mathcal N(0, I)$, then the decoder's Bernoulli means.
# A reconstruction encodes a test digit and decodes its posterior mean.

# %%
gen = model.sample(16, rng=np.random.default_rng(1))
x_test = binarize_fixed(X_test[:8])
recon = model.decode(model.encode(x_test)[0])
fig, ax = plt.subplots(3, 8, figsize=(8, 3.2))
for k in range(8):
    ax[0, k].imshow(x_test[k].reshape(28, 28), cmap="gray")
    ax[1, k].imshow(recon[k].reshape(28, 28), cmap="gray")
    ax[2, k].imshow(gen[k].reshape(28, 28), cmap="gray")
for a in ax.flat:
    a.axis("off")
fig.suptitle("test digits / their reconstructions / samples from the model")
plt.show()

# %% [markdown]
# ## Check yourself
# * Why is the weight prior's gradient divided by $N$ here, while the paper adds it once to the
#   minibatch estimator $\tilde{\mathcal L}^M$?
# * What would a fixed (not dynamic) binarization change? (Hint: overfitting; see docs/datasets.md.)
# * The test bound climbs quickly and then slowly. Which of the paper's figures shows the same?

# %%
assert np.isfinite(by_hand).all() and np.mean(by_hand[-5:]) > by_hand[0] + 50
assert history[-1].test_bound > history[0].test_bound + 100
assert gen.shape == (16, 784) and np.all((gen > 0) & (gen < 1))
print("check yourself: PASSED")
