r"""The marginal likelihood estimator of App. D: HMC posterior samples and a fitted density.

For any normalised density $q(z)$,

$$\mathbb E_{p_\theta(z|x)}\left[\frac{q(z)}{p(z)\, p_\theta(x|z)}\right]
= \int \frac{p(z)\, p_\theta(x|z)}{p_\theta(x)} \frac{q(z)}{p(z)\, p_\theta(x|z)}\, dz
= \frac1{p_\theta(x)},$$

so with posterior samples $z^{(l)} \sim p_\theta(z|x)$, $l = 1..L$,

$$\log \hat p_\theta(x) = -\log \frac1L \sum_{l=1}^L w_l, \qquad
\log w_l = \log q(z^{(l)}) - \log p(z^{(l)}) - \log p_\theta(x|z^{(l)}),$$

evaluated as a log-sum-exp. The estimator is good when $q$ is close to the posterior and its
tails are lighter (then the $w_l$ have a finite variance). Per datapoint, the procedure is:

1. run an HMC chain on $p_\theta(z|x)$ (:class:`~minivae.marginal.hmc.HMC`, ``n_leapfrog`` steps,
   step size adapted to ``target_accept`` during ``burn_in`` transitions);
2. draw ``n_samples`` posterior samples and fit $q$ to them: a Gaussian KDE (kernels shaped
   like the samples' covariance, as ``scipy.stats.gaussian_kde``'s) whose bandwidth is chosen
   by held-out log-likelihood, or a full-covariance Gaussian;
3. draw ``n_samples`` *fresh* samples and evaluate the estimator on them.

The paper (App. E) uses 50 posterior samples per datapoint and HMC with 4 leapfrog steps, on
the first 1000 training and test points. The standard error is the delta method's,
$\operatorname{se}(\log\hat p) = \operatorname{sd}(w) / (\sqrt L\, \bar w)$; it treats the $L$
samples of a chain as independent and so understates the error when they are autocorrelated
(use ``thin`` to space them out).
"""
from typing import NamedTuple

import numpy as np
import scipy.linalg
from scipy.special import logsumexp

from ..gaussian import LOG_2PI
from ..validation import as_float_array, check_positive_int
from .hmc import HMC
from .posterior import Posterior

__all__ = ["MarginalEstimate", "DENSITIES", "KDE_FACTORS", "appendix_d_log_px", "delta_method",
           "kde_factor", "kde_log_density", "kde_logpdf", "gaussian_log_density"]

DENSITIES = ("kde", "gaussian")

KDE_FACTORS = tuple(np.geomspace(0.2, 2.0, 8))
"""Candidate bandwidths, as multiples of Scott's factor $n^{-1/(J+4)}$."""


class MarginalEstimate(NamedTuple):
    """The App. D estimate for every row of ``X``."""
    log_px: np.ndarray      # (M,) estimated log p(x), nats
    stderr: np.ndarray      # (M,) delta-method standard error of log_px
    acceptance: np.ndarray  # (M,) each chain's mean HMC acceptance probability while sampling

    def summary(self):
        """The mean over rows, JSON-ready: ``log_px``, its Monte Carlo standard error
        ``mc_stderr`` (the rows' errors combined; the spread between datapoints is not an error)
        and the mean ``acceptance``."""
        return {"log_px": float(np.mean(self.log_px)),
                "mc_stderr": float(np.sqrt(np.sum(self.stderr ** 2)) / len(self.log_px)),
                "acceptance": float(np.mean(self.acceptance))}


