# %% [markdown]
# # 01 — The problem and the variational lower bound
#
# **Learning goals.** After this lesson you can
# 1. say why $\log p_\theta(x) = \log\int p_\theta(z)\,p_\theta(x|z)\,dz$ is the hard part of
#    learning a latent-variable model, and why its posterior $p_\theta(z|x)$ is as hard;
# 2. derive $\log p_\theta(x) = D_{KL}(q_\phi(z|x)\,\|\,p_\theta(z|x)) + \mathcal L(\theta, \phi; x)$
#    (eq. 1) and the two forms of the bound (eq. 2, 3);
# 3. see on a model small enough to integrate that the gap between $\log p_\theta(x)$ and the
#    bound is exactly the KL from $q$ to the true posterior.
#
# **Paper:** Sec. 2.1-2.2, eq. (1)-(3). Derivation: the site's page "The bound".
#
# **Engine:** no training; the model is only evaluated, by the readable pieces.
# **Run time:** 3.0 s, or 0.9 s with `MINIVAE_FAST=1` (what the test
# suite sets), measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/01_the_bound.py` (other jobs kept the machine busy).
#
# A tiny model makes everything exact: 8 binary pixels, 5 tanh hidden units and a
# one-dimensional latent $z$, so every integral over $z$ is a sum over a fine grid.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minivae
from minivae.gaussian import LOG_2PI
from minivae.marginal import Posterior, quadrature_log_px

FAST = os.environ.get("MINIVAE_FAST") == "1"
rng = np.random.default_rng(0)
model = minivae.VAE(8, 5, 1, init_std=0.7, seed=3)   # large weights: the posterior is not the prior
X = (rng.random((4, 8)) < 0.5) * 1.0                  # four datapoints
grid = np.linspace(-12, 12, 2001 if FAST else 8001)
dz = grid[1] - grid[0]

# %% [markdown]
# ## 1. The marginal likelihood and the posterior
# The generative model draws $z \sim p_\theta(z) = \mathcal N(0, 1)$, then $x \sim p_\theta(x|z)$,
# a Bernoulli per pixel whose probabilities an MLP computes from $z$. The evidence of one
# datapoint is $p_\theta(x) = \int p_\theta(z)\,p_\theta(x|z)\,dz$: with an MLP inside the
# integral there is no closed form, and the posterior $p_\theta(z|x) = p_\theta(x, z)/p_\theta(x)$
# needs it as its normalizer. With $J = 1$ we can still sum over a grid.
#
# `Posterior(model, X).log_joint(Z)` evaluates $\log p_\theta(x, z) = \log p_\theta(z) + \log p_\theta(x|z)$
# for every row of $X$ at once.

# %%
post = Posterior(model, X)
log_joint = post.log_joint(np.broadcast_to(grid[:, None, None], (len(grid), len(X), 1)))  # (G, M)
log_px = np.log(np.sum(np.exp(log_joint - log_joint.max(0)), axis=0) * dz) + log_joint.max(0)
posterior = np.exp(log_joint - log_px)                                                 # (G, M)
print("log p(x) on our grid      :", log_px.round(4))
print("log p(x), quadrature_log_px:", quadrature_log_px(model, X).round(4))

for m in range(len(X)):
    plt.plot(grid, posterior[:, m], label=f"$p_\\theta(z|x^{{({m})}})$")
plt.plot(grid, np.exp(-0.5 * (LOG_2PI + grid ** 2)), "k--", label="prior $p(z)$")
plt.xlim(-5, 5)
plt.xlabel("$z$")
plt.legend()
plt.title("The exact posteriors of four datapoints")
plt.show()

