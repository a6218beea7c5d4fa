r"""Training a :class:`~minivae.VAE` with wake-sleep instead of Algorithm 1.

:class:`WakeSleepTrainer` is a :class:`minivae.Trainer` whose :meth:`~WakeSleepTrainer.step` is
replaced; everything else is the Trainer's, so the comparison with AEVB in Fig. 2 changes
nothing but the update rule: the same minibatches of real data (M = 100, dynamic binarization
for MNIST), the same Adagrad and step sizes, the same $\mathcal N(0, I)$ weight prior scaled by
$1/N$, the same evaluations (estimator B, :func:`minivae.training.evaluation.mean_bound`), history,
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

**Engines.** With ``engine="reference"`` a step composes the readable phases
(:mod:`~minivae.baselines.wakesleep.phases`, :func:`~minivae.baselines.wakesleep.dream.dream`); with ``"fused"``
(the default) it runs them fused (:mod:`~minivae.baselines.wakesleep.fused`). Both draw the same noise in
the same order, so in float64 they train alike to round-off.
"""
import numpy as np

from ...model import VAE
from ...prior import log_prior_backward, log_prior_forward
from ...training.trainer import Trainer
from .dream import DREAM_DECODERS, draw_dream_noise, dream
from .phases import sleep_loss_and_grads, wake_loss_and_grads

__all__ = ["WakeSleepTrainer"]


class WakeSleepTrainer(Trainer):
    """:class:`minivae.Trainer` with the wake-sleep update; same arguments.

    ``estimator`` only chooses the estimator of the *reported* bound (default B, as for AEVB);
    the wake phase draws ``L`` samples of $z$ per datapoint, the sleep phase ``M`` dreams.
    """

    algorithm = "wakesleep"
    gaussian_latents_only = True  # the phases sample and score z as Gaussians
    decoders = DREAM_DECODERS  # the sleep phase samples x ~ p(x|z)

    def step(self):
        """One wake-sleep update; returns the minibatch's mean bound (estimator B, nats per datapoint).

        The noise is drawn first, in one order for both engines (``eps``, then the dreams' ``Z``
        and pixel noise), so that the fused and the reference engine train alike.
        """
        model = self.model
        X = self._next_batch()
        M = len(X)
        eps = self.rng.standard_normal((self.L, M, model.n_latent),
                                       dtype=getattr(model, "dtype", np.float64))
        Z, noise = draw_dream_noise(self.rng, M, model.n_latent, model.n_input, model.decoder)
        fused = self._wake_sleep_path()
        bound = (self._reference_step(X, eps, Z, noise) if fused is None
                 else self._fused_step(fused, X, eps, Z, noise))
        self.samples += M
        return bound

    def _wake_sleep_path(self):
        """The fused phases (:class:`~minivae.baselines.wakesleep.fused.WakeSleepPath`, built once) when the
        trainer's engine is ``"fused"`` and the model is a Gaussian-latent :class:`minivae.VAE`;
        else ``None``: the readable phases. Numba is imported only here, on first use."""
        model, latent = self.model, getattr(self.model, "latent", None)
        if self.engine != "fused" or not isinstance(model, VAE) \
                or (latent is not None and not latent.closed_form_kl):
            return None
        path = getattr(self, "_fused_path", None)
        if path is None or path.model is not model:
            from .fused import WakeSleepPath
            path = self._fused_path = WakeSleepPath(model)
        return path

    def _fused_step(self, path, X, eps, Z, noise):
        """Both phases fused, updated by the engine with the weight prior folded in (``decay``)."""
        result = path.run(X, eps, Z, noise)
        decay = self._prior_decay()
        state = None
        if result.parts.checked and result.finite():  # the parts were checked on their threads
            state = self._engine.update_sum(result.parts.parts, self.opt_state, decay)
        if state is None:
            grads = result.parts.summed()
            self._check_finite_step(result.wake_loss, result.sleep_loss, grads)
            state = self._engine.update(self.model.params, grads, self.opt_state, decay)
        self.opt_state = state
        return result.bound

    def _reference_step(self, X, eps, Z, noise):
        """Both phases through the readable forward/backward pairs of :mod:`.phases`."""
        model = self.model
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
        return float(bound.mean())

    def _check_finite_step(self, wake_loss, sleep_loss, grads):
        """Raise, before the update, on a non-finite loss or gradient (checked by the engine)."""
        bad = self._nonfinite(grads)
        if np.isfinite(wake_loss) and np.isfinite(sleep_loss) and not bad:
            return
        raise FloatingPointError(
            f"wake-sleep: non-finite wake loss ({wake_loss}), sleep loss ({sleep_loss}) or gradient "
            f"(tensors: {', '.join(bad) or 'none'}) after {self.samples} samples; try a smaller "
            f"step size than lr={self.optimizer.lr}")
