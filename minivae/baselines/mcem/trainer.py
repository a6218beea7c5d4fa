r"""Training the decoder of a :class:`~minivae.VAE` with Monte Carlo EM (the paper's App. E).

:class:`MCEMTrainer` is a :class:`minivae.Trainer` whose :meth:`~MCEMTrainer.step` and
:meth:`~MCEMTrainer.evaluate` are replaced; minibatch order, dynamic binarization, Adagrad, the
$\mathcal N(0, I)$ weight prior scaled by $1/N$, the loop, callbacks and history are the
Trainer's. The paper: "For each datapoint, 10 HMC leapfrog steps with an automatically tuned
stepsize such that the acceptance rate was 90%, followed by 5 weight updates steps using the
acquired sample".

One step, on a minibatch $X$ of $M$ datapoints with indices ``idx`` into the training set:

::

    z ← chain_z[idx]; ε ← chain_step_size[idx]                       the persistent chains
    one HMC transition of p_θ(z|x) ∝ p(z) p_θ(x|z) per row            (n_leapfrog leapfrog steps)
    ε ← ε · exp(accept - target_accept)   per row                      step-size adaptation
    chain_z[idx], chain_step_size[idx] ← z, ε
    repeat n_updates times:                                            the M-step, z fixed
        g_θ ← ∇_θ [ -1/M Σ log p_θ(x, z) ]  (= -1/M Σ ∇_θ log p_θ(x|z))
        θ ← Adagrad step on g_θ + θ/N                                  weight prior, as in AEVB

The step-size update is :meth:`minivae.marginal.hmc.HMC.step` with ``adapt=True``. A new
:class:`~minivae.marginal.hmc.HMC` is built for every minibatch, so its Robbins-Monro gain stays
at its first value, $\gamma_0 = 1$: a constant-gain adaptation, which keeps tracking the
posterior as $\theta$ moves (a step size too small by a factor $e$ takes about 10 visits to
recover, one too large about 1-2), at the price of a jitter of about 0.3 in each chain's
$\log\varepsilon$.

Only $\theta$ (``dec.*``) is trained: MCEM has no recognition model, so the ``enc.*`` arrays
stay as initialized and the optimizer state holds the ``dec.*`` keys only.

Evaluation: the ELBO needs $q_\phi$ and means nothing here, so :meth:`MCEMTrainer.evaluate`
records the App. D estimate of $\log p_\theta(x)$
(:func:`minivae.marginal.appendix_d.appendix_d_log_px`) in the ``train_bound`` and
``test_bound`` fields of each :class:`~minivae.training.trainer.Record`. An MCEM history is therefore
marginal log-likelihoods, not bounds.
"""
import numpy as np

from ...marginal.appendix_d import appendix_d_log_px
from ...marginal.hmc import HMC
from ...marginal.posterior import Posterior
from ...training.trainer import Trainer
from ...validation import check_open_unit, check_positive_float, check_positive_int
from .mstep import decoder_params, mstep_loss_and_grads

__all__ = ["MCEMTrainer"]


