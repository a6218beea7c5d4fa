r"""The hot path's maths, written once.

Each function here is plain NumPy arithmetic that works on scalars and, elementwise, on whole
arrays. The NumPy backend calls them on arrays; the Numba backend calls them per element inside
the compiled loops of :mod:`minivae.kernels.loops` (``register_jitable`` makes them callable
from compiled code, where they are inlined). The formulas are those of the teaching modules
(:mod:`minivae.activations`, :mod:`minivae.gaussian`, :mod:`minivae.likelihoods`,
:mod:`minivae.optim`), which use these very functions.

**Editing this file** recompiles the Numba loops on the next run: their disk cache is stamped
with every source file of :mod:`minivae.kernels` (:mod:`~minivae.kernels.diskcache`).

Activations are selected by an integer code so that one compiled loop serves all of them.
Their derivatives are written in terms of the output $h$ alone, so a backward pass never
needs the pre-activation.
"""
import numpy as np
from numba.extending import register_jitable

IDENTITY, TANH, SIGMOID, SOFTPLUS, RELU = 0, 1, 2, 3, 4
ACTIVATION_CODES = {"identity": IDENTITY, "tanh": TANH, "sigmoid": SIGMOID,
                    "softplus": SOFTPLUS, "relu": RELU}


@register_jitable
def sigmoid_from(a, e):
    r"""$\sigma(a)$ given $e = e^{-|a|}$: with $r = 1/(1+e)$, $r$ for $a \ge 0$ and $e r$ for $a < 0$."""
    r = 1.0 / (1.0 + e)
    return (a >= 0) * r + (a < 0) * (e * r)  # one term is exactly zero: no cancellation


@register_jitable
def softplus_from_log1p(a, l):
    r"""$\log(1 + e^a) = \max(a, 0) + \log(1 + e^{-|a|})$ given $l = \log(1 + e^{-|a|})$."""
    return np.maximum(a, 0.0) + l


@register_jitable
def softplus_from(a, e):
    r"""$\log(1 + e^a)$ given $e = e^{-|a|}$ (:func:`softplus_from_log1p`)."""
    return softplus_from_log1p(a, np.log1p(e))


@register_jitable
def sigmoid(a):
    r"""$\sigma(a) = 1/(1 + e^{-a})$ in two branches that never overflow (:func:`sigmoid_from`)."""
    return sigmoid_from(a, np.exp(-np.abs(a)))


@register_jitable
def softplus(a):
    r"""$\log(1 + e^a)$, finite for every finite $a$ (:func:`softplus_from`)."""
    return softplus_from(a, np.exp(-np.abs(a)))


@register_jitable
def activation(code, a):
    """$f(a)$ for the activation with integer ``code``."""
    if code == TANH:
        return np.tanh(a)
    if code == SIGMOID:
        return sigmoid(a)
    if code == SOFTPLUS:
        return softplus(a)
    if code == RELU:
        return np.maximum(a, 0.0)
    return a + 0.0


@register_jitable
def activation_grad(code, dh, h):
    r"""$\partial\ell/\partial a = \partial\ell/\partial h \cdot f'(a)$ with $f'$ written in $h = f(a)$:
    tanh $1 - h^2$, sigmoid $h(1-h)$, softplus $1 - e^{-h}$, relu $[h > 0]$, identity 1."""
    if code == TANH:
        return dh * (1.0 - h * h)
    if code == SIGMOID:
        return dh * (h * (1.0 - h))
    if code == SOFTPLUS:
        return dh * -np.expm1(-h)
    if code == RELU:
        return dh * (h > 0)
    return dh + 0.0


