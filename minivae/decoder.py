r"""The generative model (decoder) $p_\theta(x|z)$ (App. C).

An MLP maps $z$ to a hidden layer $h = f(W z + b)$ (more layers when ``hidden`` has more
sizes), and affine heads give the parameters of an observation model, the decoder *kind*: each
head is $W_{\text{head}} h + b_{\text{head}}$, of shape ``(..., D)``. Two kinds are registered
here:

* ``"bernoulli"`` (:class:`Bernoulli`, App. C.1, MNIST): logits $a$,
  $p(x|z) = \prod_d \text{Bernoulli}(x_d; \sigma(a_d))$;
* ``"gaussian"`` (:class:`Gaussian`, App. C.2, Frey Face): mean $\mu$, passed through a sigmoid
  when ``sigmoid_mean`` (so that it stays in (0, 1) like the data), and $\log\sigma^2$.

Its parameters, $\theta$, are the entries of ``params`` whose names start with ``dec.``.
``Z`` may carry a leading sample axis, ``(L, M, J)``; outputs then have shape ``(L, M, D)``.

**Adding a decoder** is one class, in one file (a file of your own that you import, or this
one): subclass :class:`Decoder` and give it

* ``name``, which registers the kind in :data:`DECODERS` when the class is defined;
* ``heads``, the names of its affine heads (``"mean"``, ``"scale"``, ...: the parameters
  ``dec.W_<head>`` and ``dec.b_<head>``);
* ``binary``: ``True`` if its data are binary (values in [0, 1], binarized by the trainer),
  ``False`` for real data;
* ``loglik_forward(x, outputs) -> (log_px_z, cache)`` and ``loglik_backward(dlog_px_z, cache)
  -> {head: gradient}``, a forward/backward pair in the style of :mod:`minivae.likelihoods`;
* ``mean(outputs)``, the mean of $p_\theta(x|z)$ that :meth:`minivae.VAE.decode` reports;
* optionally ``sigmoid_head``, a head that ``VAE(sigmoid_mean=True)`` squashes into (0, 1).

Then ``VAE(..., decoder=name)`` builds it, :func:`minivae.modelcheck.check_model_gradients`
checks it, both engines train it alike (the fused engine has compiled kernels only for the kinds
that say ``fused = True``, Bernoulli and Gaussian; it trains any other kind through the readable
model), its checkpoints reload, and ``minivae train --decoder name`` offers it once its file is
imported. ``tests/test_decoders.py`` adds a unit-variance Gaussian decoder this way, in the test
file alone.
"""
from typing import NamedTuple

import numpy as np

from .activations import activation_backward, activation_forward, sigmoid
from .layers import affine_backward, affine_forward, mlp_backward, mlp_forward
from .likelihoods import (bernoulli_loglik_backward, bernoulli_loglik_forward,
                          gaussian_loglik_backward, gaussian_loglik_forward)
from .validation import check_data

__all__ = ["DECODERS", "Decoder", "Bernoulli", "Gaussian", "decoder_names", "get_decoder",
           "check_decoder", "decoder_shapes", "head_names", "decoder_forward", "decoder_backward",
           "decoder_mean", "decoder_loglik_forward", "decoder_loglik_backward"]

DECODERS = {}
"""Every decoder kind by name, one instance each. A subclass of :class:`Decoder` that sets
``name`` adds itself when it is defined; then :class:`minivae.VAE`, checkpoints and
``minivae train --decoder`` know it."""


