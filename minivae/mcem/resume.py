"""Save and continue an MCEM run.

:func:`minivae.checkpoint.save` stores the model, the optimizer state, the minibatch order, the
generator and the history of any :class:`minivae.Trainer`, and :meth:`MCEMTrainer.config`
adds MCEM's settings to the trainer settings it records. What it does not know about are the
chains: :func:`save_mcem` stores them in the same file, as the checkpoint's extra arrays
``chain_z (N, J)`` and ``chain_step_size (N,)``, so that the chains and the rest of the run are
saved as one unit. The checkpoint's ``extra`` metadata gets ``"algorithm": "mcem"``. (Runs saved
before kept the chains beside it, in ``mcem_chains.npz`` with the ``samples`` count they belong
to; :func:`restore_mcem` still reads those.)

:func:`restore_mcem` rebuilds the :class:`MCEMTrainer` from the checkpoint. The optimizer state of
an MCEM run covers the ``dec.*`` parameters only, while :func:`minivae.checkpoint.load` returns a
(possibly empty) entry for every parameter of the model; the restore keeps the ``dec.*`` ones.
"""
from pathlib import Path

import numpy as np

from .. import checkpoint
from .mstep import decoder_params
from .trainer import MCEMTrainer

__all__ = ["CHAINS_FILE", "save_mcem", "restore_mcem"]

CHAINS_FILE = "mcem_chains.npz"


def save_mcem(directory, trainer, extra=None):
    """Write ``trainer`` (an :class:`MCEMTrainer`) and its model to the checkpoint ``directory``.

    Parameters
    ----------
    directory : str or Path
    trainer : MCEMTrainer
    extra : dict, optional, JSON-ready metadata; ``"algorithm"`` is set to ``"mcem"``

    Returns
    -------
    pathlib.Path, the directory
    """
    if not isinstance(trainer, MCEMTrainer):
        raise TypeError(f"save_mcem saves an MCEMTrainer, got {type(trainer).__name__}; "
                        f"use minivae.checkpoint.save for other trainers")
    extra = dict(extra or {})
    if extra.setdefault("algorithm", "mcem") != "mcem":
        raise ValueError(f"extra['algorithm'] is {extra['algorithm']!r}, but this is an MCEM run")
    chains = {"chain_z": trainer.chain_z, "chain_step_size": trainer.chain_step_size}
    directory = checkpoint.save(directory, trainer.model, trainer, extra=extra, arrays=chains)
    (Path(directory) / CHAINS_FILE).unlink(missing_ok=True)   # an older run's, now stale
    return directory


def _load_chains(directory, ckpt):
    if ckpt.arrays:
        return ckpt.arrays
    samples = ckpt.trainer["samples"]
    path = Path(directory) / CHAINS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no MCEM chains at {directory}: neither its {checkpoint.FILE} "
                                f"nor a {CHAINS_FILE} holds them (was the run saved with "
                                f"minivae.mcem.save_mcem?)")
    with np.load(path, allow_pickle=False) as npz:
        chains = {k: npz[k] for k in npz.files}
    if int(chains["samples"]) != samples:
        raise ValueError(f"{path} belongs to a run at {int(chains['samples'])} samples but the "
                         f"checkpoint is at {samples}; the save was interrupted, resume from "
                         f"an earlier copy")
    return chains


def restore_mcem(directory, X_train, X_test=None, callbacks=()):
    """Rebuild the :class:`MCEMTrainer` saved by :func:`save_mcem` in ``directory``.

    The data must be the same as when it was saved; the trainer then continues exactly where
    it stopped: same minibatches, binarization, HMC noise, chains and parameters as an
    uninterrupted run, so the same history bit for bit.
    """
    ckpt = checkpoint.load(directory)
    if ckpt.trainer is None:
        raise ValueError(f"{directory} holds a model without training state; nothing to resume")
    if ckpt.extra.get("algorithm") != "mcem":
        raise ValueError(f"{directory} holds a {ckpt.extra.get('algorithm', 'non-MCEM')!r} run, "
                         f"not an MCEM one; restore it with minivae.checkpoint.restore_trainer "
                         f"or minivae.wakesleep.restore")
    state = ckpt.trainer
    config = dict(state["config"])
    n_train = config.pop("n_train")
    if len(X_train) != n_train:
        raise ValueError(f"the checkpoint was trained on {n_train} rows, got {len(X_train)}")
    chains = _load_chains(directory, ckpt)
    checkpoint.check_opt_state(ckpt, decoder_params(ckpt.model), Path(directory) / checkpoint.FILE)
    trainer = MCEMTrainer(ckpt.model, X_train, X_test, optimizer=ckpt.optimizer,
                          callbacks=callbacks, **config)
    for name in ("chain_z", "chain_step_size"):
        _check_chain(chains, name, getattr(trainer, name), directory)
    trainer.chain_z[...] = chains["chain_z"]
    trainer.chain_step_size[...] = chains["chain_step_size"]
    checkpoint.resume(trainer, ckpt)
    if ckpt.opt_state is not None:   # load() gives every parameter a key; MCEM trains dec.* only
        trainer.opt_state = {name: ckpt.opt_state[name] for name in decoder_params(ckpt.model)}
    return trainer


def _check_chain(chains, name, like, directory):
    path = Path(directory) / checkpoint.FILE
    if name not in chains:
        raise checkpoint.CheckpointError(f"{path}: extra/{name} is missing")
    checkpoint.check_array(chains[name], like, f"extra/{name}", path)
