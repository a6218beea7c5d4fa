r"""Sec. 2.4, recipe 3, composition: $z$ as a differentiable function of simpler variates.

* Log-Normal: $z = \exp(\mu + \sigma\epsilon)$, $\epsilon \sim \mathcal N(0, 1)$.
* Erlang = Gamma with an integer shape $k$: a sum of $k$ exponentials,
  $z = -\frac1\lambda\sum_{i=1}^k \log u_i$; the rate $\lambda$ is differentiable.
* $\chi^2_\nu$ for even $\nu$: $-2\sum_{i=1}^{\nu/2} \log u_i$ (Gamma($\nu/2$, scale 2)).
* Beta($a$, $b$) and Dirichlet($\alpha$) with integer shapes: $G_k / \sum_j G_j$ with
  $G_k \sim$ Erlang($\alpha_k$).
* F($d_1$, $d_2$) with even degrees of freedom: $(X_1/d_1)/(X_2/d_2)$ with $X_i \sim \chi^2_{d_i}$.

**What this recipe cannot give.** The shapes above must be integers, because a sum has an
integer number of terms, so the pathwise gradient never reaches a shape parameter. Chi-squared,
Beta, Dirichlet and F have *no other* parameter: here they are samplers with exact
log-densities, and their ``param_names`` are empty. A pathwise gradient with respect to a real
Gamma shape (and so Beta/Dirichlet concentrations) needs more than the paper's three recipes,
e.g. implicit reparameterization gradients (Figurnov, Mohamed & Mnih, 2018) or rejection-sampler
reparameterization (Naesseth et al., 2017); they are not implemented here.

The noise for a sum of $k$ variates is ``eps (..., k)`` uniforms on $(0, 1)$, one trailing axis.
"""
import numpy as np
from scipy.special import betaln, gammaln, xlog1py, xlogy

from ..gaussian import LOG_2PI
from .checks import OPEN_UNIT, POSITIVE, REAL, check_even_shape, check_integer_shape
from .family import Family
from .noise import open_uniform

__all__ = ["LogNormal", "Erlang", "ChiSquared", "Beta", "Dirichlet", "F"]

LOG_2 = float(np.log(2.0))


def _exponential_sum(u):
    r"""$\sum_i -\log u_i$ over the last axis: a Gamma(k, 1) variate from ``u (..., k)``."""
    return -np.sum(np.log(u), axis=-1)


class _UniformComposition(Family):
    """A composition of ``k`` exponentials: the noise is ``(..., k)`` open uniforms."""

    recipe = "composition"
    noise = "U(0, 1)"
    noise_constraint = OPEN_UNIT
    n_uniforms = 1

    @property
    def noise_shape(self):
        return (self.n_uniforms,)

    def _draw(self, rng, shape):
        return open_uniform(rng, shape)


class LogNormal(Family):
    r"""Log-Normal: $z = \exp(\mu + \sigma\epsilon)$, $\epsilon \sim \mathcal N(0, 1)$, ``mu`` real,
    ``sigma`` > 0; $\partial z/\partial\mu = z$, $\partial z/\partial\sigma = z\epsilon$.

    With $y = \log z$: $\log p(z) = -y - \log\sigma - \frac12\log 2\pi - (y - \mu)^2/(2\sigma^2)$ on
    $z > 0$; $\partial_z = -(1 + (y-\mu)/\sigma^2)/z$, $\partial_\mu = (y-\mu)/\sigma^2$,
    $\partial_\sigma = -1/\sigma + (y-\mu)^2/\sigma^3$.
    """
    name = "lognormal"
    recipe = "composition"
    constraints = {"mu": REAL, "sigma": POSITIVE}
    noise = "N(0, 1)"
    support = "z > 0"

    def _draw(self, rng, shape):
        return rng.standard_normal(shape)

    def _transform(self, eps, mu, sigma):
        z = np.exp(mu + sigma * eps)
        return z, {"mu": z, "sigma": z * eps}

    def _in_support(self, z, mu, sigma):
        return z > 0

    def _log_density(self, z, mu, sigma):
        y = np.log(z)
        r = (y - mu) / sigma
        log_p = -y - np.log(sigma) - 0.5 * LOG_2PI - 0.5 * r * r
        return log_p, -(1.0 + r / sigma) / z, {"mu": r / sigma, "sigma": (r * r - 1.0) / sigma}


