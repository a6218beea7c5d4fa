# %% [markdown]
# # 02 — The MLP layer library and backpropagation
#
# **Learning goals.** After this lesson you can
# 1. derive the backward pass of an affine layer $H = XW + b$: $\bar X = \bar H W^\top$,
#    $\bar W = X^\top \bar H$, $\bar b = \sum_m \bar H_m$ (a bar is the gradient of the loss with
#    respect to that array);
# 2. derive each activation's derivative, written from its output where that is cheaper
#    ($\tanh' = 1 - h^2$, $\sigma' = h(1-h)$);
# 3. chain layers into an MLP (App. C) and check the whole backward pass by finite differences;
# 4. find a seeded bug with a gradient check, and choose the finite-difference step.
#
# **Paper:** App. C (the encoder and decoder MLPs). Derivation: the site's page "MLPs and the chain rule".
#
# **Engine:** none; this lesson calls `minivae.layers` and `minivae.activations` directly, the
# code the reference engine runs. **Run time:** 1.4 s, or 0.8 s with `MINIVAE_FAST=1` (what the test
# suite sets), measured on 2026-12-07 on a shared 2-core AMD EPYC server with
# `python tutorials/02_layers_and_backprop.py` (other jobs kept the machine busy).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from minivae import gradcheck
from minivae.activations import ACTIVATIONS, activation_backward, activation_forward
from minivae.layers import affine_backward, affine_forward, mlp_backward, mlp_forward

