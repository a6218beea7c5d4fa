r"""The common shape of a reparameterizable family (Sec. 2.4): $z = g(\epsilon, \text{params})$.

A family draws parameter-free noise $\epsilon \sim p(\epsilon)$ (:meth:`Family.draw_eps`), turns it
into a sample by a transform that is differentiable in the parameters
(:meth:`Family.sample_forward` / :meth:`Family.sample_backward`) and evaluates its log-density
(:meth:`Family.log_prob_forward` / :meth:`Family.log_prob_backward`).

Conventions for every family
----------------------------
* **params** is a dict with exactly the keys :attr:`Family.param_names`, each a float array
  (any shape that broadcasts against the noise). Gradients come back as a dict with the same
  keys, each summed back to its parameter's shape. Integer hyperparameters that fix the
  *shape of the noise* (Erlang's ``k``, a Dirichlet's ``alpha``) are not params: they are
  given when the family is built, ``Erlang(k=3)``, and nothing is differentiated with respect
  to them.
* **Scale-type parameters are given directly and must be > 0**; so the derivative is taken
  with respect to the scale itself. A model that wants an unconstrained output uses
  ``scale = exp(s)`` and multiplies the gradient by ``scale`` (see :mod:`minivae.latent`).
* **Shapes.** ``eps`` has shape ``batch + noise_shape``, where :attr:`Family.noise_shape` is
  ``()`` for one noise number per sample (inverse CDF, location-scale) and ``(k,)`` for a
  composition of ``k`` variates. A sample ``z`` has the broadcast shape of ``batch`` and the
  params, plus ``(K,)`` for a Dirichlet (:attr:`Family.event_ndim` = 1).
* **Log-densities are elementwise** (one per scalar ``z``, like ``scipy.stats``' ``logpdf``),
  except for the Dirichlet, whose log-density is one per vector. A model sums them over its
  latent axis.
* **Errors.** Parameters outside their domain, noise outside its support and ``z`` outside the
  support raise ``ValueError`` naming the family, the argument and the first bad entry.

A subclass writes the mathematics in two methods, next to each other:
``_transform(eps, **params) -> (z, {name: dz/dname})`` and
``_log_density(z, **params) -> (log_p, dlog_p/dz, {name: dlog_p/dname})``, all elementwise.
"""
from typing import NamedTuple

import numpy as np

from .checks import REAL, check_param_dict, check_support, check_values

__all__ = ["Family", "SampleCache", "LogProbCache", "sum_to_param"]


class SampleCache(NamedTuple):
    dz_dparams: dict
    param_shapes: dict


class LogProbCache(NamedTuple):
    dlogp_dz: np.ndarray
    dlogp_dparams: dict
    param_shapes: dict
    z_shape: tuple
    event_ndim: int


