r"""Full variational Bayes over the decoder's parameters $\theta$ (the paper's App. F).

AEVB learns a point estimate of $\theta$ (MAP under the weight prior $\mathcal N(0, I)$,
Algorithm 1). App. F instead puts a variational posterior on $\theta$ too,

$$\log p(X) \ge \mathcal L(\phi; X) = \mathbb E_{q_\phi(\theta)}\Big[\sum_i \mathcal L(\theta, \phi; x^{(i)})\Big]
  - D_{KL}(q_\phi(\theta) \,\|\, p(\theta)),$$

with $q_\phi(\theta) = \mathcal N(\mu_\theta, \operatorname{diag}\sigma_\theta^2)$ and
$p(\theta) = \mathcal N(0, I)$, both reparameterized ($\tilde\theta = \mu_\theta + \sigma_\theta\odot\zeta$,
$z = \mu_z + \sigma_z\odot\epsilon$) and trained by SGVB.

* :mod:`~minivae.fullvb.posterior`: $q_\phi(\theta)$: the sampler over $\theta$ and the closed-form
  $D_{KL}(q_\phi(\theta)\,\|\,\mathcal N(0, I))$, forward/backward pairs;
* :mod:`~minivae.fullvb.estimator`: App. F's estimator $f_\phi$, corrected, in the minibatch form and
  as Algorithm 2, with its gradient;
* :mod:`~minivae.fullvb.trainer`: :class:`FullVBTrainer`, ``algorithm = "fullvb"``;
* :mod:`~minivae.fullvb.evaluation`: the test bound and $\log p(x)$ of the predictive
  $\mathbb E_{q_\phi(\theta)}[p_\theta(x)]$.

Importing this package registers the ``"fullvb"`` algorithm, so that
:func:`minivae.training.checkpoint.restore_trainer` can resume its runs.

``docs/fullvb.md`` writes out the equations, what App. F's typed text gets wrong, and results.
"""
from .estimator import (algorithm2_backward, algorithm2_forward, fullvb_bound_backward,
                        fullvb_bound_forward, theta_mu)
from .evaluation import predictive_bound, predictive_log_px, sampled_model
from .posterior import (draw_zeta, theta_kl_backward, theta_kl_forward, theta_sample_backward,
                        theta_sample_forward)
from .trainer import FullVBTrainer

__all__ = ["FullVBTrainer", "predictive_bound", "predictive_log_px", "sampled_model",
           "fullvb_bound_forward", "fullvb_bound_backward", "algorithm2_forward",
           "algorithm2_backward", "theta_mu", "draw_zeta", "theta_sample_forward",
           "theta_sample_backward", "theta_kl_forward", "theta_kl_backward"]
