r"""The IWAE protocol in PyTorch, to show where a gap to Table 1's 86.76 nats comes from
(optional: PyTorch is not a dependency of minivae, and this module imports it only when run).

Two questions, two kinds of run:

* **Is it our code?** With no choice switched on, PyTorch trains the model of
  :mod:`~minivae.experiments.iwae` on the same protocol: the same start (our Glorot draw for the
  seed), the same schedule, estimator B, Adam with the paper's constants, but gradients by
  autograd instead of by hand and PyTorch's random numbers for minibatches, binarization and
  noise. Its test NLL should match ours within the seed-to-seed spread.
* **Is it the protocol?** Each of the IWAE authors' code's choices (:data:`THEIR_CHOICES`) can be
  switched on, alone or together, and trained on the same shortened schedule.

Every run is evaluated by our evaluator (:func:`~minivae.experiments.iwae.evaluate_stage`, on our
fixed binarization of the test set) after its weights are copied into a :class:`~minivae.VAE`, so
the runs differ in training only.
"""
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..datasets import binarize_fixed
from ..model import VAE
from ..training import atomicfile
from ..training.evaluation import mean_bound
from ..training.progress import format_seconds
from ..training.runlock import lock_run
from .glorot import glorot_uniform
from .iwae import (ADAM, BATCH_SIZE, N_HIDDEN, N_LATENT, PAPER, evaluate_stage, mnist_split,
                   pixel_logits)
from .iwae_schedule import N_STAGES, stages

__all__ = ["THEIR_CHOICES", "TorchSettings", "FAST", "available", "reproduce_iwae_torch",
           "start_params", "torch_bound", "TheirAdam", "to_vae", "format_record", "RESULTS", "NO_TORCH"]

RESULTS = "iwae_torch.json"
NO_TORCH = ("PyTorch is not installed; pip install torch (it is an optional yardstick, not a "
            "dependency of minivae)")

THEIR_CHOICES = {
    "adam": "beta1 = 0.99; second moments start at ones; eps is added to sqrt(v), and the bias "
            "correction sqrt(1 - beta2^t) / (1 - beta1^t) scales the step size; each step uses "
            "the moments from before its own gradient",
    "logsigma": "the encoder's scale head outputs log sigma instead of log sigma^2",
    "outbias": "the decoder's output bias starts at the logit of the training set's mean pixel "
               "intensities, clipped to [0.001, 0.999]",
    "noshuffle": "minibatches are fixed contiguous slices of the training set, in order",
    "sampledkl": "the bound is log p(x|z) + log p(z) - log q(z|x) at the sampled z (the "
                 "k = 1 log weight) instead of estimator B's analytic KL",
}
"""The IWAE authors' code's choices (``yburda/iwae``) where it differs from the paper or from
minivae, by name, as ``--their`` takes them."""


@dataclass(frozen=True)
class TorchSettings:
    """A run: the first ``n_stages`` stages, their code's ``choices``, evaluation with ``k``
    importance samples (after every stage, or with ``only_last`` after the last one only), and
    the data (the first ``n_train`` / ``n_test`` rows; ``None``: all)."""
    n_stages: int = 3
    choices: tuple = ()
    k: int = 500
    seed: int = 0
    dtype: str = "float64"
    threads: int = 1
    only_last: bool = False
    n_train: int | None = None
    n_test: int | None = None


FAST = TorchSettings(n_stages=2, k=20, n_train=1000, n_test=200)
"""``--fast``: 2 stages over 1000 training images, evaluated on 200 test images with k = 20."""