def sum_to_param(g, shape):
    """Undo broadcasting: sum ``g`` over leading axes and over axes where ``shape`` has size 1."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


class Family:
    """Base class of the reparameterizable families; see the module docstring for the contract.

    Attributes
    ----------
    name, recipe : str
        E.g. ``"exponential"`` and ``"inverse_cdf"`` (or ``"location_scale"``, ``"composition"``).
    param_names : tuple of str, the differentiable parameters, in order
    constraints : dict name -> Constraint
    noise : str, the distribution of ``eps``
    support : str, the support of ``z``
    """

    name = ""
    recipe = ""
    constraints: dict = {}
    noise = ""
    noise_constraint = REAL
    support = "the real line"
    event_ndim = 0

    @property
    def param_names(self):
        return tuple(self.constraints)

    @property
    def noise_shape(self):
        """Trailing axes of ``eps`` per sample: ``()``, or ``(k,)`` for a sum of ``k`` variates."""
        return ()

    def __repr__(self):
        return f"{type(self).__name__}()"

    # -- written by each family ------------------------------------------------------------
    def _draw(self, rng, shape):
        raise NotImplementedError

    def _transform(self, eps, **params):
        raise NotImplementedError

    def _log_density(self, z, **params):
        raise NotImplementedError

    def _in_support(self, z, **params):
        return np.isfinite(z)

    def _check_joint(self, params):
        """Constraints that tie parameters together (e.g. ``low < high``); none by default."""

    # -- the public contract ---------------------------------------------------------------
    def check_params(self, params):
        """Validate ``params``; return them as a dict of float64 arrays (``ValueError`` if bad)."""
        checked = check_param_dict(self.name, params, self.constraints)
        self._check_joint(checked)
        return checked

    def draw_eps(self, rng, shape=()):
        """Draw the family's noise for samples of batch shape ``shape``.

        Parameters
        ----------
        rng : numpy.random.Generator
        shape : tuple of int, the batch shape of ``z`` (without a Dirichlet's last axis)

        Returns
        -------
        eps : ndarray ``shape + noise_shape``
        """
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        return self._draw(rng, shape + self.noise_shape)

    def _check_eps(self, eps):
        eps = np.asarray(eps, dtype=np.float64)
        k = len(self.noise_shape)
        if eps.shape[eps.ndim - k:] != self.noise_shape or eps.ndim < k:
            raise ValueError(f"{self.name}: eps must end with the noise axes {self.noise_shape}, "
                             f"got shape {eps.shape}")
        return check_values(self.name, f"noise eps ~ {self.noise}", eps, self.noise_constraint)

    def sample_forward(self, params, eps):
        r"""The reparameterized sample $z = g(\epsilon, \text{params})$.

        Parameters
        ----------
        params : dict name -> ndarray, shapes broadcasting against the batch shape of ``eps``
        eps : ndarray ``batch + noise_shape``, from :meth:`draw_eps`

        Returns
        -------
        z : ndarray, the broadcast batch shape (plus ``(K,)`` for a Dirichlet)
        cache : SampleCache
        """
        p = self.check_params(params)
        z, dz = self._transform(self._check_eps(eps), **p)
        dz = {name: np.broadcast_to(dz[name], z.shape) for name in self.param_names}
        return z, SampleCache(dz, {name: np.shape(p[name]) for name in self.param_names})

    def sample_backward(self, dz, cache):
        r"""Backward of :meth:`sample_forward`: $\bar\theta = \sum \bar z \,\partial z/\partial\theta$.

        Parameters
        ----------
        dz : ndarray, the shape of ``z``

        Returns
        -------
        dparams : dict name -> ndarray, each of its parameter's shape
        """
        return {name: sum_to_param(dz * d, cache.param_shapes[name])
                for name, d in cache.dz_dparams.items()}

    def log_prob_forward(self, z, params):
        """Log-density of ``z``, elementwise (per vector for a Dirichlet).

        Parameters
        ----------
        z : ndarray, inside the support
        params : dict name -> ndarray, broadcasting against ``z``

        Returns
        -------
        log_p : ndarray, the broadcast shape (without the last axis for a Dirichlet)
        cache : LogProbCache
        """
        p = self.check_params(params)
        z = np.asarray(z, dtype=np.float64)
        check_support(self.name, self.support, z, self._in_support(z, **p))
        log_p, dz, dparams = self._log_density(z, **p)
        shape = np.shape(log_p)
        dparams = {name: np.broadcast_to(dparams[name], shape) for name in self.param_names}
        return log_p, LogProbCache(dz, dparams, {n: np.shape(p[n]) for n in self.param_names},
                                   z.shape, self.event_ndim)

    def log_prob_backward(self, dlogp, cache):
        r"""Backward of :meth:`log_prob_forward`.

        Returns
        -------
        dz : ndarray, the shape of ``z``
        dparams : dict name -> ndarray, each of its parameter's shape
        """
        up = dlogp[..., None] if cache.event_ndim else dlogp
        dz = sum_to_param(up * cache.dlogp_dz, cache.z_shape)
        dparams = {name: sum_to_param(dlogp * d, cache.param_shapes[name])
                   for name, d in cache.dlogp_dparams.items()}
        return dz, dparams

    def log_prob(self, z, params):
        """:meth:`log_prob_forward` without the cache."""
        return self.log_prob_forward(z, params)[0]

    def sample(self, params, rng, shape=()):
        """Convenience: ``sample_forward(params, draw_eps(rng, shape))[0]``."""
        return self.sample_forward(params, self.draw_eps(rng, shape))[0]
