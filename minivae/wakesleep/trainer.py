r"""Training a :class:`~minivae.VAE` with wake-sleep instead of Algorithm 1.

:class:`WakeSleepTrainer` is a :class:`minivae.Trainer` whose :meth:`~WakeSleepTrainer.step` is
replaced; everything else is the Trainer's, so the comparison with AEVB in Fig. 2 changes
nothing but the update rule: the same minibatches of real data (M = 100, dynamic binarization
for MNIST), the same Adagrad and step sizes, the same $\mathcal N(0, I)$ weight prior scaled by
$1/N$, the same evaluations (estimator B, :func:`minivae.evaluation.mean_bound`), history,
callbacks and checkpoints.

One step, on a minibatch $X$ of $M$ real datapoints:

::

    ε ~ N(0, I)  (L, M, J);  z = μ_φ(x) + σ_φ(x) ⊙ ε                 wake: z ~ q_φ(z|x)
    g_θ ← ∇_θ [ -1/M Σ log p_θ(x, z) ]                                (z held fixed)
    z' ~ N(0, I) (M, J);  x' ~ p_θ(x|z')                              sleep: M dreams
    g_φ ← ∇_φ [ -1/M Σ log q_φ(z'|x') ]
    g ← (g_θ, g_φ) - 1/N ∇ log N(θ, φ; 0, I)                         weight prior, as in AEVB
    θ, φ ← Adagrad step with g

Both gradients are taken at the current parameters and applied in one Adagrad step (the
phases touch disjoint parameters, so this is the wake and sleep updates done side by side
rather than one after the other). "Samples" counts real datapoints only, as the x-axis of
Fig. 2 does; the dreams are extra work per step that AEVB does not do.
"""
import numpy as np

from ..prior import log_prior_backward, log_prior_forward
from ..training import Trainer
from .dream import draw_dream_noise, dream
from .phases import sleep_loss_and_grads, wake_loss_and_grads

__all__ = ["WakeSleepTrainer"]


class WakeSleepTrainer(Trainer):
    """:class:`minivae.Trainer` with the wake-sleep update; same arguments.

    ``estimator`` only chooses the estimator of the *reported* bound (default B, as for AEVB);
    the wake phase draws ``L`` samples of $z$ per datapoint, the sleep phase ``M`` dreams.
    """

    algorithm = "wakesleep"

    def step(self):
        """One wake-sleep update; returns the minibatch's mean bound (estimator B, nats per datapoint)."""
        model = self.model
        X = self._next_batch()
        M = len(X)
        eps = self.rng.standard_normal((self.L, M, model.n_latent),
                                       dtype=getattr(model, "dtype", np.float64))
        Z, noise = draw_dream_noise(self.rng, M, model.n_latent, model.n_input, model.decoder)
        wake_loss, grads, bound = wake_loss_and_grads(model, X, eps, validate=False)
        X_dream = dream(Z, noise, model.params, len(model.n_hidden), model.activation,
                        model.decoder, model.sigmoid_mean)
        sleep_loss, sleep_grads = sleep_loss_and_grads(model, Z, X_dream, validate=False)
        merged = {**grads, **sleep_grads}
        grads = {name: merged[name] for name in model.params}   # the optimizer's key order
        if self.weight_prior:
            _, prior_cache = log_prior_forward(model.params)
            for name, g in log_prior_backward(-1.0 / len(self.X_train), prior_cache).items():
                grads[name] += g
        self._check_finite_step(wake_loss, sleep_loss, grads)
        self._update(model.params, grads)
        self.samples += M
        return float(bound.mean())

    def _check_finite_step(self, wake_loss, sleep_loss, grads):
        bad = [name for name, g in grads.items() if not np.all(np.isfinite(g))]
        if np.isfinite(wake_loss) and np.isfinite(sleep_loss) and not bad:
            return
        raise FloatingPointError(
            f"wake-sleep: non-finite wake loss ({wake_loss}), sleep loss ({sleep_loss}) or gradient "
            f"(tensors: {', '.join(bad) or 'none'}) after {self.samples} samples; try a smaller "
            f"step size than lr={self.optimizer.lr}")
