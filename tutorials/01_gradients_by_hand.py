# %% [markdown]
# # 01 — Gradients by hand: the reparameterization trick and estimator B
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

# %%
import os

import numpy as np

from minivae import gradcheck
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

# %% [markdown]
# ## 2. The KL term in closed form
# $-D_{KL}(q\,\|\,p) = \frac12\sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)$, so
# $\partial D_{KL}/\partial\mu = \mu$ and $\partial D_{KL}/\partial\,\text{logvar} = \frac12(\sigma^2 - 1)$.

# %%
kl, kl_cache = kl_forward(mu, logvar)
print("KL per datapoint:", kl, "(always >= 0)")
print("KL at the prior:", kl_forward(np.zeros((1, J)), np.zeros((1, J)))[0])

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
