# %% [markdown]
# # 04 — Estimators A and B, and their variance
#
# **Learning goals.** After this lesson you can
# 1. write the generic SGVB estimator $\tilde{\mathcal L}^A$ (eq. 6) and the one with the KL in
#    closed form, $\tilde{\mathcal L}^B$ (eq. 7), and say why both are unbiased for $\mathcal L$;
# 2. explain why B usually has the smaller variance: part of the expectation is done exactly;
# 3. measure the variance of the bound and of its gradient across noise draws on MNIST;
# 4. state what the minibatch estimator (eq. 8) scales by.
#
# **Paper:** Sec. 2.3, eq. (6)-(8). Derivation: the site's page "SGVB and the reparameterization".
#
# **Engine:** the reference engine trains the model briefly (`Trainer(..., engine="reference")`);
# the estimators are then evaluated by `VAE.elbo` and `VAE.loss_and_grads`, the readable code.
# **Run time:** 81 s, or 6.2 s with `MINIVAE_FAST=1` (what the test
# suite sets), measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/04_estimators_and_variance.py` (other jobs kept the machine busy).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minivae
from minivae.datasets import binarize_fixed, load_mnist
from minivae.experiments.reparam_variance import estimator_gradient_variance
from minivae.gaussian import kl_forward, log_q_forward, log_standard_normal_forward, sample_forward

FAST = os.environ.get("MINIVAE_FAST") == "1"
rng = np.random.default_rng(0)
X_all, _ = load_mnist("train")
X_train = X_all[:5000]
model = minivae.VAE(784, n_hidden=100, n_latent=5, seed=0)
trainer = minivae.Trainer(model, X_train, seed=0, engine="reference", eval_train_size=500)
trainer.run(1_000 if FAST else 20_000)
print("after a short run:", trainer.history[-1])
X = binarize_fixed(X_all[10_000:10_100])             # one fixed minibatch, M = 100

# %% [markdown]
# ## 1. Two estimators of one bound
# With $z^{(l)} = \mu + \sigma\odot\epsilon^{(l)}$, $\epsilon^{(l)}\sim\mathcal N(0, I)$:
#
# $$\tilde{\mathcal L}^A = \frac1L\sum_l \log p_\theta(x, z^{(l)}) - \log q_\phi(z^{(l)}|x), \qquad (6)$$
#
# $$\tilde{\mathcal L}^B = -D_{KL}(q_\phi(z|x)\,\|\,p_\theta(z)) + \frac1L\sum_l \log p_\theta(x|z^{(l)}). \qquad (7)$$
#
# Both have expectation $\mathcal L(\theta, \phi; x)$, because
# $\mathbb E_q[\log p_\theta(z) - \log q_\phi(z|x)] = -D_{KL}(q_\phi(z|x)\,\|\,p_\theta(z))$.
# B replaces that noisy term by its exact value. Evaluate both with the *same* noise, many times.

# %%
n_draws = 500 if FAST else 5000
mu, logvar = model.encode(X)                                         # (M, J) each
eps = rng.standard_normal((n_draws, len(X), model.n_latent))
z, _ = sample_forward(mu, logvar, eps)                               # (n_draws, M, J)
log_px_z = model.log_likelihood(X, z)                                # (n_draws, M)
A = log_px_z + log_standard_normal_forward(z)[0] - log_q_forward(z, mu, logvar)[0]   # eq. (6), L = 1
B = log_px_z - kl_forward(mu, logvar)[0]                             # eq. (7), L = 1
assert np.allclose(B[0], model.elbo(X, eps[:1], estimator="B"))      # the same numbers as the model's
mean_A, mean_B = A.mean(1), B.mean(1)                  # the minibatch mean, per draw
se = np.sqrt((mean_A - mean_B).var(ddof=1) / n_draws)
print(f"mean over draws: A {mean_A.mean():.3f}, B {mean_B.mean():.3f} (difference {mean_A.mean() - mean_B.mean():+.3f}, s.e. {se:.3f})")
print(f"std of one datapoint's estimate: A {A.std(0).mean():.3f}, B {B.std(0).mean():.3f} nats")

plt.hist(A[:, 0], bins=40, alpha=0.5, density=True, label="estimator A (eq. 6)")
plt.hist(B[:, 0], bins=40, alpha=0.5, density=True, label="estimator B (eq. 7)")
plt.axvline(B[:, 0].mean(), color="k", lw=1)
plt.xlabel(r"$\tilde{\mathcal L}(\theta, \phi; x^{(0)})$, nats, L = 1")
plt.legend()
plt.title("Same mean, different spread: one datapoint, many noise draws")
plt.show()

# %% [markdown]
# Look at the spread of the *values*: B is not always the less noisy one. In A the noise of
# $\log p_\theta(z) - \log q_\phi(z|x)$ partly cancels the noise of $\log p_\theta(x|z)$ (a $z$
# far from $\mu$ is unlikely under $q$ and explains $x$ worse), so the value of A can vary less.
# What training feels is the variance of the *gradient*.
#
# ## 2. The variance of the gradient
# Training follows the gradient, so its variance is what matters. `estimator_gradient_variance`
# draws the noise `n_draws` times, takes `loss_and_grads` for A and B with the same draws, and
# sums the per-entry variances over each half of the model. The decoder's gradient gets the same
# Monte Carlo term $\log p_\theta(x|z)$ either way; the encoder's is where B's exact KL helps.

# %%
var = estimator_gradient_variance(model, X, 30 if FAST else 300, np.random.default_rng(1))
halves = ["enc", "dec"]
width = 0.35
pos = np.arange(2)
plt.bar(pos - width / 2, [var[h]["A"] for h in halves], width, label="A")
plt.bar(pos + width / 2, [var[h]["B"] for h in halves], width, label="B")
plt.xticks(pos, ["encoder ($\\phi$)", "decoder ($\\theta$)"])
plt.yscale("log")
plt.ylabel("summed gradient variance")
plt.legend()
plt.title("Gradient variance across noise draws, M = 100, L = 1")
plt.show()
for h in halves:
    print(f"{h}: A {var[h]['A']:.3e}  B {var[h]['B']:.3e}  |mean gradient|^2 {var[h]['norm2']:.3e}")

# %% [markdown]
# ## 3. The minibatch estimator
# Eq. (8) estimates the bound of the whole dataset of $N$ points from $M$ of them:
# $\tilde{\mathcal L}^M(\theta, \phi; X^M) = \frac NM\sum_{i=1}^M \tilde{\mathcal L}(\theta, \phi; x^{(i)})$.
# The code divides by $N$ instead, and reports and trains on the mean bound per datapoint, so
# that the step size does not depend on the size of the data set.
#
# ## Check yourself
# * Why must the two estimators be compared with the *same* noise draws to see the variance
#   difference cleanly? (Hint: the shared $\log p_\theta(x|z)$ term.)
# * What happens to the variance of both with $L = 10$?
# * When would A be the only choice? (Tutorial 10: families without a closed-form KL.)

# %%
assert abs(mean_A.mean() - mean_B.mean()) < 5 * se + 1e-9, "both estimators are unbiased for the same bound"
assert var["enc"]["B"] < var["enc"]["A"]
print("check yourself: PASSED")
