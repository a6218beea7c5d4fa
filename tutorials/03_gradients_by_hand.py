# %% [markdown]
# # 03 — Gradients by hand: the reparameterization trick and estimator B
#
# **Learning goals.** After this lesson you can
# 1. write $z = \mu + \sigma\odot\epsilon$ (eq. 4) and derive $\partial z/\partial\mu$ and
#    $\partial z/\partial\log\sigma^2$;
# 2. derive the gradient of the analytic KL term (App. B, eq. 10);
# 3. see why the Bernoulli log-likelihood is computed from logits (App. C.1);
# 4. assemble estimator B (eq. 7) and check every gradient with finite differences.
#
# **Paper equations:** (4), (7), (10), (11).
#
# Sign convention: the paper maximizes the bound $\mathcal L$; the code minimizes $-\mathcal L$.
#
# **Engine:** none is needed: this lesson calls the readable forward/backward pairs directly
# (the reference engine's pieces). **Run time:** 1.3 s, or 1.0 s with `MINIVAE_FAST=1` (what the test
# suite sets), measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/03_gradients_by_hand.py` (other jobs kept the machine busy).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minivae
from minivae import gradcheck
from minivae.decoder import decoder_loglik_backward, decoder_loglik_forward
from minivae.encoder import encoder_backward, encoder_forward
from minivae.estimators import sgvb_b_backward, sgvb_b_forward
from minivae.gaussian import kl_backward, kl_forward, sample_backward, sample_forward
from minivae.likelihoods import bernoulli_loglik_backward, bernoulli_loglik_forward