@register_jitable
def bernoulli_grad_from(x, a, e):
    r"""$\partial \log p(x|a)/\partial a = x - \sigma(a)$ given $e = e^{-|a|}$, written as
    $x\,\sigma(-a) - (1 - x)\,\sigma(a)$: for $x = 1$ and large $a$ this returns the small
    $\sigma(-a)$ to full relative precision instead of the cancellation $1 - \sigma(a)$.

    Both sigmoids share $r = 1/(1+e)$ (:func:`sigmoid_from`): for $a \ge 0$,
    $\sigma(a) = r$ and $\sigma(-a) = e r$; for $a < 0$ the other way round (at $a = 0$, $e = 1$
    and both are $r$). So the gradient is $r\,(x\,u - (1 - x)\,v)$ with $(u, v) = (e, 1)$ for
    $a \ge 0$ and $(1, e)$ for $a < 0$."""
    r = 1.0 / (1.0 + e)
    pos, neg = a >= 0, a < 0
    return r * (x * (pos * e + neg) - (1.0 - x) * (neg * e + pos))


@register_jitable
def bernoulli_grad(x, a):
    r"""$\partial \log p(x|a)/\partial a = x - \sigma(a)$ (:func:`bernoulli_grad_from`)."""
    return bernoulli_grad_from(x, a, np.exp(-np.abs(a)))


@register_jitable
def bernoulli_terms_from(x, a, e, l):
    r"""One pixel's $\log p(x|a) = x a - \operatorname{softplus}(a)$ (App. C.1) and its derivative,
    given $e = e^{-|a|}$ and $l = \log(1 + e)$."""
    return x * a - softplus_from_log1p(a, l), bernoulli_grad_from(x, a, e)


@register_jitable
def bernoulli_terms(x, a):
    r"""One pixel's $\log p(x|a)$ and its derivative, sharing one $e^{-|a|}$
    (:func:`bernoulli_terms_from`)."""
    e = np.exp(-np.abs(a))
    return bernoulli_terms_from(x, a, e, np.log1p(e))


@register_jitable
def precision_log_cap(a):
    r"""The largest whole $c$ with $e^c$ finite in ``a``'s dtype: 709 (float64), 88 (float32)."""
    return float(np.floor(np.log(np.finfo(a.dtype).max)))


@register_jitable
def log_precision(logvar, cap):
    r"""$\log(1/\sigma^2) = -\text{logvar}$, held at ``cap`` (:func:`precision_log_cap`) so that
    $w = e^{-\text{logvar}}$ stays finite.

    Without the cap, $w$ overflows below logvar = -709.8 (float64) or -88.7 (float32) and at
    $x = \mu$ the Gaussian's $(x-\mu)^2 w$ is $0 \cdot \infty$ = NaN, although the density is
    finite there ($-\tfrac12(\log 2\pi + \text{logvar})$, +499.08 at logvar = -1000). With it,
    the density and its gradients are exact at $x = \mu$ for every logvar and unchanged, bit for
    bit, above the cap; below it, off the mean, $1/\sigma^2$ is taken as $e^{\text{cap}}$ (a
    variance under $10^{-307}$, or $10^{-38}$ in float32, that no model reaches in practice)."""
    return np.minimum(-logvar, cap)


@register_jitable
def gaussian_loglik_from(x, mean, logvar, w):
    r"""One coordinate's $\log\mathcal N(x; \mu, e^{\text{logvar}})
    = -\tfrac12(\log 2\pi + \text{logvar} + (x-\mu)^2 w)$ given $w = e^{-\text{logvar}}$ (App. C.2;
    $w$ from :func:`log_precision`)."""
    d = x - mean
    return -0.5 * (1.8378770664093453 + logvar + d * d * w)


@register_jitable
def gaussian_grad_mean_from(x, mean, w):
    r"""$\partial/\partial\mu = (x-\mu) w$ given $w = e^{-\text{logvar}}$."""
    return (x - mean) * w


@register_jitable
def gaussian_grad_logvar_from(x, mean, w):
    r"""$\partial/\partial\,\text{logvar} = \tfrac12((x-\mu)^2 w - 1)$ given $w = e^{-\text{logvar}}$."""
    d = x - mean
    return 0.5 * (d * d * w - 1.0)