def available():
    """True when PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def start_params(n_input, seed, dtype="float64"):
    """The starting parameters of the IWAE model run by :mod:`~minivae.experiments.iwae` with
    ``seed``: a dict of NumPy arrays, named as :class:`~minivae.VAE` names them."""
    model = VAE(n_input, N_HIDDEN, N_LATENT, decoder="bernoulli", activation="tanh", seed=seed,
                dtype=dtype)
    glorot_uniform(model, np.random.default_rng([seed, 4]))
    return {name: p.copy() for name, p in model.params.items()}


def _mlp(torch, params, prefix, h):
    for i in range(1, len(N_HIDDEN) + 1):
        h = torch.tanh(h @ params[f"{prefix}.W{i}"] + params[f"{prefix}.b{i}"])
    return h


def torch_bound(params, x, eps, choices=()):
    r"""The mean bound per datapoint of the binary minibatch ``x (M, D)`` for one draw of
    ``eps (M, J)``, as a PyTorch scalar that autograd differentiates: estimator B, or with
    ``"sampledkl"`` the log weight $\log p(x|z) + \log p(z) - \log q(z|x)$; the scale head is
    $\log\sigma^2$, or $\log\sigma$ with ``"logsigma"``."""
    import torch
    h = _mlp(torch, params, "enc", x)
    mu = h @ params["enc.W_mu"] + params["enc.b_mu"]
    scale_head = h @ params["enc.W_logvar"] + params["enc.b_logvar"]
    logvar = 2.0 * scale_head if "logsigma" in choices else scale_head
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = _mlp(torch, params, "dec", z) @ params["dec.W_logits"] + params["dec.b_logits"]
    log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    if "sampledkl" in choices:
        # log q(z|x) - log p(z) at the sample; the 2 pi terms cancel
        kl = 0.5 * torch.sum(z * z - eps * eps - logvar)
    else:
        kl = 0.5 * torch.sum(mu * mu + torch.exp(logvar) - 1.0 - logvar)
    return (log_px_z - kl) / x.shape[0]


class TheirAdam:
    """The IWAE authors' code's Adam (``"adam"`` in :data:`THEIR_CHOICES`) on the gradient of
    the loss = -bound (theirs ascends the bound: the same steps, m negated); the step at time t
    uses m and v from before this step's gradient."""

    def __init__(self, params, lr, beta1=0.99, beta2=0.999, epsilon=1e-4):
        import torch
        self.params, self.lr = list(params), lr
        self.beta1, self.beta2, self.epsilon, self.t = beta1, beta2, epsilon, 1
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.ones_like(p) for p in self.params]

    def step(self):
        import torch
        alpha = (self.lr * (1 - self.beta2 ** self.t) ** 0.5 / (1 - self.beta1 ** self.t))
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                p.sub_(alpha * m / (v.sqrt() + self.epsilon))
                m.mul_(self.beta1).add_(p.grad, alpha=1 - self.beta1)
                v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
        self.t += 1

    def state_dict(self):
        """m, v and t, for a checkpoint."""
        return {"m": self.m, "v": self.v, "t": self.t}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`'s m, v and t (in place)."""
        for mine, saved in zip(self.m + self.v, state["m"] + state["v"]):
            mine.copy_(saved)
        self.t = state["t"]


class _PaperAdam:
    """PyTorch's Adam with the paper's constants (its step is minivae's: eps added to the
    square root of the bias-corrected second moment), descending the loss = -bound."""

    def __init__(self, params, lr):
        import torch
        self.opt = torch.optim.Adam(params, lr=lr, betas=(ADAM["beta1"], ADAM["beta2"]),
                                    eps=ADAM["epsilon"])

    @property
    def lr(self):
        return self.opt.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        self.opt.param_groups[0]["lr"] = value

    def step(self):
        self.opt.step()

    def state_dict(self):
        return self.opt.state_dict()

    def load_state_dict(self, state):
        self.opt.load_state_dict(state)


def to_vae(params, choices=(), dtype="float64"):
    """A :class:`~minivae.VAE` holding the PyTorch run's parameters (a log sigma head becomes
    the log sigma^2 head it equals: weights and bias times 2)."""
    model = VAE(params["enc.W1"].shape[0], N_HIDDEN, N_LATENT, decoder="bernoulli",
                activation="tanh", dtype=dtype)
    for name, p in params.items():
        value = p.detach().cpu().numpy().astype(dtype)
        if "logsigma" in choices and name.startswith("enc.") and "_logvar" in name:
            value = 2.0 * value
        model.params[name][...] = value
    return model


def _torch_params(torch, settings, X_train):
    start = start_params(X_train.shape[1], settings.seed, settings.dtype)
    if "outbias" in settings.choices:
        start["dec.b_logits"] = pixel_logits(X_train).astype(settings.dtype)
    return {name: torch.tensor(p, requires_grad=True) for name, p in start.items()}


def _check(settings):
    unknown = sorted(set(settings.choices) - set(THEIR_CHOICES))
    if unknown:
        raise ValueError(f"unknown choices {unknown}; known: {sorted(THEIR_CHOICES)}")
    if not 1 <= settings.n_stages <= N_STAGES:
        raise ValueError(f"n_stages must be 1 to {N_STAGES}, got {settings.n_stages}")
    if not available():
        raise RuntimeError(NO_TORCH)


def _minibatches(torch, N, generator, shuffle):
    order = torch.randperm(N, generator=generator) if shuffle else torch.arange(N)
    for start in range(0, N - BATCH_SIZE + 1, BATCH_SIZE):
        yield order[start:start + BATCH_SIZE]


def _train_stage(torch, state, stage, settings, say, save):
    """Train the passes of ``stage`` not yet done at its step size, calling ``save()`` after
    each; ``state["seconds"]`` and ``state["passes_done"]`` count them."""
    params, data, opt, gen = state["params"], state["data"], state["opt"], state["gen"]
    opt.lr = stage.lr
    last_said = time.perf_counter()
    for done in range(state["passes_done"], stage.passes):
        start = time.perf_counter()
        for rows in _minibatches(torch, len(data), gen, "noshuffle" not in settings.choices):
            x = (torch.rand(rows.shape[0], data.shape[1], generator=gen, dtype=data.dtype)
                 < data[rows]).to(data.dtype)
            eps = torch.randn(rows.shape[0], N_LATENT, generator=gen, dtype=data.dtype)
            for p in params.values():
                p.grad = None
            bound = torch_bound(params, x, eps, settings.choices)
            (-bound).backward()
            opt.step()
        state["seconds"] += time.perf_counter() - start
        state["passes_done"] = done + 1
        save()
        if time.perf_counter() - last_said > 30:
            say(f"   stage {stage.index + 1}: {done + 1}/{stage.passes} passes, minibatch "
                f"bound {float(bound.detach()):.2f}")
            last_said = time.perf_counter()


def _record(state, stage, settings, X_test_bin):
    """The evaluation after ``stage``, with the training time from the start."""
    seconds = state["seconds"]
    model = to_vae(state["params"], settings.choices)
    rng = np.random.default_rng([settings.seed, 3, stage.index])
    return {"stage": stage.index, "passes": stage.passes, "lr": stage.lr, "samples": stage.end,
            "test_elbo": mean_bound(model, X_test_bin, rng=np.random.default_rng(1)),
            **evaluate_stage(model, X_test_bin, settings.k, rng),
            "train_seconds": seconds, "examples_per_second": stage.end / max(seconds, 1e-9)}


def format_record(record):
    """One line summarizing a stage of a PyTorch run."""
    return (f"stage {record['stage'] + 1}: {record['samples']:,} samples, test NLL "
            f"{record['test_nll']:.2f} ± {record['test_nll_stderr']:.2f} (k={record['k']:,}), "
            f"ELBO test {record['test_elbo']:.2f}, active units {record['active_units']}/"
            f"{N_LATENT}; {record['examples_per_second']:,.0f} examples/s, "
            f"{format_seconds(record['eval_seconds'])} to evaluate")


CHECKPOINT = "checkpoint.pt"


def _identity(settings):
    """The settings a resumed run must share (the rest may change between invocations)."""
    keep = asdict(settings)
    keep.pop("threads")
    keep.pop("n_stages")
    return {**keep, "choices": sorted(settings.choices)}


def _save(torch, directory, state, settings):
    """The run's position and state, whole or not at all."""
    blob = {"settings": _identity(settings), "stage": state["stage"],
            "passes_done": state["passes_done"], "seconds": state["seconds"],
            "records": state["records"], "gen": state["gen"].get_state(),
            "params": {name: p.detach() for name, p in state["params"].items()},
            "opt": state["opt"].state_dict()}
    atomicfile.replace(directory / CHECKPOINT, lambda f: torch.save(blob, f))


def _new_state(torch, settings, X_train):
    dtype = getattr(torch, settings.dtype)
    params = _torch_params(torch, settings, X_train)
    opt_class = TheirAdam if "adam" in settings.choices else _PaperAdam
    return {"params": params, "data": torch.tensor(X_train, dtype=dtype),
            "opt": opt_class(params.values(), lr=stages(1)[0].lr),
            "gen": torch.Generator().manual_seed(settings.seed),
            "stage": 0, "passes_done": 0, "seconds": 0.0, "records": []}


def _open_state(torch, directory, settings, X_train, say):
    """A new run's state, or the one ``directory``'s checkpoint holds."""
    state = _new_state(torch, settings, X_train)
    if not (directory / CHECKPOINT).exists():
        return state
    blob = torch.load(directory / CHECKPOINT, weights_only=False)
    if blob["settings"] != _identity(settings):
        raise ValueError(f"{directory} holds an iwae-torch run with other settings "
                         f"({blob['settings']}); run with the same ones or choose another --out")
    with torch.no_grad():
        for name, p in state["params"].items():
            p.copy_(blob["params"][name])
    state["opt"].load_state_dict(blob["opt"])
    state["gen"].set_state(blob["gen"])
    for key in ("stage", "passes_done", "seconds", "records"):
        state[key] = blob[key]
    say(f"resuming at stage {state['stage'] + 1}, {state['passes_done']} passes into it")
    return state


def reproduce_iwae_torch(out, settings=TorchSettings(), quiet=False, stream=None):
    """Train the first ``settings.n_stages`` stages in PyTorch, evaluate after each (or the last
    one only), and write ``out/iwae_torch.json``. The run is saved in ``out/checkpoint.pt``
    after every pass; run again with the same settings to continue where it stopped (bit for
    bit on the same machine; a larger ``n_stages`` extends a finished run).

    Returns
    -------
    dict: what the JSON file holds (``settings``, ``choices`` described, ``stages``)
    """
    _check(settings)
    import torch
    stream = sys.stderr if stream is None else stream
    say = (lambda text: None) if quiet else (lambda text: print(text, file=stream, flush=True))
    directory = Path(out)
    if (directory / RESULTS).exists() and not (directory / CHECKPOINT).exists():
        raise ValueError(f"{directory / RESULTS} exists; choose another --out or remove it")
    torch.set_num_threads(settings.threads)
    X_train, X_test = mnist_split(settings)
    with lock_run(directory):
        state = _open_state(torch, directory, settings, X_train, say)
        X_test_bin = binarize_fixed(X_test).astype(settings.dtype)
        save = lambda: _save(torch, directory, state, settings)  # noqa: E731
        for stage in stages(len(X_train), settings.n_stages)[state["stage"]:]:
            _run_stage(torch, state, stage, settings, X_test_bin, say, save)
    result = {"experiment": "iwae_torch", "paper": PAPER, "torch": torch.__version__,
              "settings": {**asdict(settings), "choices": list(settings.choices)},
              "choices": {c: THEIR_CHOICES[c] for c in settings.choices},
              "stages": [r for r in state["records"] if r["stage"] < settings.n_stages]}
    atomicfile.write_json(directory / RESULTS, result)
    return result


def _run_stage(torch, state, stage, settings, X_test_bin, say, save):
    """Train what is left of ``stage``, evaluate it (unless ``only_last`` skips it) and move
    the state on to the next stage."""
    if state["passes_done"] < stage.passes:
        say(f"== stage {stage.index + 1}: {stage.passes - state['passes_done']:,} passes at lr "
            f"{stage.lr:.3g}")
        _train_stage(torch, state, stage, settings, say, save)
    if not settings.only_last or stage.index == settings.n_stages - 1:
        state["records"].append(_record(state, stage, settings, X_test_bin))
        say(format_record(state["records"][-1]))
    state["stage"], state["passes_done"] = stage.index + 1, 0
    save()
