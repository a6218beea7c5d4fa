r"""Sec. 2.4, recipe 1, tractable inverse CDF: $\epsilon = u \sim U(0, 1)$ and
$z = F^{-1}(u; \text{params})$, differentiated with $u$ held fixed.

Several families are written through the standard exponential variate
$E = -\log(1 - u) \sim \text{Exp}(1)$, which every derivative below is expressed in. The noise is
drawn on the open interval $(0, 1)$ (:func:`~minivae.reparam.noise.open_uniform`) so that every
transform is finite.

Cauchy, Logistic and Gumbel are also location-scale families; they share the log-density algebra
of :mod:`minivae.reparam.location_scale` and only draw $\epsilon = F_0^{-1}(u)$ from a uniform.
"""
import numpy as np

from .checks import OPEN_UNIT, POSITIVE
from .family import Family
from .location_scale import LocationScaleFamily
from .noise import open_uniform
from .standard import CAUCHY, GUMBEL, LOGISTIC

__all__ = ["InverseCDFFamily", "Exponential", "Cauchy", "LogisticInverseCDF", "Rayleigh", "Pareto",
           "Weibull", "Gumbel", "Gompertz", "Reciprocal"]


def _standard_exponential(u):
    return -np.log1p(-u)


class InverseCDFFamily(Family):
    """Base of the inverse-CDF families: the noise is ``U(0, 1)``, open at both ends."""

    recipe = "inverse_cdf"
    noise = "U(0, 1)"
    noise_constraint = OPEN_UNIT

    def _draw(self, rng, shape):
        return open_uniform(rng, shape)


class _LocationScaleByQuantile(InverseCDFFamily, LocationScaleFamily):
    r"""$z = \text{loc} + \text{scale}\cdot F_0^{-1}(u)$, so
    $\partial z/\partial\,\text{scale} = F_0^{-1}(u)$."""

    def _standard_variate(self, eps):
        return self.standard.quantile(eps)


class Exponential(InverseCDFFamily):
    r"""Exponential with ``rate`` $\lambda > 0$: $z = -\log(1-u)/\lambda = E/\lambda$,
    $\partial z/\partial\lambda = -z/\lambda$.

    $\log p(z) = \log\lambda - \lambda z$ on $z \ge 0$;
    $\partial_z = -\lambda$, $\partial_\lambda = 1/\lambda - z$.
    """
    name = "exponential"
    constraints = {"rate": POSITIVE}
    support = "z >= 0"

    def _transform(self, u, rate):
        z = _standard_exponential(u) / rate
        return z, {"rate": -z / rate}

    def _in_support(self, z, rate):
        return z >= 0

    def _log_density(self, z, rate):
        log_p = np.log(rate) - rate * z
        return log_p, np.broadcast_to(-rate, log_p.shape), {"rate": 1.0 / rate - z}


class Cauchy(_LocationScaleByQuantile):
    r"""Cauchy(loc, scale): $z = \text{loc} + \text{scale}\cdot\tan(\pi(u - \frac12))$,
    $\partial z/\partial\,\text{scale} = \tan(\pi(u - \frac12))$.
    $\log f_0(t) = -\log\pi - \log(1 + t^2)$, $s(t) = -2t/(1 + t^2)$. No mean or variance."""
    name = "cauchy"
    standard = CAUCHY


class LogisticInverseCDF(_LocationScaleByQuantile):
    r"""Logistic(loc, scale) by its inverse CDF: $z = \text{loc} + \text{scale}\cdot\log\frac{u}{1-u}$,
    $\partial z/\partial\,\text{scale} = \log\frac{u}{1-u}$; density as in the location-scale
    :class:`~minivae.reparam.location_scale.Logistic`."""
    name = "logistic"
    standard = LOGISTIC


class Gumbel(_LocationScaleByQuantile):
    r"""Gumbel (maximum) with loc and scale: $z = \text{loc} - \text{scale}\cdot\log(-\log u)$,
    $\partial z/\partial\,\text{scale} = -\log(-\log u)$.
    $\log f_0(t) = -t - e^{-t}$, $s(t) = e^{-t} - 1$."""
    name = "gumbel"
    standard = GUMBEL


class Rayleigh(InverseCDFFamily):
    r"""Rayleigh with ``scale`` $\sigma > 0$: $z = \sigma\sqrt{2E}$, $\partial z/\partial\sigma = \sqrt{2E}$.

    $\log p(z) = \log z - 2\log\sigma - z^2/(2\sigma^2)$ on $z > 0$;
    $\partial_z = 1/z - z/\sigma^2$, $\partial_\sigma = -2/\sigma + z^2/\sigma^3$.
    """
    name = "rayleigh"
    constraints = {"scale": POSITIVE}
    support = "z > 0"

    def _transform(self, u, scale):
        r = np.sqrt(2.0 * _standard_exponential(u))
        return scale * r, {"scale": r}

    def _in_support(self, z, scale):
        return z > 0

    def _log_density(self, z, scale):
        v = scale * scale
        log_p = np.log(z) - np.log(v) - 0.5 * z * z / v
        return log_p, 1.0 / z - z / v, {"scale": -2.0 / scale + z * z / (v * scale)}


