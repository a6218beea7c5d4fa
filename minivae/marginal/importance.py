r"""Importance-sampled $\log p_\theta(x)$ with the recognition model as proposal (the IWAE bound).

For $z_i = \mu_\phi(x) + \sigma_\phi(x) \odot \epsilon_i$, $\epsilon_i \sim \mathcal N(0, I)$, the
importance weights $w_i = p_\theta(x, z_i) / q_\phi(z_i|x)$ have mean $p_\theta(x)$, so

$$\log \hat p_k(x) = \log \frac1k \sum_{i=1}^k w_i, \qquad
\log w_i = \log p(z_i) + \log p_\theta(x|z_i) - \log q_\phi(z_i|x).$$

By Jensen, $\mathbb E[\log \hat p_k(x)] \le \log p_\theta(x)$; the bound is non-decreasing in $k$
and tends to $\log p_\theta(x)$ (Burda et al., 2016). At $k = 1$ it is the SGVB estimator A
(eq. 6) with $L = 1$. A model of another latent family (:mod:`minivae.latent`) samples and scores
$z$ with that family's pieces, and its own prior.

Memory is bounded: rows are processed in batches of ``batch_size``, and the $k$ samples of a
batch in chunks of ``chunk``, combined with a running log-sum-exp. Only the decoder outputs of
one chunk, ``(chunk, batch_size, D)``, are alive at a time.
"""
import numpy as np

from ..decoder import decoder_loglik_forward, head_names
from ..encoder import encoder_forward
from ..validation import check_positive_int

__all__ = ["CHUNK_BYTES", "importance_log_px", "log_importance_weights", "default_chunk",
           "running_logsumexp"]

CHUNK_BYTES = 64 * 2 ** 20
"""The default chunk holds about this many bytes of decoder activations (hidden and output)."""


def log_importance_weights(model, X, mu, logvar, eps):
    r"""$\log w = \log p(z) + \log p_\theta(x|z) - \log q_\phi(z|x)$ at $z = \mu + \sigma \odot \epsilon$,
    with the model's latent family (:mod:`minivae.latent`; the paper's Gaussian by default).

    The sum is formed in estimator A's order (:func:`minivae.estimators.sgvb_a_forward`), so
    that one sample reproduces it bit for bit.

    Parameters
    ----------
    model : VAE
    X : ndarray (M, D), checked data
    mu, logvar : ndarray (M, J), the encoder's outputs for ``X``
    eps : ndarray (L, M, J), the family's noise (``model.draw_eps``; standard normal for the Gaussian)

    Returns
    -------
    log_w : ndarray (L, M)
    """
    latent = model.latent
    z, _ = latent.sample_forward(mu, logvar, eps)
    log_px_z, _ = decoder_loglik_forward(X, z, model.params, *model._decoder_args())
    log_pz, _ = latent.log_prior_forward(z)
    log_qz, _ = latent.log_q_forward(z, mu, logvar)
    return log_px_z + log_pz - log_qz


def default_chunk(model, rows, nbytes=CHUNK_BYTES):
    """Samples per chunk so that ``rows`` datapoints' decoder activations take about ``nbytes``."""
    width = sum(model.n_hidden) + len(head_names(model.decoder)) * model.n_input
    return max(1, int(nbytes // (np.dtype(model.dtype).itemsize * rows * width)))


def importance_log_px(model, X, k=5000, batch_size=100, rng=None, chunk=None):
    r"""$\log \frac1k \sum_{i=1}^k p_\theta(x, z_i) / q_\phi(z_i|x)$, $z_i \sim q_\phi(z|x)$, per row.

    Parameters
    ----------
    model : VAE
    X : ndarray (N, D), binary for the Bernoulli decoder
    k : int, importance samples per datapoint (the paper's evaluation scale: up to 5000)
    batch_size : int, rows per pass
    rng : numpy.random.Generator or int seed, default ``default_rng(0)``
    chunk : int, samples per pass; default :func:`default_chunk` (about :data:`CHUNK_BYTES`)

    Returns
    -------
    log_px : ndarray (N,) float64, in nats

    Notes
    -----
    The noise is drawn in this order: for each batch of rows ``X[s:s + batch_size]`` in turn, for
    each chunk in turn, ``eps = model.draw_eps(rng, (c, m, J))`` with ``c`` the chunk's samples
    (the last one may be short) and ``m`` the batch's rows. So with ``batch_size >= N`` and
    ``chunk >= k`` the noise is ``model.draw_eps(rng, (k, N, J))``; at ``k = 1`` the result then
    equals ``model.elbo(X, eps, estimator="A")`` exactly.
    """
    X = model._check_X(X)
    k = check_positive_int("k", k)
    batch_size = check_positive_int("batch_size", batch_size)
    rng = np.random.default_rng(0 if rng is None else rng)
    if chunk is None:
        chunk = min(k, default_chunk(model, min(batch_size, len(X))))
    chunk = check_positive_int("chunk", chunk)
    out = np.empty(len(X))
    for start in range(0, len(X), batch_size):
        out[start:start + batch_size] = _batch_log_px(model, X[start:start + batch_size], k, chunk, rng)
    return out


def running_logsumexp(blocks):
    r"""$\log \sum_i e^{a_i}$ over the first axis of a stream of blocks, one block in memory at a time.

    Keeps a shift $s$ (the running maximum) and a total $t = \sum_i e^{a_i - s}$; when a block
    raises the maximum, $t$ is rescaled by $e^{s_\text{old} - s_\text{new}}$.

    Parameters
    ----------
    blocks : iterable of ndarray (n_b, M), finite

    Returns
    -------
    ndarray (M,)
    """
    shift, total = None, None
    for block in blocks:
        block_max = block.max(axis=0)
        if shift is None:
            shift, total = block_max, np.sum(np.exp(block - block_max), axis=0)
            continue
        new_shift = np.maximum(shift, block_max)
        total = total * np.exp(shift - new_shift) + np.sum(np.exp(block - new_shift), axis=0)
        shift = new_shift
    if shift is None:
        raise ValueError("running_logsumexp needs at least one block")
    return shift + np.log(total)


def _batch_log_px(model, X, k, chunk, rng):
    """One batch of rows: the log-sum-exp of the log weights over chunks of samples, minus log k."""
    mu, logvar, _ = encoder_forward(X, model.params, len(model.n_hidden), model.activation)
    J = model.n_latent
    blocks = (log_importance_weights(model, X, mu, logvar,
                                     model.draw_eps(rng, (min(chunk, k - start), len(X), J)))
              for start in range(0, k, chunk))
    return running_logsumexp(blocks) - np.log(k)
