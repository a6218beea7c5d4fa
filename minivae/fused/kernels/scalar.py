r"""The fused engine's elementwise maths: the teaching modules' formulas, made callable from
compiled code.

The formulas themselves live where a reader looks for them: the sigmoid and softplus in
:mod:`minivae.activations`, the Bernoulli and Gaussian log-likelihood terms in
:mod:`minivae.likelihoods`, the sampler, the KL and the capped precision in
:mod:`minivae.gaussian`, the Adagrad and Adam steps in :mod:`minivae.optim`, the binarization
stream in :mod:`minivae.datasets.binarize`. They are plain NumPy functions of scalars or arrays;
``register_jitable`` below lets the compiled loops of :mod:`minivae.fused.kernels.loops` call them per
element (the NumPy backend calls them on whole arrays). So each formula is written once, and the
teaching core imports no Numba.

**Editing a formula** recompiles the Numba loops on the next run: their disk cache is stamped
with every source file of :mod:`minivae.fused.kernels` and of the modules above
(:mod:`~minivae.fused.kernels.diskcache`).

What is the fused engine's own: activations selected by an integer code, so that one compiled
loop serves all of them, with derivatives written in terms of the output $h$ alone, so that a
backward pass never needs the pre-activation.
"""
import numpy as np
from numba.extending import register_jitable

from ... import activations, gaussian, likelihoods, optim
from ...datasets.binarize import bernoulli_draw as _draw, splitmix64 as _mix

IDENTITY, TANH, SIGMOID, SOFTPLUS, RELU = 0, 1, 2, 3, 4
ACTIVATION_CODES = {"identity": IDENTITY, "tanh": TANH, "sigmoid": SIGMOID,
                    "softplus": SOFTPLUS, "relu": RELU}

# The formulas of the teaching modules, made callable from compiled code.
sigmoid_from = register_jitable(activations.sigmoid_from)
softplus_from_log1p = register_jitable(activations.softplus_from_log1p)
softplus_from = register_jitable(activations.softplus_from)
sigmoid = register_jitable(activations.sigmoid)
softplus = register_jitable(activations.softplus)
bernoulli_grad_from = register_jitable(likelihoods.bernoulli_grad_from)
bernoulli_grad = register_jitable(likelihoods.bernoulli_grad)
bernoulli_terms_from = register_jitable(likelihoods.bernoulli_terms_from)
bernoulli_terms = register_jitable(likelihoods.bernoulli_terms)
gaussian_loglik_from = register_jitable(likelihoods.gaussian_loglik_from)
gaussian_grad_mean_from = register_jitable(likelihoods.gaussian_grad_mean_from)
gaussian_grad_logvar_from = register_jitable(likelihoods.gaussian_grad_logvar_from)
precision_log_cap = register_jitable(gaussian.precision_log_cap)
log_precision = register_jitable(gaussian.log_precision)
precision = register_jitable(gaussian.precision)
reparameterize = register_jitable(gaussian.reparameterize)
kl_term = register_jitable(gaussian.kl_term)
reparam_grad_logvar = register_jitable(gaussian.reparam_grad_logvar)
kl_grad_logvar = register_jitable(gaussian.kl_grad_logvar)
adagrad_accumulate = register_jitable(optim.adagrad_accumulate)
adagrad_param = register_jitable(optim.adagrad_param)
flush_subnormal = register_jitable(optim.flush_subnormal)
moment = register_jitable(optim.moment)
adam_param = register_jitable(optim.adam_param)
splitmix64 = register_jitable(_mix)
bernoulli_draw = register_jitable(_draw)


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