class Erlang(_UniformComposition):
    r"""Erlang, i.e. Gamma with integer shape ``k`` (fixed) and ``rate`` $\lambda > 0$:
    $z = -\frac1\lambda\sum_{i=1}^k\log u_i$, $\partial z/\partial\lambda = -z/\lambda$.

    $\log p(z) = k\log\lambda + (k-1)\log z - \lambda z - \log\Gamma(k)$ on $z > 0$;
    $\partial_z = (k-1)/z - \lambda$, $\partial_\lambda = k/\lambda - z$.
    """
    name = "erlang"
    constraints = {"rate": POSITIVE}
    support = "z > 0"

    def __init__(self, k=2):
        self.k = self.n_uniforms = check_integer_shape("erlang: shape k", k)

    def __repr__(self):
        return f"Erlang(k={self.k})"

    def _transform(self, u, rate):
        z = _exponential_sum(u) / rate
        return z, {"rate": -z / rate}

    def _in_support(self, z, rate):
        return z > 0

    def _log_density(self, z, rate):
        k = self.k
        log_p = k * np.log(rate) + xlogy(k - 1, z) - rate * z - gammaln(k)
        return log_p, (k - 1) / z - rate, {"rate": k / rate - z}


class ChiSquared(_UniformComposition):
    r"""$\chi^2_\nu$ with even ``dof`` $\nu = 2m$: $z = -2\sum_{i=1}^m\log u_i$. No continuous parameter.

    $\log p(z) = (m-1)\log z - z/2 - m\log 2 - \log\Gamma(m)$ on $z > 0$; $\partial_z = (m-1)/z - \frac12$.
    """
    name = "chi2"
    support = "z > 0"

    def __init__(self, dof=4):
        self.dof = check_even_shape("chi2: dof", dof)
        self.n_uniforms = self.dof // 2

    def __repr__(self):
        return f"ChiSquared(dof={self.dof})"

    def _transform(self, u):
        return 2.0 * _exponential_sum(u), {}

    def _in_support(self, z):
        return z > 0

    def _log_density(self, z):
        m = self.n_uniforms
        return xlogy(m - 1, z) - 0.5 * z - m * LOG_2 - gammaln(m), (m - 1) / z - 0.5, {}


class Beta(_UniformComposition):
    r"""Beta with integer shapes ``a``, ``b`` (fixed): $z = X/(X+Y)$, $X \sim$ Gamma($a$),
    $Y \sim$ Gamma($b$), each a sum of exponentials. No continuous parameter.

    $\log p(z) = (a-1)\log z + (b-1)\log(1-z) - \log B(a, b)$ on $0 \le z \le 1$;
    $\partial_z = (a-1)/z - (b-1)/(1-z)$.
    """
    name = "beta"
    support = "0 <= z <= 1"

    def __init__(self, a=2, b=3):
        self.a = check_integer_shape("beta: shape a", a)
        self.b = check_integer_shape("beta: shape b", b)
        self.n_uniforms = self.a + self.b

    def __repr__(self):
        return f"Beta(a={self.a}, b={self.b})"

    def _transform(self, u):
        x, y = _exponential_sum(u[..., :self.a]), _exponential_sum(u[..., self.a:])
        return x / (x + y), {}

    def _in_support(self, z):
        return (z >= 0) & (z <= 1)

    def _log_density(self, z):
        a, b = self.a, self.b
        log_p = xlogy(a - 1, z) + xlog1py(b - 1, -z) - betaln(a, b)
        return log_p, (a - 1) / z - (b - 1) / (1.0 - z), {}


