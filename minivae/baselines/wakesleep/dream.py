r"""Dreams: ancestral samples of the generative model, the sleep phase's training data.

A dream is a pair $(z, x)$ with $z \sim p(z) = \mathcal N(0, I)$ and $x \sim p_\theta(x|z)$. As
everywhere in minivae the randomness is an argument, so :func:`dream` is a deterministic function
of the parameters and the noise:

* Bernoulli decoder (App. C.1): ``noise`` holds uniforms $u \in [0, 1)$ and
  $x_d = [u_d < y_d]$ with $y = \sigma(a)$ the decoder's probabilities: a binary image, like the
  dynamically binarized training data;
* Gaussian decoder (App. C.2): ``noise`` holds standard normals $\nu$ and
  $x = \mu + \sigma \odot \nu$ with $\sigma = \exp(\tfrac12\,\text{logvar})$ from the decoder.
  The sample is not clipped to $(0, 1)$: it is a draw from the model as it stands.

There is no backward: the sleep phase treats the dream as data, so no gradient flows into
$\theta$ through it.
"""
import numpy as np

from ...activations import sigmoid
from ...decoder import check_decoder, decoder_forward

__all__ = ["DREAM_DECODERS", "draw_dream_noise", "dream", "dream_from"]

DREAM_DECODERS = ("bernoulli", "gaussian")
"""The decoder kinds (:mod:`minivae.decoder`) whose samples this module draws."""


def draw_dream_noise(rng, M, n_latent, n_input, kind):
    r"""Draw the noise of ``M`` dreams from ``rng``: first ``Z``, then the pixel noise.

    Parameters
    ----------
    rng : numpy.random.Generator
    M, n_latent, n_input : int, the number of dreams, $J$ and $D$
    kind : ``"bernoulli"`` or ``"gaussian"``

    Returns
    -------
    Z : ndarray (M, J), standard normal: $z \sim p(z)$
    noise : ndarray (M, D), uniform in [0, 1) for ``"bernoulli"``, standard normal for ``"gaussian"``
    """
    name = check_decoder(kind)
    if name not in DREAM_DECODERS:
        raise ValueError(f"wake-sleep dreams from the decoders {', '.join(DREAM_DECODERS)} only, "
                         f"not {name}")
    Z = rng.standard_normal((M, n_latent))
    if name == "bernoulli":
        return Z, rng.random((M, n_input))
    return Z, rng.standard_normal((M, n_input))


def dream(Z, noise, params, n_layers, activation, kind, sigmoid_mean=True):
    r"""Sample $x \sim p_\theta(x|z)$ for every row of ``Z``, driven by ``noise``.

    Parameters
    ----------
    Z : ndarray (M, J), latent samples (from the prior in the sleep phase)
    noise : ndarray (M, D), see :func:`draw_dream_noise`
    params : dict with the ``dec.*`` arrays
    n_layers, activation, kind, sigmoid_mean : the decoder's architecture, as in
        :func:`minivae.decoder.decoder_forward`

    Returns
    -------
    X : ndarray (M, D) float64; entries 0.0 or 1.0 for the Bernoulli decoder
    """
    outputs, _ = decoder_forward(Z, params, n_layers, activation, kind, sigmoid_mean)
    return dream_from(outputs, noise)


def dream_from(outputs, noise, out=None):
    r"""The dreams of :func:`dream` from the decoder's outputs (the second half of :func:`dream`;
    the fused wake-sleep step, :mod:`minivae.baselines.wakesleep.fused`, computes the outputs its own way).

    Parameters
    ----------
    outputs : dict, ``logits``, or ``mean`` (after the optional sigmoid) and ``logvar``, each (M, D)
    noise : ndarray (M, D), see :func:`draw_dream_noise`
    out : ndarray (M, D), optional, written and returned instead of a new float64 array

    Returns
    -------
    X : ndarray (M, D); entries 0.0 or 1.0 for the Bernoulli decoder
    """
    if out is None:
        out = np.empty(noise.shape, np.float64)
    if "logits" in outputs:
        return np.less(noise, sigmoid(outputs["logits"]), out=out)
    return np.add(outputs["mean"], np.exp(0.5 * outputs["logvar"]) * noise, out=out)