# %% [markdown]
# ## 2. The bound
# For any density $q(z)$, since $p_\theta(x) = p_\theta(x, z)/p_\theta(z|x)$ for every $z$,
#
# $$\log p_\theta(x) = \mathbb E_{q}\left[\log\frac{p_\theta(x, z)}{q(z)}\right]
#   + \mathbb E_{q}\left[\log\frac{q(z)}{p_\theta(z|x)}\right]
#   = \mathcal L(\theta, \phi; x) + D_{KL}(q\,\|\,p_\theta(z|x)). \qquad (1)$$
#
# The KL is never negative, so $\mathcal L \le \log p_\theta(x)$ (eq. 2), with equality exactly
# when $q$ is the posterior. Splitting $\log p_\theta(x, z) = \log p_\theta(z) + \log p_\theta(x|z)$
# gives eq. (3): $\mathcal L = -D_{KL}(q\,\|\,p_\theta(z)) + \mathbb E_q[\log p_\theta(x|z)]$.
#
# Take $q = \mathcal N(\mu, \sigma^2)$ and compute both terms of eq. (1) on the grid.

# %%
def bound_and_gap(mu, logvar, m):
    """L (eq. 2's left side) and KL(q || p(z|x)) for datapoint m, both by quadrature."""
    log_q = -0.5 * (LOG_2PI + logvar + (grid - mu) ** 2 / np.exp(logvar))
    q = np.exp(log_q)
    bound = np.sum(q * (log_joint[:, m] - log_q)) * dz
    gap = np.sum(q * (log_q - np.log(posterior[:, m] + 1e-300))) * dz
    return bound, gap


m = 0
mus = np.linspace(-3, 3, 61 if FAST else 241)
for logvar in (-2.0, -1.0, 0.0):
    plt.plot(mus, [bound_and_gap(mu, logvar, m)[0] for mu in mus],
             label=f"$\\mathcal L$, $\\log\\sigma^2 = {logvar:g}$")
plt.axhline(log_px[m], color="k", ls="--", label=r"$\log p_\theta(x)$")
plt.xlabel(r"mean $\mu$ of $q$")
plt.ylabel("nats")
plt.ylim(log_px[m] - 6, log_px[m] + 0.5)
plt.legend()
plt.title("The bound stays below the evidence; the gap is KL(q || posterior)")
plt.show()

# %% [markdown]
# ## 3. The encoder's $q_\phi(z|x)$ and estimator B
# The VAE does not search over $(\mu, \sigma)$ per datapoint: its encoder computes them from $x$.
# This (untrained) encoder's bound, by quadrature, equals the Monte Carlo estimate of eq. (7)
# that training uses, averaged over many samples.

# %%
mu_x, logvar_x = model.encode(X)
exact_bounds = np.array([bound_and_gap(mu_x[i, 0], logvar_x[i, 0], i)[0] for i in range(len(X))])
mc = model.elbo(X, L=20_000 if FAST else 200_000, rng=np.random.default_rng(1))
print("bound of the encoder's q, quadrature :", exact_bounds.round(4))
print("estimator B, averaged over samples   :", mc.round(4))
print("log p(x)                             :", log_px.round(4))

# %% [markdown]
# ## Check yourself
# * Where does the bound touch $\log p_\theta(x)$ in the plot, and why not exactly?
#   (Is the posterior Gaussian?)
# * Eq. (1) holds for every $q$. Which of its two terms can you compute without knowing $p_\theta(x)$?
# * Why does maximizing $\mathcal L$ over $\phi$ make $q_\phi(z|x)$ a better approximate posterior,
#   and over $\theta$ a better model?

# %%
for mu, logvar in [(-1.0, -1.0), (0.3, 0.0), (2.0, -2.0)]:
    bound, gap = bound_and_gap(mu, logvar, m)
    assert gap >= 0 and bound <= log_px[m]
    assert abs(bound + gap - log_px[m]) < 1e-6, "eq. (1) must hold for every q"
assert np.allclose(log_px, quadrature_log_px(model, X), atol=1e-4)
assert np.all(np.abs(mc - exact_bounds) < 0.05)
assert np.all(exact_bounds < log_px)
print("check yourself: PASSED")
