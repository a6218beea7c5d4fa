r"""Standard members $f_0$ of location-scale families: the density with location 0 and scale 1.

A location-scale family is $z = \text{loc} + \text{scale}\cdot t$ with $t \sim f_0$, so that
$\log p(z) = \log f_0(t) - \log\text{scale}$ at $t = (z - \text{loc})/\text{scale}$. Each member
here gives a way to draw $t$, its quantile function $F_0^{-1}$ where it is elementary (the
inverse-CDF recipe draws $t = F_0^{-1}(u)$, $u \sim U(0, 1)$), $\log f_0(t)$, and the score
$\frac{d}{dt}\log f_0(t)$, which every derivative of the log-density is built from.
"""
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import gammaln

from ..gaussian import LOG_2PI

__all__ = ["StandardMember", "NORMAL", "LAPLACE", "LOGISTIC", "CAUCHY", "GUMBEL", "UNIFORM",
           "triangular", "student_t"]

LOG_PI = float(np.log(np.pi))
LOG_2 = float(np.log(2.0))


class StandardMember(NamedTuple):
    """``draw(rng, shape)``, ``quantile(u)`` (or None), ``log_density(t)``, ``score(t)``,
    ``in_support(t)``, the support in words and the variance (``inf`` where there is none)."""
    name: str
    draw: Callable
    quantile: Callable | None
    log_density: Callable
    score: Callable
    in_support: Callable
    support: str
    variance: float


def _everywhere(t):
    return np.isfinite(t)


NORMAL = StandardMember(
    "normal", lambda rng, shape: rng.standard_normal(shape), None,
    lambda t: -0.5 * (LOG_2PI + t * t), lambda t: -t, _everywhere, "the real line", 1.0)

LAPLACE = StandardMember(
    "laplace", lambda rng, shape: rng.laplace(0.0, 1.0, shape),
    lambda u: -np.sign(u - 0.5) * np.log1p(-2.0 * np.abs(u - 0.5)),
    lambda t: -LOG_2 - np.abs(t), lambda t: -np.sign(t), _everywhere, "the real line", 2.0)

LOGISTIC = StandardMember(
    "logistic", lambda rng, shape: rng.logistic(0.0, 1.0, shape),
    lambda u: np.log(u) - np.log1p(-u),
    lambda t: -np.abs(t) - 2.0 * np.log1p(np.exp(-np.abs(t))), lambda t: -np.tanh(0.5 * t),
    _everywhere, "the real line", np.pi ** 2 / 3)

CAUCHY = StandardMember(
    "cauchy", lambda rng, shape: rng.standard_cauchy(shape),
    lambda u: np.tan(np.pi * (u - 0.5)),
    lambda t: -LOG_PI - np.log1p(t * t), lambda t: -2.0 * t / (1.0 + t * t),
    _everywhere, "the real line", np.inf)

GUMBEL = StandardMember(
    "gumbel", lambda rng, shape: rng.gumbel(0.0, 1.0, shape),
    lambda u: -np.log(-np.log(u)),
    lambda t: -t - np.exp(-t), lambda t: np.expm1(-t), _everywhere, "the real line", np.pi ** 2 / 6)

UNIFORM = StandardMember(
    "uniform", lambda rng, shape: rng.random(shape), lambda u: u,
    lambda t: np.zeros(np.shape(t)), lambda t: np.zeros(np.shape(t)),
    lambda t: (t >= 0.0) & (t <= 1.0), "loc <= z <= loc + scale", 1.0 / 12.0)


def triangular(c):
    r"""Triangular density on $[0, 1]$ with mode $c \in (0, 1)$:
    $f_0(t) = 2t/c$ for $t < c$ and $2(1-t)/(1-c)$ for $t \ge c$."""
    def log_density(t):
        left = t < c
        with np.errstate(divide="ignore"):
            return LOG_2 + np.where(left, np.log(t) - np.log(c), np.log1p(-t) - np.log1p(-c))

    def score(t):
        left = t < c
        with np.errstate(divide="ignore"):
            return np.where(left, 1.0 / t, -1.0 / (1.0 - t))

    return StandardMember(
        f"triangular(c={c:g})", lambda rng, shape: rng.triangular(0.0, c, 1.0, shape), None,
        log_density, score, lambda t: (t > 0.0) & (t < 1.0), "loc < z < loc + scale",
        (1.0 - c + c * c) / 18.0)


def student_t(dof):
    r"""Student's t with $\nu$ = ``dof`` degrees of freedom:
    $\log f_0(t) = \log\Gamma(\frac{\nu+1}2) - \log\Gamma(\frac\nu2) - \frac12\log(\nu\pi)
    - \frac{\nu+1}2\log(1 + t^2/\nu)$, score $-(\nu+1)\,t/(\nu + t^2)$.

    The standard variate is itself a composition, $t = n/\sqrt{v/\nu}$ with $n \sim \mathcal N(0, 1)$
    and $v \sim \chi^2_\nu$; ``Generator.standard_t`` draws it that way.
    """
    const = gammaln(0.5 * (dof + 1.0)) - gammaln(0.5 * dof) - 0.5 * (np.log(dof) + LOG_PI)
    return StandardMember(
        f"student_t(dof={dof:g})", lambda rng, shape: rng.standard_t(dof, shape), None,
        lambda t: const - 0.5 * (dof + 1.0) * np.log1p(t * t / dof),
        lambda t: -(dof + 1.0) * t / (dof + t * t), _everywhere, "the real line",
        dof / (dof - 2.0) if dof > 2 else np.inf)
