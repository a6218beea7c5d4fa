r"""MNIST: 70000 handwritten digits, 28 x 28 grey levels, read from the shipped IDX files.

The four canonical ``.gz`` files are parsed here with :mod:`gzip` and NumPy,
no third-party loader. The IDX format is big-endian: a 4-byte magic number
(``0x00000803`` for a uint8 3-D array of images, ``0x00000801`` for a uint8
1-D array of labels), one uint32 per dimension, then the raw bytes in C order.

Pixels are returned as grey values $x = \text{pixel}/255 \in [0, 1]$; the
Bernoulli decoder of the paper (App. C.1) needs targets in $[0, 1]$, and
:mod:`minivae.datasets.binarize` turns them into 0/1 samples when wanted.
"""
from __future__ import annotations

import functools
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .files import DatasetError, check_split, verified_path

MNIST_SPLITS = ("train", "test")
"""Valid values of the ``split`` argument of :func:`load_mnist`."""

MNIST_FILES = {
    "train": ("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"),
    "test": ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"),
}
"""Image and label file of each split, relative to the data directory."""

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
IMAGE_SHAPE = (28, 28)


def parse_idx(raw: bytes, magic: int, path: Path | str) -> np.ndarray:
    """Decode the bytes of an uncompressed uint8 IDX file.

    Parameters
    ----------
    raw : bytes
        The whole decompressed file.
    magic : int
        Expected magic number: :data:`IDX_IMAGES_MAGIC` (3 dimensions) or
        :data:`IDX_LABELS_MAGIC` (1 dimension). Its low byte is the number of
        dimensions.
    path : pathlib.Path or str
        File name, used only in error messages.

    Returns
    -------
    numpy.ndarray, uint8, shape (N, 28, 28) or (N,)
        A read-only view of ``raw``.

    Raises
    ------
    DatasetError
        If the magic number is wrong or the payload size does not equal the
        product of the header dimensions.
    """
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DatasetError(f"{path}: IDX file too short for its header "
                           f"({len(raw)} bytes, need {header_size})")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DatasetError(f"{path}: bad IDX magic number 0x{found:08x}, expected 0x{magic:08x}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    payload = len(raw) - header_size
    if payload != int(np.prod(dims)):
        raise DatasetError(f"{path}: IDX header announces shape {dims} = {int(np.prod(dims))} "
                           f"bytes but the file holds {payload} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def _gunzip(path: Path) -> bytes:
    """Decompress a whole ``.gz`` file; a damaged stream raises :class:`DatasetError`."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot decompress ({type(exc).__name__}: {exc}); "
                           "the file is corrupted or truncated, reinstall minivae") from exc


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: str, magic: int, mtime_ns: int, size: int) -> np.ndarray:
    """Decoded IDX array, cached per (file, state); read-only so callers cannot alter the cache."""
    return parse_idx(_gunzip(Path(path)), magic, path)


def _read_idx(relpath: str, magic: int, data_dir) -> np.ndarray:
    path, mtime_ns, size = verified_path(relpath, data_dir)
    return _read_idx_cached(str(path), magic, mtime_ns, size)


def load_mnist(split: str = "train", data_dir: str | os.PathLike | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    r"""Load an MNIST split as grey values in $[0, 1]$ with integer labels.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: the 60000 training images; ``"test"``: the 10000 test
        images (the ``t10k`` files). The order is the order of the files.
    data_dir : str or os.PathLike, optional
        Directory holding ``mnist/*.gz`` (and optionally ``SHA256SUMS``).
        Default: ``$MINIVAE_DATA_DIR`` or the data shipped with the package.

    Returns
    -------
    X : numpy.ndarray, float64, shape (N, 784)
        One image per row, ``pixel / 255``: 0.0 is background, 1.0 full ink.
        Row ``i`` reshapes to ``(28, 28)`` in C order. A fresh array on every
        call; modifying it does not affect later calls.
    y : numpy.ndarray, int64, shape (N,)
        Digit labels 0..9.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``.
    DatasetError
        If a file is missing, fails its SHA-256 check, cannot be decompressed
        or is not a well-formed IDX file. The message names the file.
    """
    check_split(split, MNIST_SPLITS)
    images_file, labels_file = MNIST_FILES[split]
    images = _read_idx(images_file, IDX_IMAGES_MAGIC, data_dir)
    labels = _read_idx(labels_file, IDX_LABELS_MAGIC, data_dir)
    if images.shape[1:] != IMAGE_SHAPE or images.shape[0] != labels.shape[0]:
        raise DatasetError(f"MNIST {split}: images {images.shape} in {images_file} and labels "
                           f"{labels.shape} in {labels_file} do not match "
                           "(expected (N, 28, 28) and (N,))")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"MNIST {split}: {labels_file} holds labels above 9")
    X = np.divide(images.reshape(images.shape[0], -1), 255.0, dtype=np.float64)
    return X, labels.astype(np.int64)
