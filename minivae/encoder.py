r"""The recognition model (encoder) $q_\phi(z|x) = \mathcal N(z; \mu, \sigma^2 I)$ (App. C.2, eq. 9).

An MLP maps ``x`` to a hidden layer ``h`` and two affine heads give $\mu$ and
$\log\sigma^2$: $h = f(W_1 x + b_1)$ (more layers when ``hidden`` has more sizes),
$\mu = W_\mu h + b_\mu$, $\log\sigma^2 = W_{\text{logvar}} h + b_{\text{logvar}}$.
Its parameters, $\phi$, are the entries of ``params`` whose names start with ``enc.``.
"""
from typing import NamedTuple

from .layers import affine_backward, affine_forward, mlp_backward, mlp_forward

__all__ = ["encoder_shapes", "encoder_forward", "encoder_backward"]


class EncoderCache(NamedTuple):
    n_layers: int
    mlp: tuple
    mu: tuple
    logvar: tuple


def encoder_shapes(n_input, hidden, n_latent):
    """Names and shapes of the encoder's parameters, ``{"enc.W1": (D, H1), "enc.b1": (H1,), ...}``."""
    shapes, sizes = {}, [n_input, *hidden]
    for k in range(1, len(sizes)):
        shapes[f"enc.W{k}"], shapes[f"enc.b{k}"] = (sizes[k - 1], sizes[k]), (sizes[k],)
    for head in ("mu", "logvar"):
        shapes[f"enc.W_{head}"], shapes[f"enc.b_{head}"] = (sizes[-1], n_latent), (n_latent,)
    return shapes


def _stack(params, n_layers):
    return ([params[f"enc.W{k}"] for k in range(1, n_layers + 1)],
            [params[f"enc.b{k}"] for k in range(1, n_layers + 1)])


def encoder_forward(X, params, n_layers, activation):
    r"""$x \mapsto (\mu, \log\sigma^2)$.

    Parameters
    ----------
    X : ndarray (M, D)
    params : dict with the ``enc.*`` arrays (others are ignored)
    n_layers : int, the number of hidden layers
    activation : str

    Returns
    -------
    mu, logvar : ndarray (M, J)
    cache : EncoderCache
    """
    H, mlp_cache = mlp_forward(X, *_stack(params, n_layers), activation)
    mu, mu_cache = affine_forward(H, params["enc.W_mu"], params["enc.b_mu"])
    logvar, logvar_cache = affine_forward(H, params["enc.W_logvar"], params["enc.b_logvar"])
    return mu, logvar, EncoderCache(n_layers, mlp_cache, mu_cache, logvar_cache)


def encoder_backward(dmu, dlogvar, cache):
    """Backward of :func:`encoder_forward`.

    Returns
    -------
    grads : dict, the gradient for every ``enc.*`` parameter
    """
    dH_mu, dW_mu, db_mu = affine_backward(dmu, cache.mu)
    dH_logvar, dW_logvar, db_logvar = affine_backward(dlogvar, cache.logvar)
    _, dWs, dbs = mlp_backward(dH_mu + dH_logvar, cache.mlp)
    grads = {"enc.W_mu": dW_mu, "enc.b_mu": db_mu, "enc.W_logvar": dW_logvar, "enc.b_logvar": db_logvar}
    for k, (dW, db) in enumerate(zip(dWs, dbs), start=1):
        grads[f"enc.W{k}"], grads[f"enc.b{k}"] = dW, db
    return grads
