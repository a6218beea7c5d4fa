"""Test configuration shared by the whole suite.

Hypothesis profiles
    ``dev`` (default): 50 examples, no deadline.
    ``ci`` (when ``CI=true``, any case): 25 examples, no deadline, derandomized
    (the same examples every run), failing examples printed as reproduction blobs.
    ``HYPOTHESIS_PROFILE=<name>`` overrides the choice (as does
    ``--hypothesis-profile``).

Slow tests
    Tests marked ``slow`` run by default. ``--skip-slow`` skips them for a quick
    local run, except in CI (``CI=true``), where they always run, on the
    reduced budget chosen by the ``budget`` fixture.

Budget
    The ``budget`` fixture returns ``budget(full, ci)``, which is ``full``
    locally and the smaller ``ci`` in CI. For hypothesis settings, which are
    fixed at import time, import the same function: ``from strategies import budget``.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from strategies import budget as _budget
from strategies import hypothesis_profile, in_ci

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True, print_blob=True)
PROFILE = hypothesis_profile()
settings.load_profile(PROFILE)


def pytest_addoption(parser):
    parser.addoption(
        "--skip-slow",
        action="store_true",
        default=False,
        help="skip tests marked slow (ignored when CI=true: there they run on a reduced budget)",
    )


def pytest_collection_modifyitems(config, items):
    """Skip ``slow`` tests on ``--skip-slow``, but never in CI."""
    if in_ci() or not config.getoption("--skip-slow"):
        return
    skip = pytest.mark.skip(reason="slow test skipped by --skip-slow (always run when CI=true)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


def pytest_report_header(config):
    return f"minivae: hypothesis profile {PROFILE!r}, CI={in_ci()}"


@pytest.fixture(scope="session")
def budget():
    """``budget(full, ci) -> int``: ``full`` locally, ``min(full, ci)`` when ``CI=true``."""
    return _budget
