r"""Frey Face: 1965 frames of Brendan Frey's face, 28 x 20 grey levels, from ``frey_rawface.mat``.

The MATLAB file holds one uint8 variable ``ff`` of shape (560, 1965): one
image per *column*, each column reshaping to (28, 20) in C order. The loader
returns ``ff.T`` so that rows are images, batch first like everything else in
minivae.

Scaling: $x = \text{pixel}/256$, not $/255$. This is what Kingma's original
code does (``loadmat(...)['ff'].T / 256.``), and it keeps every value strictly
inside $(0, 1)$ (the raw pixels are 8..238, so $x \in [8/256, 238/256]$).
That matters for the paper's Frey Face decoder (Sec. 5): a Gaussian whose
mean is squashed into (0, 1) by a sigmoid, which could reach a target of
exactly 0 or 1 only with infinite logits.

The paper does not publish its train/test split of Frey Face, so minivae
fixes one: see :func:`frey_split_indices`.
"""
from __future__ import annotations

import functools
import os
import zlib
from pathlib import Path

import numpy as np

from .files import DatasetError, check_split, verified_path

FREY_FILE = "frey/frey_rawface.mat"
"""Path of the Frey Face file relative to the data directory."""

FREY_SPLITS = ("all", "train", "test")
"""Valid values of the ``split`` argument of :func:`load_frey`."""

FREY_SPLIT_SEED = 0
"""Seed of the ``numpy.random.default_rng`` permutation that defines the train/test split."""

FREY_N_TEST = 200
"""Number of Frey Face images in the test split; the other 1765 are the training split."""

FREY_IMAGE_SHAPE = (28, 20)
FREY_SCALE = 256.0

# What scipy.io.loadmat raises on damaged input varies with where the damage is
# (seen: MatReadError, OSError, ValueError, TypeError, IndexError).
_LOADMAT_ERRORS = (OSError, EOFError, ValueError, TypeError, LookupError, zlib.error)


def frey_split_indices(n: int = 1965) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fixed Frey Face train/test split.

    ``numpy.random.default_rng(FREY_SPLIT_SEED).permutation(n)`` is drawn;
    its first :data:`FREY_N_TEST` entries are the test set, the rest the
    training set, each sorted back into the original (video) order.

    Parameters
    ----------
    n : int
        Number of images (1965 for the shipped file).

    Returns
    -------
    train_idx : numpy.ndarray, int64, shape (n - FREY_N_TEST,)
    test_idx : numpy.ndarray, int64, shape (FREY_N_TEST,)
        Sorted, disjoint, together ``0..n-1``.
    """
    if n <= FREY_N_TEST:
        raise ValueError(f"need more than {FREY_N_TEST} images to split, got {n}")
    perm = np.random.default_rng(FREY_SPLIT_SEED).permutation(n)
    return np.sort(perm[FREY_N_TEST:]), np.sort(perm[:FREY_N_TEST])


def _loadmat_ff(path: Path) -> np.ndarray:
    """Read variable ``ff`` with scipy; failures become a :class:`DatasetError` naming ``path``."""
    import scipy.io  # here, not at the top: it is a fifth of import minivae's time
    from scipy.io.matlab import MatReadError
    try:
        contents = scipy.io.loadmat(path, variable_names=["ff"])
    except (MatReadError, *_LOADMAT_ERRORS) as exc:
        raise DatasetError(f"{path}: cannot read MATLAB file ({type(exc).__name__}: {exc}); "
                           "the file is corrupted or truncated, reinstall minivae") from exc
    ff = contents.get("ff")
    n_pixels = FREY_IMAGE_SHAPE[0] * FREY_IMAGE_SHAPE[1]
    if not isinstance(ff, np.ndarray) or ff.dtype != np.uint8 or ff.ndim != 2 \
            or ff.shape[0] != n_pixels:
        raise DatasetError(f"{path}: expected a uint8 variable 'ff' of shape ({n_pixels}, N)")
    return ff


@functools.lru_cache(maxsize=4)
def _read_frey_cached(path: str, mtime_ns: int, size: int) -> np.ndarray:
    """Images as rows, uint8 (N, 560), cached per (file, state); read-only."""
    images = np.ascontiguousarray(_loadmat_ff(Path(path)).T)
    images.flags.writeable = False
    return images


def load_frey(split: str = "all", data_dir: str | os.PathLike | None = None) -> np.ndarray:
    r"""Load Frey Face images as values strictly inside $(0, 1)$.

    Parameters
    ----------
    split : {"all", "train", "test"}
        ``"all"``: all 1965 frames in video order. ``"train"`` (1765 frames)
        and ``"test"`` (200 frames): the fixed split of
        :func:`frey_split_indices` (seed :data:`FREY_SPLIT_SEED` = 0,
        :data:`FREY_N_TEST` = 200), each in video order.
    data_dir : str or os.PathLike, optional
        Directory holding ``frey/frey_rawface.mat`` (and optionally
        ``SHA256SUMS``). Default: ``$MINIVAE_DATA_DIR`` or the data shipped
        with the package.

    Returns
    -------
    X : numpy.ndarray, float64, shape (N, 560)
        One image per row, ``pixel / 256`` (as in Kingma's original code, so
        that no value is exactly 0 or 1; the shipped data lies in
        [8/256, 238/256]). Row ``i`` reshapes to ``(28, 20)`` in C order,
        upright. A fresh array on every call.

    Raises
    ------
    ValueError
        If ``split`` is not one of ``"all"``, ``"train"``, ``"test"``.
    DatasetError
        If the file is missing, fails its SHA-256 check or cannot be read as
        the expected MATLAB file. The message names the file.
    """
    check_split(split, FREY_SPLITS)
    path, mtime_ns, size = verified_path(FREY_FILE, data_dir)
    images = _read_frey_cached(str(path), mtime_ns, size)
    if split != "all":
        train_idx, test_idx = frey_split_indices(images.shape[0])
        images = images[train_idx if split == "train" else test_idx]
    return np.divide(images, FREY_SCALE, dtype=np.float64)
