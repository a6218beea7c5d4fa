r"""When to evaluate: log-spaced numbers of training samples seen, the x-axis of Fig. 2.

The paper plots the bound against "# training samples evaluated" on a log axis. The grid here is
the same for every budget, $10^{k/5}$ rounded to a whole number of minibatches for
$10^3 \le 10^{k/5} <$ budget, plus the budget itself, so that a run extended to a larger budget
keeps the points it already has.
"""
import numpy as np

from ..validation import check_positive_int

__all__ = ["round_to_batches", "log_schedule"]


def round_to_batches(samples, batch_size):
    """``samples`` rounded up to a whole number of minibatches (a run can only stop there)."""
    batch_size = check_positive_int("batch_size", batch_size)
    return -(-int(samples) // batch_size) * batch_size


def log_schedule(budget, batch_size=100, per_decade=5, start=1000, after=0):
    """Sample counts at which to evaluate a run with ``budget`` training samples.

    Parameters
    ----------
    budget : int, the last point (rounded up to whole minibatches)
    batch_size : int, $M$; every point is a multiple of it
    per_decade : int, points per factor of ten
    start : int, the first grid point
    after : int, drop points at or before this many samples (a resumed run's progress)

    Returns
    -------
    list of int, increasing, ending at the rounded budget (empty if ``after`` reaches it)
    """
    budget = round_to_batches(check_positive_int("budget", budget), batch_size)
    per_decade = check_positive_int("per_decade", per_decade)
    exponents = np.arange(np.log10(start) * per_decade, np.log10(budget) * per_decade) / per_decade
    grid = {max(batch_size, int(round(10.0 ** e / batch_size)) * batch_size) for e in exponents}
    return [s for s in sorted(grid | {budget}) if after < s <= budget]
