"""The paper's two datasets and the model settings it uses for each (Sec. 5, App. C)."""
from typing import Callable, NamedTuple

from ..datasets import load_frey, load_mnist

__all__ = ["Preset", "PRESETS", "get_preset"]


class Preset(NamedTuple):
    name: str
    load: Callable  # split -> X (N, D) float64
    decoder: str
    n_hidden: int
    n_latent: int
    lr: float
    image_shape: tuple


PRESETS = {
    "mnist": Preset("mnist", lambda split: load_mnist(split)[0], "bernoulli", 500, 20, 0.02, (28, 28)),
    "frey": Preset("frey", load_frey, "gaussian", 200, 20, 0.02, (28, 20)),
}


def get_preset(name):
    """The :class:`Preset` called ``name`` (``mnist`` or ``frey``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
