r"""The IWAE paper's training schedule (Burda, Grosse & Salakhutdinov, ICLR 2016, Sec. 5).

Stage $i = 0, \dots, 7$ trains $3^i$ passes over the training set with Adam at step size
$0.001 \cdot 10^{-i/7}$: 3280 passes in all, $3280 \cdot 60000 \approx 1.97 \cdot 10^8$ samples
on MNIST. A stage ends after a whole number of passes, so with a minibatch size that divides the
training-set size every stage ends on a minibatch boundary.
"""
from typing import NamedTuple

from ..validation import check_positive_int

__all__ = ["N_STAGES", "Stage", "stage_passes", "stage_lr", "stages"]

N_STAGES = 8
"""Stages of the paper's schedule, $i = 0, \\dots, 7$."""


class Stage(NamedTuple):
    """One stage: its index ``i``, passes $3^i$, step size, and the samples seen at its start
    and end (counted from the start of training)."""
    index: int
    passes: int
    lr: float
    start: int
    end: int


def stage_passes(i):
    """$3^i$, the passes over the training set in stage ``i``."""
    return 3 ** i


def stage_lr(i):
    r"""$0.001 \cdot 10^{-i/7}$, Adam's step size in stage ``i``."""
    return 1e-3 * 10.0 ** (-i / 7)


def stages(n_train, n_stages=N_STAGES):
    """The first ``n_stages`` stages of the schedule for a training set of ``n_train`` rows.

    Returns
    -------
    list of :class:`Stage`
    """
    n_train = check_positive_int("n_train", n_train)
    n_stages = check_positive_int("n_stages", n_stages)
    if n_stages > N_STAGES:
        raise ValueError(f"the schedule has {N_STAGES} stages, asked for {n_stages}")
    out, start = [], 0
    for i in range(n_stages):
        end = start + stage_passes(i) * n_train
        out.append(Stage(i, stage_passes(i), stage_lr(i), start, end))
        start = end
    return out