@register_jitable
def precision(logvar):
    r"""$w = 1/\sigma^2 = e^{-\text{logvar}}$, its exponent capped (:func:`log_precision`)."""
    return np.exp(log_precision(logvar, precision_log_cap(np.asarray(logvar))))


@register_jitable
def reparameterize(mu, logvar, eps):
    r"""$z = \mu + e^{\frac12\text{logvar}}\epsilon$ (eq. 4)."""
    return mu + np.exp(0.5 * logvar) * eps


@register_jitable
def kl_term(mu, logvar):
    r"""One latent dimension's $D_{KL}$: $\tfrac12(\mu^2 + (\operatorname{expm1}(\text{logvar}) - \text{logvar}))$ (App. B)."""
    return 0.5 * (mu * mu + (np.expm1(logvar) - logvar))


@register_jitable
def reparam_grad_logvar(dz, logvar, eps):
    r"""$\partial z/\partial\,\text{logvar}$ times $\bar z$: $\tfrac12 \bar z\, e^{\frac12\text{logvar}} \epsilon$."""
    return 0.5 * dz * np.exp(0.5 * logvar) * eps


@register_jitable
def kl_grad_logvar(dkl, logvar):
    r"""$\bar D \cdot \partial D_{KL}/\partial\,\text{logvar} = \tfrac12 \bar D\, \operatorname{expm1}(\text{logvar})$."""
    return 0.5 * dkl * np.expm1(logvar)


@register_jitable
def adagrad_accumulate(G, g):
    """Adagrad's accumulator after one more gradient: $G + g^2$."""
    return G + g * g


@register_jitable
def adagrad_param(p, g, G, lr, delta, tiny):
    r"""Adagrad's step with the updated accumulator, $\theta - \eta\, g / (\sqrt G + \delta)$,
    flushed to 0 below ``tiny`` (:func:`flush_subnormal`)."""
    return flush_subnormal(p - lr * g / (np.sqrt(G) + delta), tiny)


@register_jitable
def flush_subnormal(x, tiny):
    r"""$x$, or 0 where $|x| <$ ``tiny``, the dtype's smallest normal number.

    Under Adagrad with the weight prior, the weights of pixels that are never on shrink
    geometrically until they are subnormal; there their prior gradient $\theta/N$ underflows,
    so they stay subnormal for good (4% of the paper's model in float32 after 8,000 steps), and
    arithmetic on subnormal numbers is slow on x86 (the float32 update took 1.1 ms instead of
    0.37 ms; docs/performance.md). A weight below ``tiny`` has no effect on the model."""
    return x * (np.abs(x) >= tiny)


@register_jitable
def moment(m, g, beta):
    r"""Exponential moving average $\beta m + (1 - \beta) g$ (Adam's first and second moments)."""
    return beta * m + (1.0 - beta) * g


@register_jitable
def adam_param(p, m, v, lr, epsilon, correction1, correction2):
    r"""Adam's step $\theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$, $\hat m = m / c_1$, $\hat v = v / c_2$."""
    return p - lr * (m / correction1) / (np.sqrt(v / correction2) + epsilon)


# Dynamic binarization: a counter-based stream, so that any row range can be drawn on its own.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_ONE, _S11, _S27, _S30, _S31 = (np.uint64(s) for s in (1, 11, 27, 30, 31))


@register_jitable
def splitmix64(z):
    """SplitMix64's output function (Steele, Lea and Flood, 2014): a bijection of 64-bit words.
    Applied to ``key + i * gamma`` for i = 1, 2, ... it gives the SplitMix64 stream of seed
    ``key``; all arithmetic wraps modulo 2**64 (uint64 throughout)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@register_jitable
def bernoulli_draw(x, key, i):
    """Whether draw ``i`` (uint64, from 0) of seed ``key`` (uint64) comes up 1 with probability
    ``x``: output ``i + 1`` of SplitMix64, cut to a 53-bit uniform ``u`` in [0, 1), and
    ``u < x``."""
    return (splitmix64(key + (i + _ONE) * _GAMMA) >> _S11) * 2.0 ** -53 < x