def appendix_d_log_px(model, X, n_samples=50, n_leapfrog=4, burn_in=200, density="kde", rng=None,
                      target_accept=0.9, init="encoder", thin=1, step_size=0.1, jitter=0.2,
                      factors=KDE_FACTORS):
    r"""$\log p_\theta(x)$ by App. D: HMC samples, a density fitted to them, fresh samples.

    Parameters
    ----------
    model : VAE (the decoder's parameters define the posterior; the encoder only starts chains)
    X : ndarray (M, D), binary for the Bernoulli decoder
    n_samples : int, $L$, posterior samples per datapoint for the fit, and as many fresh ones for
        the estimator (paper: 50)
    n_leapfrog : int, leapfrog steps per HMC transition (paper: 4)
    burn_in : int, adapting HMC transitions before the first sample
    density : ``"kde"`` (Gaussian KDE, bandwidth by held-out log-likelihood, :func:`kde_factor`)
        or ``"gaussian"``
    rng : numpy.random.Generator or int, default ``default_rng(0)``
    target_accept : float, the acceptance rate the step sizes are tuned to (paper: 0.9)
    init : ``"encoder"`` (the chains start at $\mu_\phi(x)$), ``"prior"`` (a draw of $p(z)$) or an
        array ``(M, J)``
    thin : int, HMC transitions between kept samples
    step_size : float, the initial step size before adaptation
    jitter : float in [0, 1), while sampling each transition's step sizes are the adapted ones
        times a uniform draw from $[1 - \text{jitter}, 1 + \text{jitter}]$ (see Notes)
    factors : KDE bandwidth candidates, as multiples of Scott's factor (:func:`kde_factor`)

    Returns
    -------
    MarginalEstimate

    Notes
    -----
    Why jitter: with a fixed step size $\varepsilon$ and ``n_leapfrog`` steps, HMC on a Gaussian
    posterior of width $\sigma$ rotates $(z, p)$ by a fixed angle per step, and at
    $\varepsilon \approx 1.4\sigma$ (which the adaptation to 90% acceptance can reach) four steps
    make a full turn: the chain accepts almost every proposal and does not move. Drawing the
    step size afresh for every transition, independently of the state, keeps the posterior
    invariant and breaks the resonance.
    """
    X = model._check_X(X)
    n_samples = check_positive_int("n_samples", n_samples)
    burn_in = check_positive_int("burn_in", burn_in)
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must lie in [0, 1), got {jitter}")
    if density not in DENSITIES:
        raise ValueError(f"unknown density {density!r}; choose 'kde' or 'gaussian'")
    _check_enough_samples(n_samples, model.n_latent, density)
    rng = np.random.default_rng(0 if rng is None else rng)
    posterior = Posterior(model, X)
    hmc = HMC(posterior, _initial_z(model, X, init, rng), n_leapfrog=n_leapfrog,
              step_size=step_size, target_accept=target_accept, rng=rng)
    hmc.warm_up(burn_in)
    Z_fit, acceptance_fit = _draw(hmc, n_samples, thin, jitter, rng)
    Z_est, acceptance_est = _draw(hmc, n_samples, thin, jitter, rng)
    acceptance = 0.5 * (acceptance_fit + acceptance_est)
    if density == "kde":
        log_q = kde_log_density(Z_fit, Z_est, factors)
    else:
        log_q = gaussian_log_density(Z_fit, Z_est)
    log_px, stderr = delta_method(log_q - posterior.log_joint(Z_est))
    return MarginalEstimate(log_px, stderr, acceptance)


def delta_method(log_w):
    r"""$\log\hat p = -\log\frac1L\sum_l w_l$ and its delta-method standard error, per column.

    $\operatorname{se} = \operatorname{sd}(w) / (\sqrt L\, \bar w)$, computed on $w / \max_l w$ (the
    ratio is scale-free), so that no weight overflows.

    Parameters
    ----------
    log_w : ndarray (L, M), $\log q(z^{(l)}) - \log p(z^{(l)}) - \log p_\theta(x|z^{(l)})$

    Returns
    -------
    log_px, stderr : ndarray (M,)
    """
    L = log_w.shape[0]
    log_px = -(logsumexp(log_w, axis=0) - np.log(L))
    w = np.exp(log_w - log_w.max(axis=0))
    stderr = w.std(axis=0, ddof=1) / (np.sqrt(L) * w.mean(axis=0)) if L > 1 else np.full_like(log_px, np.inf)
    return log_px, stderr


