r"""Training with full VB over the decoder's parameters: App. F's Algorithm 2 and a minibatch form.

:class:`FullVBTrainer` is a :class:`minivae.Trainer` whose :meth:`~FullVBTrainer.step` and
:meth:`~FullVBTrainer.evaluate` are replaced; minibatch order, dynamic binarization, the
optimizer, the loop, callbacks, history and checkpoints are the Trainer's.

Where the variational parameters live:

* the encoder's, ``enc.*``, in ``model.params`` as always;
* $\mu_\theta$, the means of $q_\phi(\theta)$, are the ``dec.*`` entries of ``model.params``: so the
  model *is* the decoder at the posterior mean, and everything that takes a VAE (sampling,
  manifolds, :func:`minivae.marginal.importance.importance_log_px`) works on it;
* $\log\sigma_\theta^2$, :attr:`FullVBTrainer.theta_logvar`, one array per ``dec.*`` tensor, and its
  optimizer state are the trainer's own; a checkpoint saves them as extra arrays
  (``theta_logvar/<name>`` and ``theta_logvar_opt/<name>/<slot>``), so a run resumes bit for bit.

One step, on a minibatch $X^M$ of a training set of $N$ rows (the trainer's order):

::

    ε ← L·M draws of N(0, I)
    form "minibatch":  ζ ← one draw of N(0, I) per entry of θ          (one θ̃ for the minibatch)
                       g ← ∇ −(1/N) L̂(φ; X^M)                           (fullvb_bound_forward)
    form "algorithm2": ζ⁽ˡ⁾ ← a draw per row l = 1..M                    (App. F's Algorithm 2)
                       g ← ∇ −(1/N) (1/M) Σ_l f_φ(x⁽ˡ⁾, ε⁽ˡ⁾, ζ⁽ˡ⁾)       (algorithm2_forward)
    encoder:  g ← g + φ_enc/N if weight_prior                         (as Algorithm 1's prior)
    φ ← optimizer step on g (enc.*, μ_θ and logvar_θ together)

The $\mathcal N(0, I)$ prior on $\theta$ is in the bound, as $D_{KL}(q_\phi(\theta)\,\|\,p(\theta))/N$
per datapoint; ``weight_prior`` then only decides whether the encoder's weights carry
Algorithm 1's $\mathcal N(0, I)$ prior too (default yes, so that full VB and the MAP setup
differ in $\theta$ alone). App. F's bound has no prior on the encoder: ``weight_prior=False``.

Algorithm 2 draws ``x ← random datapoint``; here the $M$ rows of a step are the Trainer's
shuffled minibatch (without replacement within an epoch), and each has its own $\zeta$: one
decoder pass per row, $M$ times the cost of the minibatch form.

Engines: the loss and gradients always run the readable code (:mod:`minivae.fullvb.estimator`);
the engine binarizes and steps the optimizer (the fused engine with its kernels).

Evaluation records the predictive bound $\mathbb E_{q_\phi(\theta)}[\tilde{\mathcal L}(\theta, \phi; x)]$
(:func:`minivae.fullvb.evaluation.predictive_bound`, ``eval_theta_samples`` draws of $\theta$) of
the training subset and the test set, per datapoint: a lower bound on the log predictive density.
The training objective per datapoint is that bound on the training set minus
$D_{KL}(q_\phi(\theta)\,\|\,p(\theta))/N$ (:meth:`FullVBTrainer.theta_kl_per_datapoint`).
"""
import numpy as np

from .. import flat
from ..training.trainer import Trainer
from ..validation import check_positive_int
from .estimator import (algorithm2_backward, algorithm2_forward, fullvb_bound_backward,
                        fullvb_bound_forward, theta_mu)
from .evaluation import predictive_bound
from .posterior import draw_zeta, theta_kl_forward

__all__ = ["FullVBTrainer", "FORMS"]

FORMS = ("minibatch", "algorithm2")
_LOGVAR = "logvar:"  # the prefix of logvar_theta's names in the one optimizer step


