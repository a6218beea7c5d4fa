# %% [markdown]
# # 05 — The two decoders: Bernoulli (MNIST) and Gaussian (Frey Face)
#
# **Learning goals.** After this lesson you can
# 1. write the Bernoulli log-likelihood from logits (App. C.1, eq. 11) and its gradient
#    $\partial/\partial a_d = x_d - \sigma(a_d)$;
# 2. write the Gaussian log-likelihood with a mean and a log-variance head (App. C.2, eq. 12)
#    and its two gradients;
# 3. explain why a Gaussian log-*density* can be positive, and what that means for the Frey Face
#    bounds the paper reports;
# 4. check both backward passes, through the whole decoder MLP, by finite differences.
#
# **Paper:** App. C.1-C.2, eq. (11), (12). Derivation: the site's page "MLPs and the chain rule".
#
# **Engine:** none; the decoders are evaluated by the readable pieces.
# **Run time:** 2.9 s, or 1.3 s with `MINIVAE_FAST=1` (what the test
# suite sets), measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/05_two_decoders.py` (other jobs kept the machine busy).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minivae
from minivae import gradcheck
from minivae.datasets import binarize_fixed, load_frey, load_mnist
from minivae.decoder import decoder_loglik_backward, decoder_loglik_forward
from minivae.gaussian import LOG_2PI
from minivae.likelihoods import (bernoulli_loglik_backward, bernoulli_loglik_forward,
                                 gaussian_loglik_backward, gaussian_loglik_forward)

FAST = os.environ.get("MINIVAE_FAST") == "1"
rng = np.random.default_rng(0)
mnist, _ = load_mnist("test")
frey = load_frey("train")

fig, ax = plt.subplots(2, 6, figsize=(9, 3.4))
for k in range(6):
    ax[0, k].imshow(binarize_fixed(mnist[k:k + 1])[0].reshape(28, 28), cmap="gray")
    ax[1, k].imshow(frey[100 * k].reshape(28, 20), cmap="gray")
for a in ax.flat:
    a.axis("off")
fig.suptitle("Binarized MNIST (Bernoulli decoder) and Frey Face grey values (Gaussian decoder)")
plt.show()

# %% [markdown]
# ## 1. Bernoulli from logits
# The decoder's last layer gives logits $a = hW + b$ and $y = \sigma(a)$. Then
#
# $$\log p_\theta(x|z) = \sum_d x_d\log y_d + (1 - x_d)\log(1 - y_d) = \sum_d x_d a_d - \operatorname{softplus}(a_d), \qquad (11)$$
#
# and since $\operatorname{softplus}' = \sigma$, $\partial\log p/\partial a_d = x_d - y_d$: the
# gradient of the log-likelihood is the residual.

# %%
x = binarize_fixed(mnist[:4])
logits = rng.standard_normal(x.shape)
ll, cache = bernoulli_loglik_forward(x, logits)
y = 1 / (1 + np.exp(-logits))
naive = np.sum(x * np.log(y) + (1 - x) * np.log(1 - y), axis=1)
dll = rng.standard_normal(4)
xs, a40 = x[:, :40], logits[:, :40].copy()   # 40 pixels keep the finite differences accurate
err_bern = gradcheck.check_vjp(lambda: bernoulli_loglik_forward(xs, a40)[0], {"a": a40}, dll,
                               {"a": bernoulli_loglik_backward(dll, bernoulli_loglik_forward(xs, a40)[1])})["a"]
residual = bernoulli_loglik_backward(np.ones(4), cache)
print("log p(x|z), logits form:", ll.round(3), " naive form:", naive.round(3))
print("the gradient is x - sigmoid(a):", np.allclose(residual, x - y))

