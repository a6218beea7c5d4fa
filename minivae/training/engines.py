r"""Choosing an engine by name: ``"reference"`` or ``"fused"``.

``"reference"``
    The code a student reads (:class:`minivae.engine.ReferenceEngine`): the readable
    forward/backward pairs and optimizer, nothing else; no Numba.
``"fused"``
    The fast wing (:class:`minivae.fused.engine.FusedEngine`): the estimator-B step fused into
    compiled kernels, the update one kernel over all parameters. It loads Numba on first use.
    Estimator A and latent families without a closed-form KL go through the readable model,
    updated by the kernels.

``Trainer(..., engine=...)``, ``minivae.train(..., engine=...)`` and the command line's
``--engine`` choose; :func:`use_engine` sets the default for a block of code.
"""
import contextlib

from ..engine import ReferenceEngine

__all__ = ["ENGINES", "check_engine", "default_engine", "make_engine", "use_engine"]

ENGINES = ("fused", "reference")
_default = {"name": "fused"}


def default_engine():
    """The engine a :class:`~minivae.Trainer` or an evaluation uses when given none: ``"fused"``,
    unless :func:`use_engine` says otherwise (the command line's ``--engine`` does)."""
    return _default["name"]


@contextlib.contextmanager
def use_engine(name):
    """Make ``name`` the default engine inside a ``with`` block."""
    before, _default["name"] = _default["name"], check_engine(name)
    try:
        yield
    finally:
        _default["name"] = before


def check_engine(name):
    """``name`` if it names an engine, else ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(map(repr, ENGINES))}")
    return name


def make_engine(name, model, optimizer=None):
    """The engine called ``name`` (:data:`ENGINES`; ``None``: :func:`default_engine`) for
    ``model`` and ``optimizer``."""
    if check_engine(default_engine() if name is None else name) == "reference":
        return ReferenceEngine(model, optimizer)
    from ..fused.engine import FusedEngine  # the fast wing, and Numba, load on first use
    return FusedEngine(model, optimizer)
