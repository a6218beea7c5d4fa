r"""Glorot & Bengio's (2010) uniform initialization, the IWAE paper's choice.

Every weight matrix $W$ of shape ``(fan_in, fan_out)`` is drawn from
$\mathcal U(-a, a)$ with $a = \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}$, so that the
activations' and the gradients' variances stay about the same from layer to layer; every bias
starts at 0. (The AEVB paper instead draws every parameter from $\mathcal N(0, 0.01^2)$, the
:class:`~minivae.VAE` default.)
"""
import numpy as np

__all__ = ["glorot_uniform"]


def glorot_uniform(model, rng):
    """Overwrite ``model.params`` in place: Glorot-uniform weights, zero biases.

    Parameters
    ----------
    model : VAE
    rng : numpy.random.Generator; the draws are made in float64, in ``model.params``' order,
        and rounded to the model's dtype
    """
    for p in model.params.values():
        if p.ndim == 2:
            limit = np.sqrt(6.0 / (p.shape[0] + p.shape[1]))
            p[...] = rng.uniform(-limit, limit, p.shape)
        else:
            p[...] = 0.0
    return model