class MCEMTrainer(Trainer):
    r"""Monte Carlo EM on the decoder of a :class:`~minivae.VAE`; :class:`minivae.Trainer`'s
    arguments plus the keyword-only ones below.

    ``L`` and ``estimator`` are unused (there is no $\epsilon$ and no bound); ``eval_train_size``
    still fixes the training rows scored by :meth:`evaluate` (their first
    ``marginal_eval_size``).

    Parameters
    ----------
    n_leapfrog : int, leapfrog steps of the HMC transition per minibatch visit (paper: 10)
    n_updates : int, Adagrad steps on the sampled $z$ per minibatch (paper: 5)
    target_accept : float in (0, 1), the acceptance rate each chain's step size is tuned to
        (paper: 0.9)
    initial_step_size : float, every chain's leapfrog step size before any adaptation
    marginal_eval_size : int, the number of rows of the fixed training subset and of the test
        set whose App. D $\log p(x)$ :meth:`evaluate` averages (paper: 1000; App. D costs about
        as much as a few hundred MCEM visits per row, so keep it small during training)

    Attributes
    ----------
    chain_z : ndarray (N, J), float64
        The current state of the HMC chain of every training datapoint, started from
        $\mathcal N(0, I)$ (drawn from the trainer's generator) and kept across epochs.
    chain_step_size : ndarray (N,), float64, every chain's adapted leapfrog step size
    last_acceptance : ndarray (M,) or None, the acceptance probabilities of the last step's
        HMC transition (a diagnostic; not saved in checkpoints)

    A checkpoint (:func:`minivae.training.checkpoint.save`) holds the chains as its extra arrays
    ``chain_z`` and ``chain_step_size``, and MCEM's settings in the trainer settings.
    """

    algorithm = "mcem"
    gaussian_latents_only = True

    def __init__(self, model, X_train, X_test=None, *args, n_leapfrog=10, n_updates=5,
                 target_accept=0.9, initial_step_size=0.1, marginal_eval_size=100, **kwargs):
        if np.dtype(getattr(model, "dtype", np.float64)) != np.float64:
            raise ValueError(f"MCEM runs in float64 only (HMC and App. D), got a {model.dtype} "
                             f"model; build the VAE with dtype='float64'")
        self.n_leapfrog = check_positive_int("n_leapfrog", n_leapfrog)
        self.n_updates = check_positive_int("n_updates", n_updates)
        self.target_accept = check_open_unit("target_accept", target_accept)
        self.initial_step_size = check_positive_float("initial_step_size", initial_step_size)
        self.marginal_eval_size = check_positive_int("marginal_eval_size", marginal_eval_size)
        super().__init__(model, X_train, X_test, *args, **kwargs)
        N = len(self.X_train)
        self.chain_z = self.rng.standard_normal((N, model.n_latent))
        self.chain_step_size = np.full(N, self.initial_step_size)
        self.last_acceptance = None

    def config(self):
        """The Trainer's settings plus MCEM's, JSON-ready (what a checkpoint stores)."""
        return {**super().config(), "n_leapfrog": self.n_leapfrog, "n_updates": self.n_updates,
                "target_accept": self.target_accept, "initial_step_size": self.initial_step_size,
                "marginal_eval_size": self.marginal_eval_size}

    def extra_arrays(self):
        """The chains: what a checkpoint saves beside the Trainer's state."""
        return {"chain_z": self.chain_z, "chain_step_size": self.chain_step_size}

    def restore_extra(self, arrays):
        """Set the chains to a checkpoint's."""
        self.chain_z[...] = arrays["chain_z"]
        self.chain_step_size[...] = arrays["chain_step_size"]

    def optimized_params(self):
        r"""$\theta$, the ``dec.*`` parameters: the encoder is not trained."""
        return decoder_params(self.model)

    def step(self):
        r"""One MCEM step: an adapting HMC transition for the minibatch's chains, then
        ``n_updates`` Adagrad steps on $\theta$ at the sampled $z$.

        Returns
        -------
        float
            The minibatch's mean $\log p_\theta(x, z) = \log p_\theta(x|z) + \log p(z)$ at the
            new $z$ and the parameters before the M-step (nats per datapoint). It is a
            complete-data log-likelihood, neither a bound on nor an estimate of $\log p(x)$.
        """
        model = self.model
        X = self._next_batch()
        M = len(X)
        idx = self.perm[self.pos - M:self.pos]
        # The chains belong to datapoint indices. With dynamic binarization the binary image
        # of a row is redrawn at every visit while its chain persists, so the chain tracks
        # p(z|x) for a slightly different x each epoch (a choice: the alternative, a fixed
        # binarization per chain, would train on fixed data only).
        try:
            hmc = HMC(Posterior(model, X), z0=self.chain_z[idx], n_leapfrog=self.n_leapfrog,
                      step_size=self.chain_step_size[idx], target_accept=self.target_accept,
                      rng=self.rng)
        except ValueError as exc:   # HMC refuses a start where log p(x, z) is not finite
            if "not finite" not in str(exc):
                raise
            raise FloatingPointError(
                f"MCEM: log p(x, z) is not finite at the stored chains after {self.samples} "
                f"samples (diverged decoder parameters?); try a smaller step size than "
                f"lr={self.optimizer.lr}") from exc
        self.last_acceptance = hmc.step(adapt=True)
        self.chain_z[idx] = hmc.z
        self.chain_step_size[idx] = hmc.step_size
        Z = self.chain_z[idx]
        theta = decoder_params(model)
        decay = self._prior_decay()
        for k in range(self.n_updates):
            loss, grads, log_joint = mstep_loss_and_grads(model, X, Z)
            self._check_finite_mstep(loss, grads)
            if k == 0:
                mean_log_joint = float(np.mean(log_joint))
            self._update(theta, grads, decay)
        self.samples += M
        return mean_log_joint

    def _check_finite_mstep(self, loss, grads):
        bad = self._nonfinite(grads)
        if np.isfinite(loss) and not bad:
            return
        raise FloatingPointError(
            f"MCEM: non-finite M-step loss ({loss}) or gradient (tensors: {', '.join(bad) or 'none'}) "
            f"after {self.samples} samples; try a smaller step size than lr={self.optimizer.lr}")

    def evaluate(self):
        r"""Append and return a :class:`~minivae.training.trainer.Record` of the mean App. D estimate of
        $\log p_\theta(x)$ (nats per datapoint) over the first ``marginal_eval_size`` rows of the
        fixed training subset and of the test set.

        ``train_bound`` and ``test_bound`` hold these log-likelihood estimates, not ELBOs.
        :func:`~minivae.marginal.appendix_d.appendix_d_log_px` runs with its defaults (the
        paper's protocol: 50 samples, 4 leapfrog steps, a KDE), chains started from $p(z)$
        (``init="prior"``: the encoder is untrained) and its own generators, seeded from the
        trainer's seed, so that evaluating never disturbs the training noise and the same
        parameters always give the same numbers. Cost: about 7 s for 100 + 100 MNIST rows
        (784-100-3), as much as ~130 MCEM steps of M = 100.
        """
        n = self.marginal_eval_size
        seed = 0 if self.seed is None else self.seed
        train = self._mean_log_px(self._eval_train[:n], np.random.default_rng([seed, 3]))
        test = None if self._eval_test is None else self._mean_log_px(
            self._eval_test[:n], np.random.default_rng([seed, 4]))
        return self._record(train, test)

    def _mean_log_px(self, X, rng):
        # init="prior": the chains start at draws of p(z), since the encoder is untrained here
        return float(np.mean(appendix_d_log_px(self.model, X, rng=rng, init="prior").log_px))
