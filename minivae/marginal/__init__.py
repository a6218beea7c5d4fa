r"""Estimating the marginal likelihood $\log p_\theta(x)$ of a trained decoder (Sec. 5, App. D).

$$p_\theta(x) = \int p(z)\, p_\theta(x|z)\, dz, \qquad p(z) = \mathcal N(z; 0, I),$$

has no closed form for an MLP decoder. Three estimators, each for every row of ``X (M, D)``:

* :func:`importance_log_px` -- importance sampling with the recognition model as proposal,
  $\log \frac1k \sum_{i=1}^k p_\theta(x, z_i) / q_\phi(z_i|x)$, $z_i \sim q_\phi(z|x)$; a stochastic
  lower bound (the IWAE bound) that rises towards $\log p_\theta(x)$ as $k$ grows, and equals
  estimator A of the ELBO (eq. 6) at $k = 1$.
* :func:`quadrature_log_px` -- a grid rule over $[-\text{limit}, \text{limit}]^J$ for $J \le 2$:
  the reference value the other estimators are tested against.
* :func:`appendix_d_log_px` -- the paper's estimator (App. D), below: HMC posterior samples, a
  density $q(z)$ fitted to them, and fresh samples; a :class:`MarginalEstimate` with a standard
  error and the chains' acceptance rates.

**Sampling the posterior (App. D, App. E).** The App. D estimator and MCEM need samples of the
posterior $p_\theta(z|x) \propto p(z)\, p_\theta(x|z)$, known only up to its normaliser $p_\theta(x)$.
:class:`Posterior` is that unnormalised density for the rows of ``X``: a callable
``Z (M, J) -> (log_joint (M,), grad (M, J))`` with

$$\log p_\theta(x, z) = \log p(z) + \log p_\theta(x|z), \qquad
\nabla_z \log p_\theta(x, z) = -z + \nabla_z \log p_\theta(x|z),$$

built from :func:`log_joint_forward` / :func:`log_joint_backward` (the decoder's backward into its
input). :class:`HMC` runs one Hamiltonian Monte Carlo chain per row on such a target: momentum
$p \sim \mathcal N(0, I)$, ``n_leapfrog`` :func:`leapfrog` steps of size $\varepsilon_i$ on
$H(z, p) = -\log p_\theta(x, z) + \frac12\|p\|^2$, then a Metropolis test
$\min(1, e^{H(z, p) - H(z', p')})$ per row (:func:`hmc_step`), which leaves $p_\theta(z|x)$ exactly
invariant. During :meth:`HMC.warm_up` each row's $\log\varepsilon_i$ follows a Robbins-Monro
recursion towards the target acceptance rate (the paper: 90%); :meth:`HMC.sample` keeps it fixed.

Given posterior samples $z^{(l)} \sim p_\theta(z|x)$ and any normalised density $q(z)$ fitted to
other samples, App. D uses

$$\mathbb E_{p_\theta(z|x)}\left[\frac{q(z)}{p(z)\, p_\theta(x|z)}\right]
= \int \frac{q(z)}{p_\theta(x)}\, dz = \frac1{p_\theta(x)}, \qquad
p_\theta(x) \approx \left(\frac1L \sum_{l=1}^L \frac{q(z^{(l)})}{p(z^{(l)})\, p_\theta(x|z^{(l)})}\right)^{-1}.$$
"""
from .appendix_d import MarginalEstimate, appendix_d_log_px
from .hmc import HMC, hmc_step, leapfrog
from .importance import importance_log_px
from .posterior import LogJointCache, Posterior, log_joint_backward, log_joint_forward
from .quadrature import quadrature_log_px

__all__ = ["importance_log_px", "quadrature_log_px", "Posterior", "LogJointCache",
           "log_joint_forward", "log_joint_backward", "HMC", "hmc_step", "leapfrog",
           "appendix_d_log_px", "MarginalEstimate"]
