"""Locate the shipped data files and verify their SHA-256 checksums.

Every loader in :mod:`minivae.datasets` goes through :func:`verified_path`
before it reads a byte. The first time a file is used in a process its
SHA-256 digest is computed and compared with the expected value; the
``(path, mtime, size, expected digest)`` of a file that passed is remembered,
so later loads only pay for an ``os.stat``.

Expected digests come from ``SHA256SUMS`` in the data directory (the
``sha256sum -c`` format, paths relative to the data directory). If that file
is absent, the constants in :data:`EXPECTED_SHA256` are used; they match the
files shipped with the package.

The data directory is, in order of precedence: the ``data_dir`` argument of a
loader, the environment variable ``MINIVAE_DATA_DIR``, the ``data/`` folder
inside the installed package.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

DATA_DIR_ENV = "MINIVAE_DATA_DIR"
"""Name of the environment variable that overrides the default data directory."""

SUMS_FILE = "SHA256SUMS"
"""Name of the checksum file inside a data directory."""

EXPECTED_SHA256 = {
    "mnist/train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "mnist/t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "frey/frey_rawface.mat":
        "265a83a23adb081755cd3de375509828e690324d1d60f076b8ecebc840d59c64",
}
"""Fallback SHA-256 digests of the shipped files, keyed by path relative to the data dir."""

RESTORE_HINT = (
    "The file is corrupted or truncated. Restore it by reinstalling minivae "
    "(pip install --force-reinstall minivae), or, in a source checkout, with "
    "`git checkout -- minivae/data`."
)

_verified: set[tuple[str, int, int, str]] = set()


class DatasetError(ValueError):
    """A data file is missing, corrupted, truncated or not in the expected format.

    Subclass of :class:`ValueError`; the message always names the file.
    """


def default_data_dir() -> Path:
    """Return the data directory used when a loader gets ``data_dir=None``.

    Returns
    -------
    pathlib.Path
        ``$MINIVAE_DATA_DIR`` if that variable is set and non-empty, else the
        ``data/`` folder shipped inside the ``minivae`` package.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent.parent / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return ``data_dir`` as an absolute path; ``None`` means :func:`default_data_dir`."""
    root = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
    return root.resolve()


def read_sums_file(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum``-format file into ``{relative path: lowercase hex digest}``.

    Parameters
    ----------
    path : pathlib.Path
        The ``SHA256SUMS`` file. Lines look like ``<64 hex digits>  <path>``
        (a ``*`` before the path, binary mode, is accepted); blank lines and
        lines starting with ``#`` are ignored.

    Raises
    ------
    DatasetError
        If a line is malformed.
    """
    sums = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or not _is_hex(digest):
            raise DatasetError(f"{path}:{lineno}: malformed checksum line {line!r}")
        sums[parts[1].strip().lstrip("*")] = digest
    return sums


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def expected_sha256(relpath: str, root: Path) -> str:
    """Expected SHA-256 hex digest of ``root / relpath``.

    Taken from ``root / SHA256SUMS`` if that file exists and lists
    ``relpath``, else from :data:`EXPECTED_SHA256`.

    Raises
    ------
    DatasetError
        If neither source knows the file.
    """
    sums_path = root / SUMS_FILE
    if sums_path.is_file():
        digest = read_sums_file(sums_path).get(relpath)
        if digest is not None:
            return digest
    if relpath in EXPECTED_SHA256:
        return EXPECTED_SHA256[relpath]
    raise DatasetError(f"no expected SHA-256 digest for {root / relpath} "
                       f"(not listed in {sums_path} nor built in)")


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_path(relpath: str, data_dir: str | os.PathLike | None = None
                  ) -> tuple[Path, int, int]:
    """Locate a data file and check its SHA-256 digest (once per process per file state).

    Parameters
    ----------
    relpath : str
        Path relative to the data directory, e.g. ``"mnist/t10k-labels-idx1-ubyte.gz"``.
    data_dir : str or os.PathLike, optional
        Data directory; ``None`` means :func:`default_data_dir`.

    Returns
    -------
    path : pathlib.Path
        Absolute path of the verified file.
    mtime_ns, size : int
        The file's modification time and size when it was verified; loaders
        use ``(path, mtime_ns, size)`` as the key of their decoded-array cache,
        so a file replaced on disk is verified and decoded again.

    Raises
    ------
    DatasetError
        If the file is missing, or its digest differs from the expected one.
    """
    root = resolve_data_dir(data_dir)
    path = root / relpath
    try:
        st = path.stat()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    expected = expected_sha256(relpath, root)
    key = (str(path), st.st_mtime_ns, st.st_size, expected)
    if key not in _verified:
        try:
            actual = sha256_of(path)
        except OSError as exc:
            raise _unreadable(path, exc) from exc
        if actual != expected:
            raise DatasetError(f"SHA-256 mismatch for {path}: expected {expected}, "
                               f"got {actual}. {RESTORE_HINT}")
        _verified.add(key)
    return path, st.st_mtime_ns, st.st_size


def _unreadable(path: Path, exc: OSError) -> DatasetError:
    return DatasetError(f"data file {path} not found or unreadable ({exc.strerror}). "
                        f"Check data_dir / ${DATA_DIR_ENV}, or reinstall minivae.")


def check_split(split: str, valid: tuple[str, ...]) -> str:
    """Return ``split`` if it is one of ``valid``, else raise ValueError listing the options."""
    if not isinstance(split, str) or split not in valid:
        options = ", ".join(map(repr, valid))
        raise ValueError(f"unknown split {split!r}; valid options are {options}")
    return split


def forget_verified() -> None:
    """Forget which files were verified, so the next load hashes them again."""
    _verified.clear()