class Decoder:
    r"""An observation model $p_\theta(x|z)$ over the decoder MLP's heads (see the module
    docstring for how to add one)."""

    name = ""
    heads = ()
    """The affine heads' names; each gives an output of shape ``(..., D)``."""
    binary = False
    """Whether the data are binary: values outside [0, 1] are refused, and the trainer binarizes
    grey values (dynamically by default). ``False``: any finite real data."""
    sigmoid_head = None
    """The head that ``VAE(sigmoid_mean=True)`` passes through a sigmoid, or ``None``."""
    fused = False
    """Whether the fused engine has compiled kernels for this kind
    (:mod:`minivae.fused.fastpath`); without them it trains the kind through the readable model."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls) and cls.name:
            known = DECODERS.get(cls.name)
            if known is not None and type(known).__qualname__ != cls.__qualname__:
                raise ValueError(f"{cls.__qualname__}: decoder {cls.name!r} is taken by "
                                 f"{type(known).__qualname__}; choose another name")
            DECODERS[cls.name] = cls()

    def loglik_forward(self, x, outputs):
        r"""$\log p_\theta(x|z)$ summed over ``D``: ``x (M, D)``, ``outputs`` head -> ``(M, D)``
        or ``(L, M, D)``; returns ``(log_px_z, cache)`` with ``log_px_z`` ``(M,)`` or ``(L, M)``."""
        raise NotImplementedError

    def loglik_backward(self, dlog_px_z, cache):
        """Backward of :meth:`loglik_forward`: a dict head -> gradient, each the head's shape."""
        raise NotImplementedError

    def mean(self, outputs):
        r"""The mean of $p_\theta(x|z)$, ``(..., D)``."""
        raise NotImplementedError

    def check_data(self, X, n_input, name="X", dtype=np.float64):
        """``X`` as a finite ``(M, n_input)`` array of ``dtype``; for a :attr:`binary` kind, in
        [0, 1] (binary targets or their probabilities)."""
        X = check_data(X, n_input, name, dtype)
        if self.binary and (X.min() < 0.0 or X.max() > 1.0):
            raise ValueError(f"{name} must lie in [0, 1] for the {self.name} decoder (binary "
                             f"data), got values in [{X.min():g}, {X.max():g}]")
        return X

    def __repr__(self):
        return f"{type(self).__name__}()"


class Bernoulli(Decoder):
    r"""App. C.1 (MNIST): logits $a$, $p(x|z) = \prod_d \text{Bernoulli}(x_d; \sigma(a_d))$;
    its mean is $\sigma(a)$."""
    name, heads, binary, fused = "bernoulli", ("logits",), True, True

    def loglik_forward(self, x, outputs):
        return bernoulli_loglik_forward(x, outputs["logits"])

    def loglik_backward(self, dlog_px_z, cache):
        return {"logits": bernoulli_loglik_backward(dlog_px_z, cache)}

    def mean(self, outputs):
        return sigmoid(outputs["logits"])


class Gaussian(Decoder):
    r"""App. C.2 (Frey Face): $p(x|z) = \mathcal N(x; \mu, \text{diag}(e^{\text{logvar}}))$ from
    the heads ``mean`` (squashed by a sigmoid when ``sigmoid_mean``) and ``logvar``; its mean is
    $\mu$."""
    name, heads, sigmoid_head, fused = "gaussian", ("mean", "logvar"), "mean", True

    def loglik_forward(self, x, outputs):
        return gaussian_loglik_forward(x, outputs["mean"], outputs["logvar"])

    def loglik_backward(self, dlog_px_z, cache):
        dmean, dlogvar = gaussian_loglik_backward(dlog_px_z, cache)
        return {"mean": dmean, "logvar": dlogvar}

    def mean(self, outputs):
        return outputs["mean"]


class DecoderCache(NamedTuple):
    lead_shape: tuple
    mlp: tuple
    heads: dict
    squashed: tuple | None  # (head, the sigmoid's cache) when a head was squashed


class LoglikCache(NamedTuple):
    kind: Decoder
    decoder: DecoderCache
    loglik: tuple


def decoder_names():
    """The registered kinds' names, sorted (read at call time, so a kind defined later is in)."""
    return sorted(DECODERS)


def get_decoder(kind):
    """The registered :class:`Decoder` called ``kind`` (a name, or a :class:`Decoder` itself),
    else ``ValueError`` listing the kinds."""
    if isinstance(kind, Decoder):
        return kind
    if not isinstance(kind, str) or kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; choose one of "
                         f"{', '.join(map(repr, decoder_names()))} ('bernoulli' for MNIST, "
                         f"'gaussian' for Frey Face)")
    return DECODERS[kind]


def check_decoder(kind):
    """Return the name of the decoder kind ``kind`` names (:func:`get_decoder`)."""
    return get_decoder(kind).name


def head_names(kind):
    """The output heads of a decoder kind: ``("logits",)``, ``("mean", "logvar")``, ..."""
    return get_decoder(kind).heads


def decoder_shapes(n_latent, hidden, n_input, kind):
    """Names and shapes of the decoder's parameters; ``hidden`` lists sizes from the ``z`` side."""
    shapes, sizes = {}, [n_latent, *hidden]
    for k in range(1, len(sizes)):
        shapes[f"dec.W{k}"], shapes[f"dec.b{k}"] = (sizes[k - 1], sizes[k]), (sizes[k],)
    for head in head_names(kind):
        shapes[f"dec.W_{head}"], shapes[f"dec.b_{head}"] = (sizes[-1], n_input), (n_input,)
    return shapes


