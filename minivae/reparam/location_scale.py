r"""Sec. 2.4, recipe 2, location-scale families: $z = \text{loc} + \text{scale}\cdot\epsilon$ with
$\epsilon$ drawn from the family's standard member (location 0, scale 1).

Every family here has ``params = {"loc", "scale"}``, ``scale > 0`` given directly, and

$$\frac{\partial z}{\partial\,\text{loc}} = 1, \qquad \frac{\partial z}{\partial\,\text{scale}} = \epsilon.$$

With $t = (z - \text{loc})/\text{scale}$ and the standard member's score $s(t) = \frac{d}{dt}\log f_0(t)$,

$$\log p(z) = \log f_0(t) - \log\text{scale},\quad
\frac{\partial\log p}{\partial z} = \frac{s(t)}{\text{scale}},\quad
\frac{\partial\log p}{\partial\,\text{loc}} = -\frac{s(t)}{\text{scale}},\quad
\frac{\partial\log p}{\partial\,\text{scale}} = -\frac{1 + t\,s(t)}{\text{scale}}.$$

The same algebra serves the inverse-CDF members of :mod:`minivae.reparam.inverse_cdf` (Cauchy,
Logistic, Gumbel), which only draw $\epsilon$ differently: $\epsilon = F_0^{-1}(u)$.
"""
import numpy as np

from .checks import POSITIVE, REAL, Constraint
from .family import Family
from .standard import LAPLACE, LOGISTIC, NORMAL, UNIFORM, student_t, triangular

__all__ = ["LocationScaleFamily", "Gaussian", "Laplace", "Logistic", "Uniform", "Triangular",
           "StudentT"]


class LocationScaleFamily(Family):
    """Base of the location-scale families; a subclass sets :attr:`standard`."""

    recipe = "location_scale"
    constraints = {"loc": REAL, "scale": POSITIVE}
    standard = NORMAL

    @property
    def noise(self):
        return f"standard {self.standard.name}"

    @property
    def support(self):
        return self.standard.support

    @property
    def noise_constraint(self):
        return Constraint(f"inside the support of the standard {self.standard.name}",
                          self.standard.in_support)

    def _standard_variate(self, eps):
        """$\\epsilon$ itself: the noise already is a standard-member variate."""
        return eps

    def _draw(self, rng, shape):
        return self.standard.draw(rng, shape)

    def _transform(self, eps, loc, scale):
        t = self._standard_variate(eps)
        return loc + scale * t, {"loc": np.ones_like(t), "scale": t}

    def _in_support(self, z, loc, scale):
        return self.standard.in_support((z - loc) / scale)

    def _log_density(self, z, loc, scale):
        t = (z - loc) / scale
        s = self.standard.score(t)
        log_p = self.standard.log_density(t) - np.log(scale)
        return log_p, s / scale, {"loc": -s / scale, "scale": -(1.0 + t * s) / scale}


class Gaussian(LocationScaleFamily):
    r"""$\mathcal N(\text{loc}, \text{scale}^2)$: $z = \text{loc} + \text{scale}\,\epsilon$,
    $\epsilon \sim \mathcal N(0, 1)$ (eq. 4 with a standard deviation instead of ``logvar``);
    $\log f_0(t) = -\frac12(\log 2\pi + t^2)$, $s(t) = -t$."""
    name = "gaussian"
    standard = NORMAL


class Laplace(LocationScaleFamily):
    r"""Laplace(loc, scale): $\epsilon \sim$ Laplace(0, 1), $\log f_0(t) = -\log 2 - |t|$,
    $s(t) = -\operatorname{sign}(t)$ (the log-density has a kink at $z = \text{loc}$)."""
    name = "laplace"
    standard = LAPLACE


class Logistic(LocationScaleFamily):
    r"""Logistic(loc, scale): $\epsilon \sim$ Logistic(0, 1),
    $\log f_0(t) = -t - 2\log(1 + e^{-t})$, $s(t) = -\tanh(t/2)$."""
    name = "logistic"
    standard = LOGISTIC


class Uniform(LocationScaleFamily):
    r"""Uniform on $[\text{loc}, \text{loc} + \text{scale}]$ (scipy's convention):
    $\epsilon \sim U(0, 1)$, $\log p = -\log\text{scale}$ inside the support, $s(t) = 0$."""
    name = "uniform"
    standard = UNIFORM


class Triangular(LocationScaleFamily):
    r"""Triangular on $[\text{loc}, \text{loc} + \text{scale}]$ with its mode at
    $\text{loc} + c\cdot\text{scale}$ (scipy's ``triang(c, loc, scale)``); $c \in (0, 1)$ is a fixed
    hyperparameter, not differentiated. $\epsilon \sim$ Triangular(0, c, 1);
    $s(t) = 1/t$ left of the mode and $-1/(1-t)$ right of it."""
    name = "triangular"

    def __init__(self, c=0.5):
        c = float(c)
        if not 0.0 < c < 1.0:
            raise ValueError(f"triangular: the mode c must be in the open interval (0, 1), got {c}")
        self.c = c
        self.standard = triangular(c)

    def __repr__(self):
        return f"Triangular(c={self.c!r})"


class StudentT(LocationScaleFamily):
    r"""Student's t with $\nu$ = ``dof`` > 0 degrees of freedom, location and scale:
    $\epsilon \sim t_\nu$, $s(t) = -(\nu+1)t/(\nu + t^2)$. ``dof`` is a fixed hyperparameter: a
    pathwise gradient with respect to it would need one for a $\chi^2_\nu$ (Gamma) variate of
    non-integer shape, which the paper's three recipes do not give."""
    name = "student_t"

    def __init__(self, dof=5.0):
        dof = float(dof)
        if not (np.isfinite(dof) and dof > 0):
            raise ValueError(f"student_t: dof must be a finite number > 0, got {dof}")
        self.dof = dof
        self.standard = student_t(dof)

    def __repr__(self):
        return f"StudentT(dof={self.dof!r})"
