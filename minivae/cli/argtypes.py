"""Argument types for the command line: counts, step sizes and run directories, with clear errors.

Shared by :mod:`minivae.cli.commands` and :mod:`minivae.cli.reproduce`; counts accept ``1e6`` as well as
``1000000``. :class:`UsageError` marks arguments that parse but cannot run together.
"""
import argparse
import math
from pathlib import Path

__all__ = ["UsageError", "count", "positive_count", "step_size", "open_unit", "run_dir",
           "add_appendix_d_options"]


class UsageError(ValueError):
    """Arguments that each parse but that the command cannot run as asked (exit status 2)."""


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _whole(text, minimum):
    value = _number(text)
    if not (math.isfinite(value) and value >= minimum and value == int(value)):
        raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
    return int(value)


def count(text):
    """A count of at least 0, such as ``1e6`` or ``250000`` (also a seed)."""
    return _whole(text, 0)


def positive_count(text):
    """A count of at least 1, such as ``5000`` or ``1e3``."""
    return _whole(text, 1)


def step_size(text):
    """A positive, finite step size."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"a step size must be a positive number, got {text!r}")
    return value


def open_unit(text):
    """A number strictly between 0 and 1 (a target acceptance rate)."""
    value = _number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number strictly between 0 and 1, got {text!r}")
    return value


def run_dir(text):
    """A directory that exists (a saved run); as a :class:`~pathlib.Path`."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {text}" if not path.exists()
                                         else f"not a directory: {text}")
    return path


def add_appendix_d_options(parser, leapfrog_help="leapfrog steps per HMC move (default 4)"):
    """``--posterior-samples``, ``--leapfrog`` and ``--density``: the settings of the App. D
    estimate of log p(x), with the paper's defaults (App. E: 50 samples, 4 leapfrog steps)."""
    parser.add_argument("--posterior-samples", type=positive_count, default=50,
                        help="HMC samples per image for fitting the density and again for the "
                             "estimate (default 50)")
    parser.add_argument("--leapfrog", type=positive_count, default=4, help=leapfrog_help)
    parser.add_argument("--density", choices=["kde", "gaussian"], default="kde",
                        help="density fitted to the posterior samples (default kde)")


def add_engine_option(p):
    """``--engine fused|reference`` (:mod:`minivae.training.engines`), for the commands that train or evaluate."""
    p.add_argument("--engine", choices=["fused", "reference"],
                   help="fused (default): compiled kernels, fast; reference: the readable "
                        "forward/backward pairs and optimizer a student reads (no Numba, slower). "
                        "In float64 the two agree to round-off. A continued run keeps the engine "
                        "it was started with unless train --resume is given --engine")