def _draw(hmc, n_samples, thin, jitter, rng):
    """``n_samples`` HMC draws, ``thin`` transitions apart, each with jittered step sizes.

    Returns
    -------
    Z : ndarray (n_samples, M, J)
    acceptance : ndarray (M,), the mean acceptance probability of the transitions
    """
    if jitter == 0.0:
        return hmc.sample(n_samples, thin), hmc.acceptance
    thin = check_positive_int("thin", thin)
    base = hmc.step_size.copy()
    Z, total = np.empty((n_samples, *hmc.z.shape)), np.zeros(hmc.M)
    for s in range(n_samples):
        for _ in range(thin):
            hmc.step_size = base * rng.uniform(1.0 - jitter, 1.0 + jitter, hmc.M)
            total += hmc.step()
        Z[s] = hmc.z
    hmc.step_size = base
    return Z, total / (n_samples * thin)


def _check_enough_samples(n_samples, J, density):
    """A sample covariance needs ``J + 1`` samples; the KDE's bandwidth choice two per half."""
    need = J + 1 if density == "gaussian" else max(J + 1, 4)
    if n_samples < need:
        raise ValueError(f"density={density!r} with J={J} needs n_samples >= {need}, got {n_samples}")


def _initial_z(model, X, init, rng):
    if isinstance(init, str):
        if init == "encoder":
            return model.encode(X)[0].astype(np.float64)
        if init == "prior":
            return rng.standard_normal((X.shape[0], model.n_latent))
        raise ValueError(f"unknown init {init!r}; choose 'encoder', 'prior' or an (M, J) array")
    z0 = as_float_array("init", init)
    if z0.shape != (X.shape[0], model.n_latent):
        raise ValueError(f"init must have shape (M, J) = ({X.shape[0]}, {model.n_latent}), "
                         f"got {z0.shape}")
    return z0


