r"""The generative model (decoder) $p_\theta(x|z)$ (App. C).

An MLP maps $z$ to a hidden layer $h = f(W z + b)$ (more layers when ``hidden`` has more
sizes), and affine heads give the likelihood's parameters:

* ``"bernoulli"`` (App. C.1, MNIST): logits $a = W_{\text{logits}} h + b_{\text{logits}}$,
  $p(x|z) = \prod_d \text{Bernoulli}(x_d; \sigma(a_d))$;
* ``"gaussian"`` (App. C.2, Frey Face): mean $\mu = W_{\text{mean}} h + b_{\text{mean}}$, passed
  through a sigmoid when ``sigmoid_mean`` (so that it stays in (0, 1) like the data), and
  $\log\sigma^2 = W_{\text{logvar}} h + b_{\text{logvar}}$.

Its parameters, $\theta$, are the entries of ``params`` whose names start with ``dec.``.
``Z`` may carry a leading sample axis, ``(L, M, J)``; outputs then have shape ``(L, M, D)``.
"""
from typing import NamedTuple

from .activations import activation_backward, activation_forward, sigmoid
from .layers import affine_backward, affine_forward, mlp_backward, mlp_forward
from .likelihoods import (bernoulli_loglik_backward, bernoulli_loglik_forward,
                          gaussian_loglik_backward, gaussian_loglik_forward)

__all__ = ["DECODERS", "check_decoder", "decoder_shapes", "head_names", "decoder_forward",
           "decoder_backward", "decoder_mean", "decoder_loglik_forward", "decoder_loglik_backward"]

DECODERS = ("bernoulli", "gaussian")


class DecoderCache(NamedTuple):
    lead_shape: tuple
    mlp: tuple
    heads: dict
    mean_act: tuple | None


class LoglikCache(NamedTuple):
    kind: str
    decoder: DecoderCache
    loglik: tuple


def check_decoder(kind):
    """Return ``kind`` if it is ``"bernoulli"`` or ``"gaussian"``, else raise ``ValueError``."""
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; choose 'bernoulli' (MNIST) or 'gaussian' (Frey Face)")
    return kind


def head_names(kind):
    """The output heads of a decoder kind: ``("logits",)`` or ``("mean", "logvar")``."""
    return ("logits",) if check_decoder(kind) == "bernoulli" else ("mean", "logvar")


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
    kind : ``"bernoulli"`` or ``"gaussian"``
    sigmoid_mean : bool, squash the Gaussian mean head with a sigmoid

    Returns
    -------
    outputs : dict head -> ndarray (..., D): ``logits``, or ``mean`` and ``logvar``
    cache : DecoderCache
    """
    lead_shape = Z.shape[:-1]
    Ws = [params[f"dec.W{k}"] for k in range(1, n_layers + 1)]
    bs = [params[f"dec.b{k}"] for k in range(1, n_layers + 1)]
    H, mlp_cache = mlp_forward(Z.reshape(-1, Z.shape[-1]), Ws, bs, activation)
    outputs, head_caches = {}, {}
    for head in head_names(kind):
        out, head_caches[head] = affine_forward(H, params[f"dec.W_{head}"], params[f"dec.b_{head}"])
        outputs[head] = out.reshape(*lead_shape, -1)
    mean_act = None
    if kind == "gaussian" and sigmoid_mean:
        outputs["mean"], mean_act = activation_forward(outputs["mean"], "sigmoid")
    return outputs, DecoderCache(lead_shape, mlp_cache, head_caches, mean_act)


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
    if cache.mean_act is not None:
        doutputs["mean"] = activation_backward(doutputs["mean"], cache.mean_act)
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


def decoder_mean(outputs):
    """The mean of $p_\\theta(x|z)$: Bernoulli probabilities $\\sigma(a)$, or the Gaussian mean."""
    return sigmoid(outputs["logits"]) if "logits" in outputs else outputs["mean"]


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
    outputs, dec_cache = decoder_forward(Z, params, n_layers, activation, kind, sigmoid_mean)
    if kind == "bernoulli":
        log_px_z, ll_cache = bernoulli_loglik_forward(X, outputs["logits"])
    else:
        log_px_z, ll_cache = gaussian_loglik_forward(X, outputs["mean"], outputs["logvar"])
    return log_px_z, LoglikCache(kind, dec_cache, ll_cache)


def decoder_loglik_backward(dlog_px_z, cache, param_grads=True):
    """Backward of :func:`decoder_loglik_forward`.

    Returns
    -------
    dZ : ndarray, the shape of ``Z``
    grads : dict, the gradient for every ``dec.*`` parameter (empty with ``param_grads=False``)
    """
    if cache.kind == "bernoulli":
        doutputs = {"logits": bernoulli_loglik_backward(dlog_px_z, cache.loglik)}
    else:
        dmean, dlogvar = gaussian_loglik_backward(dlog_px_z, cache.loglik)
        doutputs = {"mean": dmean, "logvar": dlogvar}
    return decoder_backward(doutputs, cache.decoder, param_grads)
