"""Continue a wake-sleep run saved with :func:`minivae.checkpoint.save`.

A checkpoint does not record the update rule (its trainer settings are the
:class:`minivae.Trainer`'s), so the caller says which one to rebuild: the experiments store it
in the checkpoint's ``extra`` metadata as ``"algorithm"``.
"""
from .. import checkpoint
from .trainer import WakeSleepTrainer

__all__ = ["ALGORITHMS", "restore"]

ALGORITHMS = ("aevb", "wakesleep")
"""The update rules of Fig. 2: Algorithm 1 (AEVB) and wake-sleep."""


def restore(directory, X_train, X_test=None, algorithm="wakesleep", callbacks=()):
    """Rebuild the trainer saved in ``directory``: a :class:`minivae.Trainer` for ``"aevb"``, a
    :class:`WakeSleepTrainer` for ``"wakesleep"``, exactly where it stopped."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    trainer = checkpoint.restore_trainer(directory, X_train, X_test, callbacks)
    return trainer if algorithm == "aevb" else WakeSleepTrainer.from_trainer(trainer)