FAST = os.environ.get("MINIVAE_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The reparameterization trick
# Instead of sampling $z \sim \mathcal N(\mu, \sigma^2)$ directly, draw $\epsilon \sim \mathcal N(0, I)$
# and set $z = \mu + \sigma\epsilon$ with $\sigma = \exp(\frac12\,\text{logvar})$. Now $z$ is a
# differentiable function of $(\mu, \text{logvar})$ for fixed noise:
# $\partial z/\partial\mu = 1$ and $\partial z/\partial\,\text{logvar} = \frac12\sigma\epsilon$.

# %%
M, J = 4, 3
mu, logvar = rng.standard_normal((M, J)), rng.standard_normal((M, J))
eps = rng.standard_normal((M, J))
z, cache = sample_forward(mu, logvar, eps)
print("z =\n", z)

# A sample mean and variance over many eps should match mu and exp(logvar):
n = 2_000 if FAST else 200_000
zs, _ = sample_forward(mu[0], logvar[0], rng.standard_normal((n, J)))
print("sample mean", zs.mean(0), "vs mu", mu[0])
print("sample var ", zs.var(0), "vs exp(logvar)", np.exp(logvar[0]))

grid = np.linspace(zs[:, 0].min(), zs[:, 0].max(), 200)
sd = np.exp(0.5 * logvar[0, 0])
plt.hist(zs[:, 0], bins=60, density=True, alpha=0.5, label=r"$\mu + \sigma\epsilon$, $\epsilon \sim N(0, 1)$")
plt.plot(grid, np.exp(-0.5 * ((grid - mu[0, 0]) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)),
         label=r"$N(\mu, \sigma^2)$")
plt.xlabel("$z_1$")
plt.legend()
plt.title("The reparameterized sample has the right distribution")
plt.show()

# %% [markdown]
# ## 2. The KL term in closed form
# $-D_{KL}(q\,\|\,p) = \frac12\sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)$, so
# $\partial D_{KL}/\partial\mu = \mu$ and $\partial D_{KL}/\partial\,\text{logvar} = \frac12(\sigma^2 - 1)$.

# %%
kl, kl_cache = kl_forward(mu, logvar)
print("KL per datapoint:", kl, "(always >= 0)")
print("KL at the prior:", kl_forward(np.zeros((1, J)), np.zeros((1, J)))[0])

# One latent dimension: the KL as a function of mu (logvar = 0) and of logvar (mu = 0).
t = np.linspace(-3, 3, 121)[:, None]
fig, ax = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
ax[0].plot(t, kl_forward(t, np.zeros_like(t))[0])
ax[0].set_xlabel(r"$\mu$ (logvar = 0)")
ax[0].set_ylabel(r"$D_{KL}$")
ax[1].plot(t, kl_forward(np.zeros_like(t), t)[0])
ax[1].set_xlabel(r"logvar ($\mu$ = 0)")
fig.suptitle("The KL to N(0, 1) is 0 only at the prior")
plt.show()

# %% [markdown]
# ## 3. The Bernoulli decoder from logits
# With $y = \sigma(a)$, $\log p(x|z) = \sum_d x_d\log y_d + (1-x_d)\log(1-y_d) = \sum_d x_d a_d - \log(1 + e^{a_d})$.
# The second form never takes the log of a probability that rounded to 0 or 1.

# %%
x = (rng.random((M, 6)) < 0.5).astype(float)
logits = np.array([[-800.0, -5.0, 0.0, 5.0, 800.0, 1.0]]).repeat(M, 0)
ll, _ = bernoulli_loglik_forward(x, logits)
print("log p(x|z) with extreme logits stays finite:", ll)
print("at zero logits it equals -D log 2:", bernoulli_loglik_forward(x, np.zeros_like(x))[0][0],
      -6 * np.log(2))

# %% [markdown]
# ## 4. Assembling estimator B
# Now chain the pieces into eq. (7) for a small VAE (6 pixels, 5 hidden units,
# $J = 3$), exactly as `VAE` does:
#
# $$\tilde{\mathcal L}^B(\theta, \phi; x) = -D_{KL}(q_\phi(z|x)\,\|\,p(z)) + \frac1L\sum_{l=1}^L \log p_\theta(x|z^{(l)}),
# \qquad z^{(l)} = \mu + \sigma\odot\epsilon^{(l)}.$$
#
# The forward pass runs encoder, sampler, decoder, KL and eq. (7); the backward pass runs them in
# reverse. The noise $z$ depends on $(\mu, \text{logvar})$ through the sampler *and* the KL depends
# on them directly, so their gradients add at the encoder's heads. The loss is $-\frac1M\sum_i\tilde{\mathcal L}^B$,
# so the upstream gradient of every datapoint's bound is $-1/M$.

# %%
vae = minivae.VAE(6, n_hidden=5, n_latent=J, init_std=0.5, seed=1)
Lsamp = 2
eps_B = rng.standard_normal((Lsamp, M, J))
dec_args = (len(vae.n_hidden), vae.activation, vae.decoder, vae.sigmoid_mean)

mu_x, logvar_x, enc_cache = encoder_forward(x, vae.params, len(vae.n_hidden), vae.activation)
z_B, s_cache = sample_forward(mu_x, logvar_x, eps_B)                      # (L, M, J)
log_px_z, ll_cache = decoder_loglik_forward(x, z_B, vae.params, *dec_args)  # (L, M)
kl_B, klc = kl_forward(mu_x, logvar_x)                                    # (M,)
bound, b_cache = sgvb_b_forward(log_px_z, kl_B)                           # (M,), eq. (7)
print("estimator B by hand:", bound)
print("VAE.elbo           :", vae.elbo(x, eps_B, estimator="B"))

dlog_px_z, dkl = sgvb_b_backward(np.full(M, -1.0 / M), b_cache)
dz, grads_B = decoder_loglik_backward(dlog_px_z, ll_cache)
dmu_kl, dlogvar_kl = kl_backward(dkl, klc)
dmu_s, dlogvar_s = sample_backward(dz, s_cache)
grads_B.update(encoder_backward(dmu_kl + dmu_s, dlogvar_kl + dlogvar_s, enc_cache))
loss_B, grads_model = vae.loss_and_grads(x, eps_B, estimator="B")
worst = max(np.max(np.abs(grads_B[k] - grads_model[k])) for k in grads_model)
print("loss", loss_B, "= -mean(bound)", -bound.mean(), "; largest gradient difference:", worst)

# %% [markdown]
# ## Check yourself
# Every backward above is a vector-Jacobian product. `gradcheck.check_vjp` compares it with
# central differences for a random upstream gradient; it raises if the relative error exceeds
# `tol`. Try breaking one (e.g. use `sigma` instead of `0.5 * sigma` in the sampler's backward)
# and watch the check fail.

# %%
dz = rng.standard_normal((M, J))
dmu, dlogvar = sample_backward(dz, cache)
print(gradcheck.check_vjp(lambda: sample_forward(mu, logvar, eps)[0], {"mu": mu, "logvar": logvar},
                          dz, {"mu": dmu, "logvar": dlogvar}))

dkl = rng.standard_normal(M)
print(gradcheck.check_vjp(lambda: kl_forward(mu, logvar)[0], {"mu": mu, "logvar": logvar},
                          dkl, dict(zip(("mu", "logvar"), kl_backward(dkl, kl_cache)))))

a = rng.standard_normal((M, 6))
dll = rng.standard_normal(M)
_, ll_cache = bernoulli_loglik_forward(x, a)
print(gradcheck.check_vjp(lambda: bernoulli_loglik_forward(x, a)[0], {"logits": a}, dll,
                          {"logits": bernoulli_loglik_backward(dll, ll_cache)}))

# %% [markdown]
# Finally the whole model: every parameter tensor of a small VAE, estimator B, L = 2.

# %%
from minivae.modelcheck import check_model_gradients  # noqa: E402

report = check_model_gradients(decoder="bernoulli", estimator="B", L=2)
print(report)
assert report.passed
assert np.allclose(bound, vae.elbo(x, eps_B, estimator="B"))
assert np.isclose(loss_B, -bound.mean()) and worst < 1e-12
assert abs(zs.mean(0) - mu[0]).max() < 0.2 and np.all(kl >= 0)
print("check yourself: PASSED")