FAST = os.environ.get("MINIVAE_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The affine layer
# Batch first, as in the code: `X (M, D_in)`, `W (D_in, D_out)`, `b (D_out,)`. Entry by entry,
# $H_{mk} = \sum_d X_{md} W_{dk} + b_k$, so for a scalar loss $\ell$
#
# $$\bar X_{md} = \sum_k \bar H_{mk} W_{dk}, \quad \bar W_{dk} = \sum_m X_{md}\bar H_{mk}, \quad \bar b_k = \sum_m \bar H_{mk}.$$
#
# A backward function returns exactly this vector-Jacobian product for a given upstream $\bar H$.

# %%
M, D_in, D_out = 5, 4, 3
Xa, W, b = rng.standard_normal((M, D_in)), rng.standard_normal((D_in, D_out)), rng.standard_normal(D_out)
H, cache = affine_forward(Xa, W, b)
dH = rng.standard_normal(H.shape)
dX, dW, db = affine_backward(dH, cache)
errors_affine = gradcheck.check_vjp(lambda: affine_forward(Xa, W, b)[0], {"X": Xa, "W": W, "b": b},
                                    dH, {"X": dX, "W": dW, "b": db})
print("affine layer, relative errors:", errors_affine)

# %% [markdown]
# ## 2. Activations and their derivatives
# Each activation is a pair (forward, derivative). The backward multiplies elementwise:
# $\bar a = \bar h \odot f'(a)$. For tanh and the sigmoid the derivative is cheapest from the
# output $h$ the forward pass already computed.

# %%
a = np.linspace(-4, 4, 401)
fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
for name in ACTIVATIONS:
    h, c = activation_forward(a, name)
    ax[0].plot(a, h, label=name)
    ax[1].plot(a, activation_backward(np.ones_like(a), c), label=name)
ax[0].set_title("$f(a)$")
ax[1].set_title("$f'(a)$ from the backward pass")
ax[0].set_ylim(-2, 4)
ax[1].legend(fontsize=8)
plt.show()

errors_act = {}
for name in ACTIVATIONS:
    x = rng.standard_normal((M, D_out)) + 0.01   # keep relu's kink away from the samples
    h, c = activation_forward(x, name)
    dh = rng.standard_normal(h.shape)
    errors_act[name] = gradcheck.check_vjp(lambda: activation_forward(x, name)[0], {"a": x}, dh,
                                           {"a": activation_backward(dh, c)})["a"]
print("activations, relative errors:", errors_act)

# %% [markdown]
# ## 3. The MLP: the chain rule, layer by layer
# `mlp_forward` stacks $h_k = f(h_{k-1}W_k + b_k)$ and keeps each layer's cache; `mlp_backward`
# walks the caches in reverse, turning $\bar h_k$ into $\bar a_k = \bar h_k \odot f'(a_k)$ and then
# into $\bar h_{k-1} = \bar a_k W_k^\top$, collecting $\bar W_k$ and $\bar b_k$ on the way.
# That is all of backpropagation.

# %%
sizes = [6, 8, 7, 5]
weights = [0.5 * rng.standard_normal((i, o)) for i, o in zip(sizes[:-1], sizes[1:])]
biases = [0.1 * rng.standard_normal(o) for o in sizes[1:]]
Xm = rng.standard_normal((M, sizes[0]))
Hm, mcache = mlp_forward(Xm, weights, biases, "tanh")
dHm = rng.standard_normal(Hm.shape)
dXm, dWs, dbs = mlp_backward(dHm, mcache)
inputs = {"X": Xm, **{f"W{k}": w for k, w in enumerate(weights, 1)},
          **{f"b{k}": v for k, v in enumerate(biases, 1)}}
analytic = {"X": dXm, **{f"W{k}": w for k, w in enumerate(dWs, 1)},
            **{f"b{k}": v for k, v in enumerate(dbs, 1)}}
errors_mlp = gradcheck.check_vjp(lambda: mlp_forward(Xm, weights, biases, "tanh")[0], inputs, dHm, analytic,
                                 tol=1e-6)  # a deeper chain rounds a little more
print("three-layer tanh MLP, relative errors:", {k: f"{v:.1e}" for k, v in errors_mlp.items()})

# %% [markdown]
# ## 4. Which gradient is wrong?
# Here are three candidate backward passes for tanh. Exactly one is right. Do not read them
# closely: let the gradient check decide.

# %%
candidates = {
    "candidate 1": lambda dh, a, h: dh * (1.0 - h),
    "candidate 2": lambda dh, a, h: dh * (1.0 - h * h),
    "candidate 3": lambda dh, a, h: dh / np.cosh(a),
}
x = rng.standard_normal((M, 3))
dh = rng.standard_normal(x.shape)
verdict = {}
for label, backward in candidates.items():
    err = gradcheck.check_vjp(lambda: np.tanh(x), {"a": x}, dh, {"a": backward(dh, x, np.tanh(x))},
                              raise_on_fail=False)["a"]
    verdict[label] = err
    print(f"{label}: relative error {err:.1e}", "ok" if err < 1e-7 else "WRONG")

# %% [markdown]
# ## 5. Choosing the step of a finite difference
# The central difference $(f(x+h) - f(x-h))/2h$ has a truncation error of order $h^2$ and a
# rounding error of order $\varepsilon_\text{mach}/h$. Their sum is smallest near
# $h \approx \varepsilon^{1/3} \approx 10^{-5}$: the V below. `gradcheck` uses $h = 10^{-6}$.

# %%
steps = np.logspace(-12, -1, 23 if FAST else 45)
x0 = np.array([0.7])
exact = 1.0 - np.tanh(x0[0]) ** 2
err_h = [abs(gradcheck.numerical_gradient(lambda: float(np.tanh(x0[0])), x0, h=s)[0] - exact) for s in steps]
plt.loglog(steps, err_h, "o-")
plt.xlabel("step $h$")
plt.ylabel("|error| of the central difference")
plt.title(r"Truncation ($h^2$) against rounding ($\varepsilon/h$)")
plt.show()

# %% [markdown]
# ## Check yourself
# * Why is $\bar b$ a sum over the minibatch, and $\bar W$ a product $X^\top\bar H$?
# * Which candidate above was right, and what did the wrong ones forget?
# * Why does the error grow again at very small $h$?

# %%
assert max(errors_affine.values()) < 1e-7 and max(errors_act.values()) < 1e-7
assert max(errors_mlp.values()) < 1e-6
assert [k for k, e in verdict.items() if e < 1e-7] == ["candidate 2"]
best = steps[int(np.argmin(err_h))]
assert 1e-7 <= best <= 1e-3 and min(err_h) < 1e-9
print("check yourself: PASSED")
