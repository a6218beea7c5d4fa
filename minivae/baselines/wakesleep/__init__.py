r"""The wake-sleep algorithm (Hinton, Dayan, Frey & Neal 1995), the paper's baseline in Fig. 2.

The paper (Sec. 5) compares AEVB with wake-sleep "employing the same encoder (also called
recognition model)". Both train the same :class:`minivae.VAE`, with the same encoder
$q_\phi(z|x)$, the same decoder $p_\theta(x|z)$, the same prior $p(z) = \mathcal N(0, I)$, the same
Adagrad and the same $\mathcal N(0, I)$ weight prior. Only the update rule differs:

* **wake phase** (:func:`~minivae.baselines.wakesleep.phases.wake_forward`): draw $z \sim q_\phi(z|x)$ for a
  real minibatch and take a gradient step on $\theta$ to increase
  $\log p_\theta(x, z) = \log p_\theta(x|z) + \log p(z)$; $z$ is treated as data, so nothing flows
  back into $\phi$ (this is where it parts from AEVB);
* **sleep phase** (:func:`~minivae.baselines.wakesleep.phases.sleep_forward`): dream
  $z \sim p(z)$, $x \sim p_\theta(x|z)$ (:func:`~minivae.baselines.wakesleep.dream.dream`) and take a
  gradient step on $\phi$ to increase $\log q_\phi(z|x)$ of the dream.

Each phase optimizes its own objective over its own parameters; neither is the variational
lower bound. The bound reported for a wake-sleep model is nevertheless the same estimator B
(eq. 7) as for AEVB (:meth:`minivae.VAE.elbo`, :func:`minivae.training.evaluation.mean_bound`), which is
what makes the two algorithms comparable in Fig. 2.

**Sign.** As everywhere in minivae, the code minimizes losses: the wake loss is
$-\frac1{M}\sum_i \log p_\theta(x^{(i)}, z^{(i)})$ and the sleep loss
$-\frac1M\sum_i \log q_\phi(z^{(i)}|x^{(i)})$ of the dreams.

**Checkpoints.** A :class:`WakeSleepTrainer` saves and resumes through
:mod:`minivae.training.checkpoint` like AEVB's; importing this package defines the ``"wakesleep"``
algorithm the checkpoint records.
"""
from .dream import draw_dream_noise, dream
from .phases import (sleep_backward, sleep_forward, sleep_loss_and_grads, wake_backward,
                     wake_forward, wake_loss_and_grads)
from .trainer import WakeSleepTrainer

__all__ = ["dream", "draw_dream_noise", "wake_forward", "wake_backward", "sleep_forward",
           "sleep_backward", "wake_loss_and_grads", "sleep_loss_and_grads", "WakeSleepTrainer"]