# %% [markdown]
# ## 2. Gaussian with a mean and a log-variance head
# For real-valued pixels the decoder has two heads, a mean $\mu$ (squashed by a sigmoid for Frey
# Face, whose grey values lie in $(0, 1)$) and $\text{logvar} = \log\sigma^2$:
#
# $$\log p_\theta(x|z) = -\frac12\sum_d \left(\log 2\pi + \text{logvar}_d + \frac{(x_d - \mu_d)^2}{\sigma_d^2}\right), \qquad (12)$$
#
# $$\frac{\partial\log p}{\partial\mu_d} = \frac{x_d - \mu_d}{\sigma_d^2}, \qquad
#   \frac{\partial\log p}{\partial\,\text{logvar}_d} = \frac12\left(\frac{(x_d-\mu_d)^2}{\sigma_d^2} - 1\right).$$
#
# A density is not a probability: when $\sigma_d$ is small and $\mu_d$ is close to $x_d$, a pixel's
# term is positive. Frey Face bounds are therefore positive numbers of nats (and grow as the
# decoder sharpens), unlike MNIST's. The plot shows one pixel's term.

# %%
resid = np.linspace(-0.3, 0.3, 301)
for lv in (-6.0, -4.0, -2.0, 0.0):
    plt.plot(resid, -0.5 * (LOG_2PI + lv + resid ** 2 / np.exp(lv)), label=f"logvar = {lv:g}")
plt.axhline(0, color="k", lw=0.5)
plt.xlabel(r"$x_d - \mu_d$")
plt.ylabel("log-density of one pixel (nats)")
plt.ylim(-6, 3)
plt.legend()
plt.title("A sharp Gaussian scores a close pixel above 0 nats")
plt.show()

xf = frey[:4, :40]   # 40 pixels keep the finite differences accurate
mean = rng.random(xf.shape)
logvar = 0.5 * rng.standard_normal(xf.shape) - 1
llg, gcache = gaussian_loglik_forward(xf, mean, logvar)
dmean, dlogvar = gaussian_loglik_backward(dll, gcache)
err_gauss = gradcheck.check_vjp(lambda: gaussian_loglik_forward(xf, mean, logvar)[0],
                                {"mean": mean, "logvar": logvar}, dll, {"mean": dmean, "logvar": dlogvar},
                                tol=1e-5)  # entries of dlogvar near 0 lose relative digits
print("Gaussian log-likelihood of 40 pixels of four faces:", llg.round(1), " errors:", err_gauss)

# %% [markdown]
# ## 3. Through the decoder MLP
# `decoder_loglik_forward` runs $z \mapsto h = \tanh(zW_1 + b_1) \mapsto$ heads $\mapsto \log p_\theta(x|z)$;
# its backward returns $\bar z$ (needed by the reparameterization, tutorial 03) and the gradient of
# every `dec.*` parameter. Check both decoders end to end.

# %%
errors_dec = {}
for kind, data in (("bernoulli", xs), ("gaussian", xf)):
    vae = minivae.VAE(data.shape[1], n_hidden=6, n_latent=2, decoder=kind, init_std=0.3, seed=1)
    args = vae._decoder_args()
    Z = rng.standard_normal((4, 2))
    out, dcache = decoder_loglik_forward(data, Z, vae.params, *args)
    dZ, grads = decoder_loglik_backward(dll, dcache)
    names = ["dec.W1", "dec.b1"] + [n for n in grads if "_" in n]
    inputs = {"Z": Z, **{n: vae.params[n] for n in names}}
    # (tol 1e-4: a few gradient entries are near 0, where a relative error loses digits)
    errors_dec[kind] = gradcheck.check_vjp(lambda: decoder_loglik_forward(data, Z, vae.params, *args)[0],
                                           inputs, dll, {"Z": dZ, **{n: grads[n] for n in names}}, tol=1e-4)
    print(kind, {k: f"{v:.1e}" for k, v in errors_dec[kind].items()})

# %% [markdown]
# ## Check yourself
# * Why is the logits form safe for $a = \pm 800$ and the naive form not?
# * What does the gradient with respect to logvar push $\sigma^2$ towards? (Set it to zero.)
# * Why can the Gaussian decoder's bound grow without limit if nothing stops logvar from falling?

# %%
assert np.allclose(ll, naive) and err_bern < 1e-7 and max(err_gauss.values()) < 1e-5
assert all(max(e.values()) < 1e-4 for e in errors_dec.values())
assert -0.5 * (LOG_2PI - 6.0) > 0, "a sharp Gaussian density exceeds 1 at its mean"
print("check yourself: PASSED")