class FullVBTrainer(Trainer):
    r"""Full VB (App. F) on a :class:`~minivae.VAE` with the paper's Gaussian latent;
    :class:`minivae.Trainer`'s arguments (estimator B only) plus the keyword-only ones below.

    Parameters
    ----------
    form : ``"minibatch"`` (one $\theta$ draw per minibatch, $N/M$ scaling) or ``"algorithm2"``
        (App. F's Algorithm 2: a $\theta$ draw per datapoint)
    init_logvar : float, the initial $\log\sigma_\theta^2$ of every entry (default -10: $q(\theta)$
        starts almost a point mass at the model's initial $\theta$, the usual start near AEVB)
    eval_theta_samples : int, draws of $\theta$ per evaluation (:meth:`evaluate`)

    Attributes
    ----------
    theta_logvar : dict name -> ndarray, $\log\sigma_\theta^2$ for every ``dec.*`` tensor
    logvar_state : dict, the optimizer's state for :attr:`theta_logvar`
    """

    algorithm = "fullvb"
    gaussian_latents_only = True

    def __init__(self, model, X_train, X_test=None, *args, form="minibatch", init_logvar=-10.0,
                 eval_theta_samples=1, **kwargs):
        if form not in FORMS:
            raise ValueError(f"unknown form {form!r}; choose one of {', '.join(map(repr, FORMS))}")
        init_logvar = float(init_logvar)
        if not np.isfinite(init_logvar):
            raise ValueError(f"init_logvar must be finite, got {init_logvar}")
        self.form, self.init_logvar = form, init_logvar
        self.eval_theta_samples = check_positive_int("eval_theta_samples", eval_theta_samples)
        super().__init__(model, X_train, X_test, *args, **kwargs)
        if self.estimator != "B":
            raise ValueError("full VB is written with estimator B (the analytic KLs of App. F.1); "
                             "got estimator 'A'")
        mu = theta_mu(model)
        self.theta_logvar = flat.pack({n: np.full(p.shape, init_logvar) for n, p in mu.items()},
                                      self.dtype)
        self.logvar_state = self.optimizer.init_state(self.theta_logvar)

    def config(self):
        """The Trainer's settings plus full VB's, JSON-ready (what a checkpoint stores)."""
        return {**super().config(), "form": self.form, "init_logvar": self.init_logvar,
                "eval_theta_samples": self.eval_theta_samples}

    def extra_arrays(self):
        r"""$\log\sigma_\theta^2$ and its optimizer state: what a checkpoint saves beside the
        Trainer's state."""
        out = {f"theta_logvar/{n}": a for n, a in self.theta_logvar.items()}
        for n, slots in self.logvar_state.items():
            out.update({f"theta_logvar_opt/{n}/{slot}": a for slot, a in slots.items()})
        return out

    def restore_extra(self, arrays):
        """Set $\\log\\sigma_\\theta^2$ and its optimizer state to a checkpoint's."""
        for n, a in self.theta_logvar.items():
            a[...] = arrays[f"theta_logvar/{n}"]
        for n, slots in self.logvar_state.items():
            for slot, a in slots.items():
                a[...] = arrays[f"theta_logvar_opt/{n}/{slot}"]

    def theta_kl_per_datapoint(self):
        r"""$D_{KL}(q_\phi(\theta)\,\|\,\mathcal N(0, I)) / N$, in nats."""
        return theta_kl_forward(theta_mu(self.model), self.theta_logvar)[0] / len(self.X_train)

    def loss_and_grads(self, X, eps):
        r"""The loss $-\hat{\mathcal L}/N$ of this trainer's form on ``X`` with noise ``eps``
        (drawing $\zeta$ from the trainer's generator), and its gradients.

        Returns
        -------
        loss : float
        grads : dict keyed like ``model.params``
        dlogvar : dict keyed like :attr:`theta_logvar`
        """
        model, N = self.model, len(self.X_train)
        mu = theta_mu(model)
        if self.form == "minibatch":
            zeta = draw_zeta(self.rng, mu)
            estimate, _, cache = fullvb_bound_forward(model, X, eps, zeta, self.theta_logvar, N)
            grads, dlogvar = fullvb_bound_backward(-1.0 / N, cache)
        else:
            zetas = [draw_zeta(self.rng, mu) for _ in range(len(X))]
            estimate, _, cache = algorithm2_forward(model, X, eps, zetas, self.theta_logvar, N)
            grads, dlogvar = algorithm2_backward(-1.0 / N, cache)
        return -estimate / N, grads, dlogvar

    def step(self):
        r"""One step of the chosen form (the module docstring); returns $\hat{\mathcal L}/N$, the
        minibatch's estimate of the full-VB bound per datapoint."""
        model = self.model
        X = self._next_batch()
        eps = model.draw_eps(self.rng, (self.L, len(X), model.n_latent))
        loss, grads, dlogvar = self.loss_and_grads(X, eps)
        bad = self._nonfinite(grads) + [f"{_LOGVAR}{n}" for n in self._nonfinite(dlogvar)]
        if not np.isfinite(loss) or bad:
            raise self._diverged(["gradient" if np.isfinite(loss) else "loss"], bad)
        if self.weight_prior:
            for name, p in model.params.items():
                if name.startswith("enc."):
                    grads[name] = grads[name] + p / len(self.X_train)
        self._update_all(grads, dlogvar)
        self.samples += len(X)
        return -loss

    def _update_all(self, grads, dlogvar):
        """One optimizer step on ``model.params`` and :attr:`theta_logvar` together, by the engine;
        the state is kept in two parts, the model's (``opt_state``) and :attr:`logvar_state`."""
        params = {**self.model.params, **{_LOGVAR + n: a for n, a in self.theta_logvar.items()}}
        grads = {**grads, **{_LOGVAR + n: g for n, g in dlogvar.items()}}
        if self.opt_state is None:
            self.opt_state = self.optimizer.init_state(self.model.params)
        state = {**self.opt_state, **{_LOGVAR + n: s for n, s in self.logvar_state.items()}}
        state = self._engine.update(params, grads, state, 0.0)
        self.opt_state = {n: state[n] for n in self.model.params}
        self.logvar_state = {n: state[_LOGVAR + n] for n in self.theta_logvar}

    def evaluate(self):
        r"""Append and return a :class:`~minivae.training.trainer.Record` of the predictive bound
        $\mathbb E_{q_\phi(\theta)}[\tilde{\mathcal L}(\theta, \phi; x)]$ per datapoint, on the fixed
        training subset and the test set, with ``eval_theta_samples`` draws of $\theta$ and
        ``eval_L`` of $\epsilon$ from generators seeded by the trainer's seed (so evaluating never
        disturbs the training noise)."""
        seed = 0 if self.seed is None else self.seed

        def score(X, stream):
            return float(np.mean(predictive_bound(
                self.model, self.theta_logvar, X, n_theta=self.eval_theta_samples, L=self.eval_L,
                rng=np.random.default_rng([seed, stream]))))

        train = score(self._eval_train, 1)
        test = None if self._eval_test is None else score(self._eval_test, 2)
        return self._record(train, test)
