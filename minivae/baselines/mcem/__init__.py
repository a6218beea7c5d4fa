r"""Monte Carlo EM (MCEM) with an HMC posterior sampler, the paper's third method in Fig. 3.

MCEM learns the generative model $p_\theta(x|z)\,p(z)$ alone, with no recognition model. EM
maximizes $\log p_\theta(x)$ by alternating an E-step, the posterior $p_\theta(z|x)$, and an
M-step on the expected complete-data log-likelihood. The M-step's gradient is the marginal
likelihood's gradient (Fisher's identity):

$$\nabla_\theta \log p_\theta(x) = \mathbb E_{p_\theta(z|x)}\left[\nabla_\theta \log p_\theta(x, z)\right]
  = \mathbb E_{p_\theta(z|x)}\left[\nabla_\theta \log p_\theta(x|z)\right],$$

so a sample $z \sim p_\theta(z|x)$ gives an unbiased estimate of it. *Monte Carlo* EM replaces the
intractable expectation by such samples; here (App. E), for each datapoint of a minibatch:

1. **E-step:** one Hamiltonian Monte Carlo transition of
   $p_\theta(z|x) \propto p(z)\,p_\theta(x|z)$ with 10 leapfrog steps
   (:class:`minivae.marginal.hmc.HMC` on :class:`minivae.marginal.posterior.Posterior`), from where
   the datapoint's chain stopped at its last visit: the chains persist across epochs, so they
   follow $p_\theta(z|x)$ as $\theta$ moves instead of starting cold. Each chain's step size is
   adapted towards a 90% acceptance rate.
2. **M-step:** 5 Adagrad steps on $-\frac1M\sum_i \log p_\theta(x^{(i)}, z^{(i)}) - \frac1N \log
   \mathcal N(\theta; 0, I)$ at the sampled $z^{(i)}$ (:mod:`~minivae.baselines.mcem.mstep`), the same
   optimizer and weight prior as AEVB.

Since a sample of a chain that has not mixed is not from $p_\theta(z|x)$, the M-step gradient
is biased while the chains lag behind $\theta$; this, and one transition per visit, is what makes
MCEM slow per datapoint (the paper's point in Fig. 3).

**Sign.** As everywhere in minivae the code minimizes: the M-step loss is the negative mean
complete-data log-likelihood.

**What it reports.** There is no encoder and so no ELBO: :meth:`MCEMTrainer.evaluate` records the
App. D estimate of $\log p_\theta(x)$ (:mod:`minivae.marginal.appendix_d`), and
:meth:`MCEMTrainer.step` returns the minibatch's mean $\log p_\theta(x, z)$.

**Checkpoints.** :func:`minivae.training.checkpoint.save` stores an MCEM run like any other, with its
chains, and :func:`minivae.training.checkpoint.restore_trainer` continues it bit for bit (importing this
package defines the ``"mcem"`` algorithm it records).
"""
from .mstep import decoder_params, mstep_loss_and_grads
from .trainer import MCEMTrainer

__all__ = ["MCEMTrainer", "mstep_loss_and_grads", "decoder_params"]