class Pareto(InverseCDFFamily):
    r"""Pareto with ``scale`` $x_m > 0$ (the minimum) and shape ``alpha`` $\alpha > 0$:
    $z = x_m (1-u)^{-1/\alpha} = x_m e^{E/\alpha}$,
    $\partial z/\partial x_m = e^{E/\alpha}$, $\partial z/\partial\alpha = -z E/\alpha^2$.

    $\log p(z) = \log\alpha + \alpha\log x_m - (\alpha+1)\log z$ on $z \ge x_m$;
    $\partial_z = -(\alpha+1)/z$, $\partial_{x_m} = \alpha/x_m$,
    $\partial_\alpha = 1/\alpha + \log x_m - \log z$. The mean needs $\alpha > 1$, the variance $\alpha > 2$.
    """
    name = "pareto"
    constraints = {"scale": POSITIVE, "alpha": POSITIVE}
    support = "z >= scale"

    def _transform(self, u, scale, alpha):
        E = _standard_exponential(u)
        g = np.exp(E / alpha)
        z = scale * g
        return z, {"scale": g, "alpha": -z * E / (alpha * alpha)}

    def _in_support(self, z, scale, alpha):
        return z >= scale

    def _log_density(self, z, scale, alpha):
        log_z, log_s = np.log(z), np.log(scale)
        log_p = np.log(alpha) + alpha * log_s - (alpha + 1.0) * log_z
        return log_p, -(alpha + 1.0) / z, {"scale": alpha / scale, "alpha": 1.0 / alpha + log_s - log_z}


class Weibull(InverseCDFFamily):
    r"""Weibull with ``scale`` $\lambda > 0$ and ``shape`` $k > 0$: $z = \lambda E^{1/k}$,
    $\partial z/\partial\lambda = E^{1/k}$, $\partial z/\partial k = -z\log(E)/k^2$.

    With $w = (z/\lambda)^k$: $\log p(z) = \log k - \log\lambda + (k-1)\log(z/\lambda) - w$ on
    $z > 0$; $\partial_z = (k - 1 - kw)/z$, $\partial_\lambda = k(w-1)/\lambda$,
    $\partial_k = 1/k + (1 - w)\log(z/\lambda)$.
    """
    name = "weibull"
    constraints = {"scale": POSITIVE, "shape": POSITIVE}
    support = "z > 0"

    def _transform(self, u, scale, shape):
        E = _standard_exponential(u)
        g = E ** (1.0 / shape)
        z = scale * g
        return z, {"scale": g, "shape": -z * np.log(E) / (shape * shape)}

    def _in_support(self, z, scale, shape):
        return z > 0

    def _log_density(self, z, scale, shape):
        r = np.log(z) - np.log(scale)
        w = np.exp(shape * r)
        log_p = np.log(shape) - np.log(scale) + (shape - 1.0) * r - w
        return log_p, (shape - 1.0 - shape * w) / z, {"scale": shape * (w - 1.0) / scale,
                                                       "shape": 1.0 / shape + (1.0 - w) * r}


class Gompertz(InverseCDFFamily):
    r"""Gompertz with shape ``eta`` $\eta > 0$ and ``scale`` $b > 0$ (scipy's ``gompertz(c=eta,
    scale=b)``, CDF $1 - \exp(-\eta(e^{z/b} - 1))$): $z = b\log(1 + E/\eta)$,
    $\partial z/\partial\eta = -bE/(\eta(\eta + E))$, $\partial z/\partial b = \log(1 + E/\eta)$.

    With $t = z/b$: $\log p(z) = \log\eta - \log b + t - \eta(e^t - 1)$ on $z \ge 0$;
    $\partial_z = (1 - \eta e^t)/b$, $\partial_\eta = 1/\eta - (e^t - 1)$,
    $\partial_b = (\eta t e^t - t - 1)/b$.
    """
    name = "gompertz"
    constraints = {"eta": POSITIVE, "scale": POSITIVE}
    support = "z >= 0"

    def _transform(self, u, eta, scale):
        E = _standard_exponential(u)
        g = np.log1p(E / eta)
        return scale * g, {"eta": -scale * E / (eta * (eta + E)), "scale": g}

    def _in_support(self, z, eta, scale):
        return z >= 0

    def _log_density(self, z, eta, scale):
        t = z / scale
        et = np.exp(t)
        log_p = np.log(eta) - np.log(scale) + t - eta * (et - 1.0)
        return log_p, (1.0 - eta * et) / scale, {"eta": 1.0 / eta - (et - 1.0),
                                                 "scale": (eta * t * et - t - 1.0) / scale}


class Reciprocal(InverseCDFFamily):
    r"""Reciprocal (log-uniform) on $[a, b]$, ``low`` $a > 0$, ``high`` $b > a$:
    $z = a\,(b/a)^u = \exp(\log a + u(\log b - \log a))$,
    $\partial z/\partial a = z(1-u)/a$, $\partial z/\partial b = zu/b$.

    With $\Delta = \log b - \log a$: $\log p(z) = -\log z - \log\Delta$ on $a \le z \le b$;
    $\partial_z = -1/z$, $\partial_a = 1/(a\Delta)$, $\partial_b = -1/(b\Delta)$.
    """
    name = "reciprocal"
    constraints = {"low": POSITIVE, "high": POSITIVE}
    support = "low <= z <= high"

    def _check_joint(self, params):
        low, high = np.broadcast_arrays(params["low"], params["high"])
        if np.any(low >= high):
            raise ValueError(f"{self.name}: need low < high, got low={low[low >= high].flat[0]!r} "
                             f">= high={high[low >= high].flat[0]!r}")

    def _transform(self, u, low, high):
        z = np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
        return z, {"low": z * (1.0 - u) / low, "high": z * u / high}

    def _in_support(self, z, low, high):
        return (z >= low) & (z <= high)

    def _log_density(self, z, low, high):
        delta = np.log(high) - np.log(low)
        log_p = -np.log(z) - np.log(delta)
        return log_p, -1.0 / z, {"low": 1.0 / (low * delta), "high": -1.0 / (high * delta)}