def decoder_forward(Z, params, n_layers, activation, kind, sigmoid_mean=True):
    r"""$z \mapsto$ the likelihood's parameters.

    Parameters
    ----------
    Z : ndarray (..., J)
    params : dict with the ``dec.*`` arrays
    n_layers : int, the number of hidden layers
    activation : str
    kind : str, a decoder kind's name (:data:`DECODERS`): ``"bernoulli"``, ``"gaussian"``, ...
    sigmoid_mean : bool, squash the kind's :attr:`~Decoder.sigmoid_head` (the Gaussian mean)

    Returns
    -------
    outputs : dict head -> ndarray (..., D): ``logits``, or ``mean`` and ``logvar``, ...
    cache : DecoderCache
    """
    kind = get_decoder(kind)
    lead_shape = Z.shape[:-1]
    Ws = [params[f"dec.W{k}"] for k in range(1, n_layers + 1)]
    bs = [params[f"dec.b{k}"] for k in range(1, n_layers + 1)]
    H, mlp_cache = mlp_forward(Z.reshape(-1, Z.shape[-1]), Ws, bs, activation)
    outputs, head_caches = {}, {}
    for head in kind.heads:
        out, head_caches[head] = affine_forward(H, params[f"dec.W_{head}"], params[f"dec.b_{head}"])
        outputs[head] = out.reshape(*lead_shape, -1)
    squashed, head = None, kind.sigmoid_head
    if head is not None and sigmoid_mean:
        outputs[head], act_cache = activation_forward(outputs[head], "sigmoid")
        squashed = (head, act_cache)
    return outputs, DecoderCache(lead_shape, mlp_cache, head_caches, squashed)


def decoder_backward(doutputs, cache, param_grads=True):
    """Backward of :func:`decoder_forward`.

    Parameters
    ----------
    doutputs : dict head -> ndarray (..., D)
    param_grads : bool, whether to form the parameters' gradients (``False``: ``dZ`` only)

    Returns
    -------
    dZ : ndarray (..., J)
    grads : dict, the gradient for every ``dec.*`` parameter (empty with ``param_grads=False``)
    """
    doutputs = dict(doutputs)
    if cache.squashed is not None:
        head, act_cache = cache.squashed
        doutputs[head] = activation_backward(doutputs[head], act_cache)
    grads, dH = {}, 0.0
    for head, head_cache in cache.heads.items():
        dout = doutputs[head].reshape(-1, doutputs[head].shape[-1])
        dH_head, grads[f"dec.W_{head}"], grads[f"dec.b_{head}"] = affine_backward(
            dout, head_cache, param_grads)
        dH = dH + dH_head
    dZ, dWs, dbs = mlp_backward(dH, cache.mlp, param_grads)
    for k, (dW, db) in enumerate(zip(dWs, dbs), start=1):
        grads[f"dec.W{k}"], grads[f"dec.b{k}"] = dW, db
    grads = grads if param_grads else {}
    return dZ.reshape(*cache.lead_shape, -1), grads


def decoder_mean(outputs, kind):
    r"""The mean of $p_\theta(x|z)$ (:meth:`Decoder.mean`): Bernoulli probabilities $\sigma(a)$,
    the Gaussian mean, ..."""
    return get_decoder(kind).mean(outputs)


def decoder_loglik_forward(X, Z, params, n_layers, activation, kind, sigmoid_mean=True):
    r"""$\log p_\theta(x|z)$ for every row of ``X`` and every sample in ``Z``.

    Parameters
    ----------
    X : ndarray (M, D)
    Z : ndarray (M, J) or (L, M, J)

    Returns
    -------
    log_px_z : ndarray (M,) or (L, M)
    cache : LoglikCache
    """
    kind = get_decoder(kind)
    outputs, dec_cache = decoder_forward(Z, params, n_layers, activation, kind, sigmoid_mean)
    log_px_z, ll_cache = kind.loglik_forward(X, outputs)
    return log_px_z, LoglikCache(kind, dec_cache, ll_cache)


def decoder_loglik_backward(dlog_px_z, cache, param_grads=True):
    """Backward of :func:`decoder_loglik_forward`.

    Returns
    -------
    dZ : ndarray, the shape of ``Z``
    grads : dict, the gradient for every ``dec.*`` parameter (empty with ``param_grads=False``)
    """
    doutputs = cache.kind.loglik_backward(dlog_px_z, cache.loglik)
    return decoder_backward(doutputs, cache.decoder, param_grads)