# -- the fitted densities ----------------------------------------------------------------------
def kde_factor(samples, factors=KDE_FACTORS, chol=None):
    r"""Choose a KDE bandwidth by two-fold held-out log-likelihood.

    The samples are split into their first and second halves (a chain's neighbours are
    correlated, so interleaved halves would favour too small a bandwidth). For each candidate
    $c$, a KDE with bandwidth factor $c\, m^{-1/(J+4)}$ ($m$ = half the samples) is fitted on one
    half and scores the other, both ways round.

    A half's kernels have the shape of that half's sample covariance, as
    ``scipy.stats.gaussian_kde`` would give them; where a half does not span all $J$ dimensions
    they take the covariance of all the samples (``chol``, its Cholesky factor) instead. That
    happens with the paper's 50 samples in 20 dimensions: a rejected HMC move repeats the
    previous sample, so at 90% acceptance a half of 25 samples holds about 22 distinct points,
    now and then fewer than $J + 1$.

    Parameters
    ----------
    samples : ndarray (n, J)
    factors : sequence of float, multiples of Scott's factor
    chol : ndarray (J, J), the lower Cholesky factor of the covariance of ``samples`` (computed
        here when not given)

    Returns
    -------
    c : float, the best multiple; a KDE on all $n$ samples uses $c\, n^{-1/(J+4)}$
    """
    n, J = samples.shape
    if chol is None:
        chol = _cholesky(np.cov(samples.T).reshape(J, J))
    halves = (samples[:n // 2], samples[n // 2:])
    scores = np.zeros(len(factors))
    for fit, held_out in (halves, halves[::-1]):
        try:
            fit_chol = _cholesky(np.cov(fit.T).reshape(J, J)) if len(fit) > J else chol
        except np.linalg.LinAlgError:
            fit_chol = chol
        for j, c in enumerate(factors):
            scores[j] += kde_logpdf(fit, held_out, fit_chol, c * len(fit) ** (-1.0 / (J + 4))).sum()
    return float(factors[int(np.argmax(scores))])


def kde_log_density(Z_fit, Z_eval, factors=KDE_FACTORS):
    r"""Per row, $\log q$ of a Gaussian KDE fitted to ``Z_fit``, with the bandwidth of
    :func:`kde_factor`, at the points ``Z_eval``.

    Parameters
    ----------
    Z_fit : ndarray (n, M, J), row ``i``'s samples are ``Z_fit[:, i]``
    Z_eval : ndarray (L, M, J)

    Returns
    -------
    log_q : ndarray (L, M)
    """
    n, M, J = Z_fit.shape
    log_q = np.empty(Z_eval.shape[:2])
    for i in range(M):
        chol = _row_cholesky(_covariances(Z_fit[:, i:i + 1])[0], i, J)
        c = kde_factor(Z_fit[:, i], factors, chol)
        log_q[:, i] = kde_logpdf(Z_fit[:, i], Z_eval[:, i], chol, c * n ** (-1.0 / (J + 4)))
    return log_q


def kde_logpdf(centres, points, chol, h):
    r"""$\log \frac1n \sum_k \mathcal N(z; z_k, h^2 S)$ at every point: a Gaussian KDE with
    kernel covariance $h^2 S$, $S = C C^\top$ (``scipy.stats.gaussian_kde`` with bandwidth
    factor $h$ is the case $S$ = the covariance of the centres).

    Parameters
    ----------
    centres : ndarray (n, J), the samples $z_k$
    points : ndarray (L, J)
    chol : ndarray (J, J), the lower Cholesky factor $C$
    h : float, the bandwidth factor

    Returns
    -------
    log_q : ndarray (L,)
    """
    n, J = centres.shape
    diff = (points[:, None, :] - centres[None, :, :]).reshape(-1, J)           # (L n, J)
    y = scipy.linalg.solve_triangular(chol, diff.T, lower=True) / h              # (J, L n)
    sq = np.sum(y * y, axis=0).reshape(len(points), n)
    log_det = 2.0 * np.sum(np.log(np.diag(chol))) + 2.0 * J * np.log(h)
    return logsumexp(-0.5 * sq, axis=1) - 0.5 * (J * LOG_2PI + log_det) - np.log(n)


def gaussian_log_density(Z_fit, Z_eval):
    r"""Per row, $\log\mathcal N(z; m, S)$ with the sample mean $m$ and covariance $S$ of ``Z_fit``.

    $\log\mathcal N = -\tfrac12\left(J\log 2\pi + \log\det S + \|C^{-1}(z - m)\|^2\right)$ with the
    Cholesky factor $S = C C^\top$.

    Parameters
    ----------
    Z_fit : ndarray (n, M, J), n > J
    Z_eval : ndarray (L, M, J)

    Returns
    -------
    log_q : ndarray (L, M)
    """
    n, M, J = Z_fit.shape
    mean = Z_fit.mean(axis=0)                                   # (M, J)
    cov = _covariances(Z_fit)
    log_q = np.empty(Z_eval.shape[:2])
    for i in range(M):
        C = _row_cholesky(cov[i], i, J)
        y = scipy.linalg.solve_triangular(C, (Z_eval[:, i] - mean[i]).T, lower=True)  # (J, L)
        log_det = 2.0 * np.sum(np.log(np.diag(C)))
        log_q[:, i] = -0.5 * (J * LOG_2PI + log_det + np.sum(y * y, axis=0))
    return log_q


def _covariances(Z):
    """The sample covariance of every row's samples: ``Z (n, M, J)`` -> ``(M, J, J)``."""
    centred = Z - Z.mean(axis=0)
    return np.einsum("nmi,nmj->mij", centred, centred) / (len(Z) - 1)


def _cholesky(cov):
    return scipy.linalg.cholesky(cov, lower=True)


def _row_cholesky(cov, i, J):
    """The Cholesky factor of row ``i``'s sample covariance, or a ``ValueError`` that says why
    there is none and what to change."""
    try:
        return _cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"the HMC samples of row {i} do not span the {J} latent dimensions (a "
                         f"stuck chain?): draw more of them (n_samples; on the command line "
                         f"--posterior-samples) or space them out (thin)") from None