class Dirichlet(_UniformComposition):
    r"""Dirichlet with integer concentrations ``alpha`` $= (\alpha_1, \dots, \alpha_K)$ (fixed):
    $z_k = G_k / \sum_j G_j$ with $G_k \sim$ Gamma($\alpha_k$). Samples are vectors ``(..., K)``.
    No continuous parameter.

    $\log p(z) = \log\Gamma(\alpha_0) - \sum_k\log\Gamma(\alpha_k) + \sum_k(\alpha_k - 1)\log z_k$,
    $\alpha_0 = \sum_k \alpha_k$, on the simplex ($z_k \ge 0$, $\sum_k z_k = 1$ within $10^{-9}$).
    ``log_prob_backward`` returns $\partial/\partial z_k = (\alpha_k-1)/z_k$ in the ambient
    coordinates (the density as a function of all $K$ entries).
    """
    name = "dirichlet"
    support = "z_k >= 0 and sum_k z_k = 1"
    event_ndim = 1

    def __init__(self, alpha=(2, 3, 1)):
        alpha = tuple(alpha)
        if len(alpha) < 2:
            raise ValueError(f"dirichlet: alpha needs at least 2 concentrations, got {alpha}")
        self.alpha = tuple(check_integer_shape("dirichlet: alpha_k", a) for a in alpha)
        self.n_uniforms = sum(self.alpha)

    def __repr__(self):
        return f"Dirichlet(alpha={self.alpha})"

    def _transform(self, u):
        edges = np.cumsum((0,) + self.alpha)
        G = np.stack([_exponential_sum(u[..., i:j]) for i, j in zip(edges[:-1], edges[1:])], axis=-1)
        return G / G.sum(axis=-1, keepdims=True), {}

    def _in_support(self, z):
        if z.ndim < 1 or z.shape[-1] != len(self.alpha):
            raise ValueError(f"dirichlet: z must have a last axis of length {len(self.alpha)}, "
                             f"got shape {z.shape}")
        return np.all(z >= 0, axis=-1) & (np.abs(z.sum(axis=-1) - 1.0) <= 1e-9)

    def _log_density(self, z):
        alpha = np.array(self.alpha, dtype=np.float64)
        log_p = gammaln(alpha.sum()) - gammaln(alpha).sum() + xlogy(alpha - 1.0, z).sum(axis=-1)
        return log_p, (alpha - 1.0) / z, {}


class F(_UniformComposition):
    r"""F (Fisher-Snedecor) with even degrees of freedom ``d1``, ``d2`` (fixed):
    $z = (X_1/d_1)/(X_2/d_2)$, $X_i = -2\sum\log u \sim \chi^2_{d_i}$. No continuous parameter.

    $\log p(z) = \frac{d_1}2\log d_1 + \frac{d_2}2\log d_2 + (\frac{d_1}2 - 1)\log z
    - \frac{d_1+d_2}2\log(d_2 + d_1 z) - \log B(\frac{d_1}2, \frac{d_2}2)$ on $z > 0$;
    $\partial_z = (\frac{d_1}2 - 1)/z - \frac{d_1+d_2}2\,d_1/(d_2 + d_1 z)$.
    """
    name = "f"
    support = "z > 0"

    def __init__(self, d1=4, d2=6):
        self.d1 = check_even_shape("f: d1", d1)
        self.d2 = check_even_shape("f: d2", d2)
        self.n_uniforms = (self.d1 + self.d2) // 2

    def __repr__(self):
        return f"F(d1={self.d1}, d2={self.d2})"

    def _transform(self, u):
        m1 = self.d1 // 2
        x1, x2 = 2.0 * _exponential_sum(u[..., :m1]), 2.0 * _exponential_sum(u[..., m1:])
        return (x1 / self.d1) / (x2 / self.d2), {}

    def _in_support(self, z):
        return z > 0

    def _log_density(self, z):
        h1, h2 = 0.5 * self.d1, 0.5 * self.d2
        log_p = (h1 * np.log(self.d1) + h2 * np.log(self.d2) + xlogy(h1 - 1.0, z)
                 - (h1 + h2) * np.log(self.d2 + self.d1 * z) - betaln(h1, h2))
        return log_p, (h1 - 1.0) / z - (h1 + h2) * self.d1 / (self.d2 + self.d1 * z), {}
