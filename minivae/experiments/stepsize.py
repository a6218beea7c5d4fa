"""Choosing Adagrad's global step size the way the paper does (Sec. 5).

"The Adagrad global stepsize parameters were chosen from {0.01, 0.02, 0.1} based on performance
on the training set in the first few iterations." Here every candidate is trained for
``pilot_samples`` samples (a run of :mod:`minivae.experiments.runs`, so the pilot is the first part
of the chosen run and no work is thrown away), and the candidate with the highest train bound at
that point is kept. A candidate whose loss became non-finite is out. The choice and every
candidate's bound are written to ``stepsize.json`` next to the runs and reused on the next call.
"""
import json
from dataclasses import asdict, dataclass, replace

from ..training import atomicfile
from .runs import train_run

__all__ = ["STEP_SIZES", "StepSizeChoice", "choose_step_size"]

STEP_SIZES = (0.01, 0.02, 0.1)
"""The paper's candidates for Adagrad's global step size."""


@dataclass
class StepSizeChoice:
    """The kept step size, the pilot length, and each candidate's train bound (``None``: diverged)."""
    chosen: float
    pilot_samples: int
    train_bound: dict

    def to_dict(self):
        return asdict(self)


def _load(path, step_sizes, pilot_samples):
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved["pilot_samples"] != pilot_samples or sorted(map(float, saved["train_bound"])) != \
            sorted(step_sizes):
        raise ValueError(f"{path} records a step-size pilot of {saved['pilot_samples']:,} samples "
                         f"over {sorted(map(float, saved['train_bound']))}, not {pilot_samples:,} "
                         f"over {sorted(step_sizes)}; use the same --pilot-samples and "
                         f"--step-sizes, or another --out")
    return StepSizeChoice(saved["chosen"], saved["pilot_samples"],
                          {float(k): v for k, v in saved["train_bound"].items()})


def _pilot_bound(result, pilot_samples):
    """The train bound at the end of the pilot; ``None`` if the run diverged before it."""
    record = result.record_at(pilot_samples)
    return None if record is None else record["train_bound"]


def choose_step_size(spec, root, pilot_samples, data, step_sizes=STEP_SIZES, quiet=False,
                     stream=None):
    """Run the pilot of every step size for ``spec`` (its ``lr`` is ignored) and keep the best.

    Parameters
    ----------
    spec : RunSpec, the run whose step size is to be chosen
    root : path, the experiment's output directory
    pilot_samples : int, training samples per candidate (a whole number of minibatches)
    data : Data
    step_sizes : candidates (default the paper's 0.01, 0.02, 0.1)

    Returns
    -------
    StepSizeChoice

    Raises
    ------
    FloatingPointError
        If every candidate diverged during the pilot.
    """
    path = spec.directory(root).parent / "stepsize.json"
    choice = _load(path, step_sizes, pilot_samples)
    if choice is not None:
        return choice
    bounds = {}
    for lr in step_sizes:
        result = train_run(replace(spec, lr=float(lr)), root, pilot_samples, data, quiet, stream)
        bounds[float(lr)] = _pilot_bound(result, pilot_samples)
    finite = {lr: b for lr, b in bounds.items() if b is not None}
    if not finite:
        raise FloatingPointError(f"{spec.label()}: every step size in {list(step_sizes)} diverged "
                                 f"within {pilot_samples:,} samples")
    choice = StepSizeChoice(max(finite, key=finite.get), pilot_samples, bounds)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomicfile.write_json(path, choice.to_dict())
    return choice
