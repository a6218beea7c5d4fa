# %% [markdown]
# # 09 — The marginal likelihood: HMC on the posterior and the App. D estimator
#
# **Learning goals.** After this lesson you can
# 1. derive $\nabla_z \log p_\theta(x, z)$ for the Bernoulli decoder and check it by finite
#    differences;
# 2. sample the posterior $p_\theta(z|x) \propto p(z)\,p_\theta(x|z)$ with Hamiltonian Monte Carlo
#    and see the Metropolis step at work;
# 3. estimate $\log p_\theta(x)$ three ways (App. D, importance sampling, quadrature) and see
#    that the ELBO lies below all of them.
#
# **Paper:** Sec. 5 (Fig. 3), App. D (the estimator), App. E (the HMC protocol).
#
# A tiny model keeps everything exact enough to compare: 8 binary pixels, 5 hidden units and a
# one-dimensional latent, so $\log p_\theta(x) = \log\int p(z)\,p_\theta(x|z)\,dz$ can be computed
# on a grid.
#
# **Engine:** no training here; the model is evaluated by the readable pieces only.
# **Run time:** 6.5 s, or 1.4 s with `MINIVAE_FAST=1` (what the test
# suite sets), measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/09_marginal_likelihood.py` (other jobs kept the machine busy).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minivae
from minivae import gradcheck
from minivae.marginal import (HMC, Posterior, appendix_d_log_px, importance_log_px,
                              log_joint_backward, log_joint_forward, quadrature_log_px)

FAST = os.environ.get("MINIVAE_FAST") == "1"
rng = np.random.default_rng(0)
model = minivae.VAE(8, 5, 1, init_std=0.7, seed=3)   # large weights: the posterior is not the prior
X = (rng.random((6, 8)) < 0.5) * 1.0

# %% [markdown]
# ## 1. The gradient of the log joint
# With $h = \tanh(z W_1 + b_1)$ and logits $a = h W_\text{logits} + b_\text{logits}$,
# $\log p_\theta(x, z) = -\frac12(\log 2\pi + z^2) + \sum_d x_d a_d - \operatorname{softplus}(a_d)$, so
#
# $$\nabla_z \log p_\theta(x, z) = -z + \left[(x - \sigma(a)) W_\text{logits}^\top \odot (1 - h^2)\right] W_1^\top.$$
#
# That is the decoder's backward pass carried one step further, into its input.

# %%
Z = rng.standard_normal((6, 1))
args = model._decoder_args()
log_joint, cache = log_joint_forward(X, Z, model.params, *args)
dout = rng.standard_normal(6)
dZ, _ = log_joint_backward(dout, cache)
errors = gradcheck.check_vjp(lambda: log_joint_forward(X, Z, model.params, *args)[0], {"Z": Z},
                             dout, {"Z": dZ})
print("relative error of dZ:", errors)

# %% [markdown]
# ## 2. HMC: leapfrog plus Metropolis
# One transition draws a momentum $p \sim \mathcal N(0, 1)$, follows the Hamiltonian
# $H = -\log p_\theta(x, z) + \frac12 p^2$ with a few leapfrog steps, and accepts the end point
# with probability $\min(1, e^{H - H'})$. During warm-up each chain's step size is tuned
# towards 90% acceptance (App. E); then it is fixed and the chain samples $p_\theta(z|x)$ exactly.
# Compare the chain's mean of $z$ with the posterior mean on a grid.

# %%
posterior = Posterior(model, X)
hmc = HMC(posterior, np.zeros((6, 1)), n_leapfrog=4, rng=rng)
print("acceptance during warm-up:", hmc.warm_up(200).round(2))
samples = hmc.sample(300 if FAST else 3000)            # (n, 6, 1)
grid = np.linspace(-10, 10, 4001)[:, None, None]        # (G, 1, 1) broadcasts over the rows
log_w = posterior.log_joint(np.broadcast_to(grid, (len(grid), 6, 1)))
w = np.exp(log_w - log_w.max(axis=0))
exact_mean = (grid[:, :, 0] * w).sum(0) / w.sum(0)
print("posterior mean, HMC :", samples[..., 0].mean(0).round(3))
print("posterior mean, grid:", exact_mean.round(3))

row = 0
density = w[:, row] / (w[:, row].sum() * (grid[1, 0, 0] - grid[0, 0, 0]))
plt.hist(samples[:, row, 0], bins=40, density=True, alpha=0.5, label="HMC samples")
plt.plot(grid[:, 0, 0], density, label=r"$p_\theta(z|x)$ on a grid")
plt.xlim(samples[:, row, 0].min() - 1, samples[:, row, 0].max() + 1)
plt.xlabel("$z$")
plt.legend()
plt.title("HMC samples the posterior of one datapoint")
plt.show()

# %% [markdown]
# ## 3. Three estimates of $\log p_\theta(x)$, and the bound
# * **App. D:** fit a density $q(z)$ to HMC samples, then
#   $p_\theta(x) \approx \left(\frac1L\sum_l q(z_l)/p_\theta(x, z_l)\right)^{-1}$ on fresh samples,
#   since $\mathbb E_{p(z|x)}[q(z)/p_\theta(x, z)] = 1/p_\theta(x)$.
# * **Importance sampling** with $q_\phi(z|x)$ as the proposal: $\log\frac1k\sum_i p_\theta(x, z_i)/q_\phi(z_i|x)$,
#   a lower bound that rises with $k$ and equals estimator A at $k = 1$.
# * **Quadrature** on a grid: the reference, possible only because $J = 1$.

# %%
exact = quadrature_log_px(model, X)
app_d = appendix_d_log_px(model, X, n_samples=200 if FAST else 1000, thin=2, rng=1).log_px
iwae = {k: importance_log_px(model, X, k, rng=2) for k in (1, 10, 1000)}
elbo = model.elbo(X, L=2000 if FAST else 20000, rng=np.random.default_rng(3))
print("quadrature      :", exact.round(3))
print("App. D          :", app_d.round(3))
for k, v in iwae.items():
    print(f"IS, k = {k:<5}   :", v.round(3))
print("ELBO (B, mean)  :", elbo.round(3))

rows = np.arange(len(X))
plt.plot(rows, exact, "k_", ms=20, mew=2, label="quadrature (exact)")
plt.plot(rows, app_d, "o", label="App. D")
plt.plot(rows, iwae[1000], "s", label="IS, k = 1000")
plt.plot(rows, elbo, "v", label="ELBO")
plt.xlabel("datapoint")
plt.ylabel(r"$\log p_\theta(x)$ (nats)")
plt.legend()
plt.title("Estimates of the marginal likelihood; the ELBO lies below")
plt.show()

# %% [markdown]
# Read the IS rows closely: with one sample a row can land *above* $\log p_\theta(x)$ (it is a
# lower bound only on average), and this model's encoder is untrained, a poor proposal, so even
# $k = 1000$ is a little low on some rows. App. D, which never uses the encoder, is the closest.
#
# ## Check yourself
# * Why must the Metropolis step use $H$ at *both* ends? (Leave it out: `tests/test_hmc.py` has a
#   test that shows the invariance check failing.)
# * The App. D estimator divides by $p_\theta(x, z)$: what goes wrong if $q$ has heavier tails
#   than the posterior?
# * Why can the ELBO never be above the quadrature value?

# %%
assert max(errors.values()) < 1e-7
assert np.all(np.abs(samples[..., 0].mean(0) - exact_mean) < 0.15)
assert np.all(np.abs(app_d - exact) < 0.3)
assert np.all(elbo < exact)
print("check yourself: PASSED")
