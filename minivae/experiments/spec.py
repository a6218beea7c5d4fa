"""What identifies one run of a reproduction, and how every reproduction starts, continues and
saves its runs.

A :class:`RunSpec` names the data, the model, the training algorithm (a key of
:data:`minivae.training.trainer.TRAINERS`: ``"aevb"``, ``"wakesleep"`` or ``"mcem"``), its Adagrad step
size, its seed and evaluation set. The run's checkpoint records all of it: :func:`open_trainer`
restores the run a directory holds (:func:`minivae.training.checkpoint.restore_trainer`, whatever its
algorithm) after checking that it is this spec's, and starts it otherwise, with the paper's
settings (:func:`new_trainer`). Fig. 2 and App. A runs train on the whole training set
(``n_train`` is ``None``); Fig. 3 runs on its first ``n_train`` images.
"""
import json
from dataclasses import dataclass
from pathlib import Path

from ..baselines import mcem, wakesleep  # noqa: F401  (importing them defines their algorithms)
from ..model import VAE
from ..optim import Adagrad
from ..training import checkpoint
from ..training.trainer import TRAINERS
from .presets import get_preset

__all__ = ["BATCH_SIZE", "RunSpec", "new_trainer", "check_matches", "open_trainer", "save_run",
           "read_json"]

BATCH_SIZE = 100
"""$M$, the paper's minibatch size."""


@dataclass(frozen=True)
class RunSpec:
    """What identifies a run: data, architecture, algorithm, step size, seed, evaluation set."""
    dataset: str
    n_latent: int
    n_hidden: int
    algorithm: str
    lr: float
    seed: int = 0
    eval_train_size: int = 10_000
    n_train: int | None = None
    """Train on the first ``n_train`` training images (Fig. 3); ``None``: all of them."""

    def __post_init__(self):
        if self.algorithm not in TRAINERS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of "
                             f"{', '.join(sorted(TRAINERS))}")

    def directory(self, root):
        """``ROOT/<dataset>/J<n_latent>/<algorithm>/lr<lr>``, or for a run on the first
        ``n_train`` images ``ROOT/<dataset>/N<n_train>/<algorithm>``."""
        if self.n_train is not None:
            return Path(root) / self.dataset / f"N{self.n_train}" / self.algorithm
        return Path(root) / self.dataset / f"J{self.n_latent}" / self.algorithm / f"lr{self.lr:g}"

    def label(self):
        if self.n_train is not None:
            return f"N={self.n_train} {self.algorithm}"
        return f"{self.dataset} J={self.n_latent} {self.algorithm} lr={self.lr:g}"


def new_trainer(spec, X_train, X_test, callbacks=(), **settings):
    """A new run of ``spec`` with the paper's settings: M = 100, L = 1, estimator B, the N(0, I)
    weight prior scaled by 1/N, init N(0, 0.01²); ``settings`` go to the algorithm's trainer."""
    model = VAE(X_train.shape[1], spec.n_hidden, spec.n_latent,
                decoder=get_preset(spec.dataset).decoder, seed=spec.seed)
    return TRAINERS[spec.algorithm](
        model, X_train, X_test, optimizer=Adagrad(lr=spec.lr), batch_size=BATCH_SIZE, L=1,
        estimator="B", weight_prior=True, seed=spec.seed, eval_train_size=spec.eval_train_size,
        callbacks=callbacks, **settings)


def _saved(meta):
    """The spec's fields as the checkpoint metadata ``meta`` records them."""
    config = meta["trainer"]["config"]
    return {"dataset": meta["extra"].get("dataset"), "n_latent": meta["model"]["n_latent"],
            "n_hidden": meta["model"]["n_hidden"], "algorithm": meta["algorithm"],
            "lr": meta["optimizer"]["lr"], "seed": config["seed"],
            "eval_train_size": config["eval_train_size"], "n_train": config["n_train"]}


def check_matches(spec, directory):
    """Refuse (``ValueError``) a run in ``directory`` saved with other settings than ``spec``."""
    found = _saved(checkpoint.read_meta(directory))
    wanted = {"dataset": spec.dataset, "n_latent": spec.n_latent, "n_hidden": [spec.n_hidden],
              "algorithm": spec.algorithm, "lr": spec.lr, "seed": spec.seed,
              "eval_train_size": spec.eval_train_size, "n_train": spec.n_train}
    if spec.n_train is None:
        del wanted["n_train"]
    diff = {k: (found[k], wanted[k]) for k in wanted if found[k] != wanted[k]}
    if diff:
        listing = ", ".join(f"{k}: saved {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"{directory} holds a run with other settings ({listing}); "
                         f"choose another --out or the same settings")


def open_trainer(spec, directory, X_train, X_test, callbacks=(), **settings):
    """The run ``spec`` in ``directory``: restored exactly where it stopped if saved there
    (and saved with ``spec``'s settings), else new (:func:`new_trainer`)."""
    if not checkpoint.exists(directory):
        return new_trainer(spec, X_train, X_test, callbacks, **settings)
    check_matches(spec, directory)
    return checkpoint.restore_trainer(directory, X_train, X_test, callbacks,
                                      algorithm=spec.algorithm)


def save_run(trainer, spec, directory, experiment, elapsed):
    """Write the run's checkpoint; its ``extra`` metadata names the dataset, the ``experiment``,
    ``n_train`` (if set) and the seconds ``elapsed`` over all resumes."""
    extra = {"dataset": spec.dataset, "experiment": experiment, "elapsed": elapsed}
    if spec.n_train is not None:
        extra["n_train"] = spec.n_train
    Path(directory).mkdir(parents=True, exist_ok=True)
    checkpoint.save(directory, trainer.model, trainer, extra=extra)


def read_json(path):
    """The JSON in ``path``, or ``None`` if there is no such file."""
    return json.loads(Path(path).read_text()) if Path(path).exists() else None
