"""Save and load a model, its optimizer state and its training progress, without pickle.

A checkpoint is a directory holding

* ``checkpoint.npz`` -- every array: parameters as ``param/<name>``, optimizer state as
  ``opt/<name>/<slot>``, and the current epoch's minibatch order as ``perm``;
* ``checkpoint.json`` -- everything else: the model's constructor arguments, the optimizer's
  name and settings, the trainer's settings, samples seen, wall time, the random generator's
  state, the history, and any ``extra`` metadata (e.g. the dataset name).

Both files are written to a temporary name first and then renamed, so an interrupted save
never leaves a half-written checkpoint. Loading uses ``allow_pickle=False``.
"""
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .model import VAE
from .optim import make_optimizer
from .training import Record, Trainer

__all__ = ["FORMAT", "Checkpoint", "save", "load", "restore_trainer"]

FORMAT = "minivae-checkpoint-1"


class Checkpoint(NamedTuple):
    model: VAE
    optimizer: object | None
    opt_state: dict | None
    trainer: dict | None
    extra: dict


def _atomic_write(path, write):
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save(directory, model, trainer=None, extra=None):
    """Write ``model`` (and, if given, the :class:`~minivae.training.Trainer`'s state) to ``directory``.

    Returns
    -------
    pathlib.Path, the directory
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {f"param/{name}": p for name, p in model.params.items()}
    meta = {"format": FORMAT, "model": model.config(), "extra": extra or {}, "trainer": None,
            "optimizer": None}
    if trainer is not None:
        for name, slots in (trainer.opt_state or {}).items():
            arrays.update({f"opt/{name}/{slot}": a for slot, a in slots.items()})
        arrays["perm"] = trainer.perm
        meta["optimizer"] = trainer.optimizer.config()
        meta["trainer"] = {"config": trainer.config(), "samples": trainer.samples,
                           "pos": trainer.pos, "wall_time": trainer.wall_time,
                           "has_opt_state": trainer.opt_state is not None,
                           "rng_state": trainer.rng.bit_generator.state,
                           "history": [asdict(r) for r in trainer.history]}
    def write_npz(path):
        with open(path, "wb") as f:  # a file object, so that savez does not append ".npz"
            np.savez(f, **arrays)

    _atomic_write(directory / "checkpoint.npz", write_npz)
    text = json.dumps(meta, indent=1)
    _atomic_write(directory / "checkpoint.json", lambda p: p.write_text(text))
    return directory


def load(directory):
    """Read a checkpoint written by :func:`save`.

    Returns
    -------
    Checkpoint
        ``model`` with the saved parameters (its own generator, used by ``elbo`` when given no
        ``eps``, restarts from the model's seed; the trainer's generator is restored exactly); ``optimizer``/``opt_state``/``trainer`` are
        ``None`` for a model saved without a trainer.
    """
    directory = Path(directory)
    json_path, npz_path = directory / "checkpoint.json", directory / "checkpoint.npz"
    for path in (json_path, npz_path):
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {directory}: {path.name} is missing")
    meta = json.loads(json_path.read_text())
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{json_path} is not a {FORMAT} file")
    with np.load(npz_path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    model = VAE(**meta["model"])
    for name in model.params:
        model.params[name][...] = arrays[f"param/{name}"]
    optimizer = opt_state = None
    if meta["optimizer"] is not None:
        config = dict(meta["optimizer"])
        optimizer = make_optimizer(config.pop("name"), **config)
        if meta["trainer"]["has_opt_state"]:
            opt_state = {name: {} for name in model.params}
            for key, a in arrays.items():
                if key.startswith("opt/"):
                    _, name, slot = key.split("/")
                    opt_state[name][slot] = a.copy()
    trainer = meta["trainer"]
    if trainer is not None:
        trainer = {**trainer, "perm": arrays["perm"]}
    return Checkpoint(model, optimizer, opt_state, trainer, meta["extra"])


def restore_trainer(directory, X_train, X_test=None, callbacks=()):
    """Rebuild the :class:`~minivae.training.Trainer` saved in ``directory`` to continue training.

    The data must be the same as when it was saved; the trainer then continues exactly where
    it stopped (same minibatch order and noise as an uninterrupted run).
    """
    ckpt = load(directory)
    if ckpt.trainer is None:
        raise ValueError(f"{directory} holds a model without training state; nothing to resume")
    if ckpt.extra.get("algorithm") == "mcem":  # its chains and settings need their own restore
        raise ValueError(f"{directory} holds an MCEM run; restore it with minivae.mcem.restore_mcem")
    state = ckpt.trainer
    config = dict(state["config"])
    n_train = config.pop("n_train")
    if len(X_train) != n_train:
        raise ValueError(f"the checkpoint was trained on {n_train} rows, got {len(X_train)}")
    trainer = Trainer(ckpt.model, X_train, X_test, optimizer=ckpt.optimizer, callbacks=callbacks,
                      **config)
    trainer.opt_state = ckpt.opt_state
    trainer.samples, trainer.pos, trainer.wall_time = state["samples"], state["pos"], state["wall_time"]
    trainer.perm = state["perm"]
    trainer.rng.bit_generator.state = state["rng_state"]
    trainer.history = [Record(**r) for r in state["history"]]
    return trainer
