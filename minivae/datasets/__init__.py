"""Datasets of the paper: MNIST and Frey Face, shipped with the package and checksummed.

- :func:`load_mnist` -- grey values ``pixel / 255`` (N, 784) float64 and labels (N,) int64.
- :func:`load_frey` -- grey values ``pixel / 256`` (N, 560) float64, with a fixed train/test split.
- :func:`binarize`, :func:`binarize_fixed` -- Bernoulli samples of grey values
  (modes in :data:`BINARIZATIONS`).

Every file's SHA-256 digest is checked on first use; a bad file raises
:class:`DatasetError` (a ``ValueError``) naming it.
"""
from .binarize import (BINARIZATIONS, FIXED_BINARIZATION_SEED, binarize, binarize_fixed,
                       check_binarization)
from .files import DatasetError
from .frey import FREY_N_TEST, FREY_SPLIT_SEED, load_frey
from .mnist import load_mnist

__all__ = [
    "load_mnist", "load_frey",
    "binarize", "binarize_fixed", "check_binarization", "BINARIZATIONS",
    "DatasetError",
    "FREY_SPLIT_SEED", "FREY_N_TEST", "FIXED_BINARIZATION_SEED",
]
