"""Files written whole or not at all, and strict JSON.

:func:`replace` writes a file through a temporary name beside it (``<name>.<random>.tmp``, new
for every write): the bytes are flushed and fsynced, the temporary file is renamed over the
target (``os.replace``, atomic on POSIX) and the directory is fsynced. A crash at any instant
therefore leaves the old file or the new one, never a mix. Two processes writing the same file
at once (two ``reproduce fig2`` commands sharing ``OUT``) each write their own temporary file,
and the last rename wins, whole. If writing fails (disk full, read-only directory, ...), the
temporary file is removed, the old file is untouched, and an :class:`OSError` naming the target
is raised. :func:`write_text`, :func:`write_csv` and :func:`write_figure` write text, tables and
plots that way; every table and figure of the experiments goes through them.

:func:`dumps` and :func:`write_json` produce strict JSON (RFC 8259): a NaN or an infinity is an
error, not the ``NaN`` token most JSON readers refuse. :func:`loads` refuses those tokens too.
"""
import csv
import io
import json
import os
import secrets
from pathlib import Path

__all__ = ["replace", "dumps", "loads", "write_json", "write_text", "write_csv", "write_figure"]


def _fsync_directory(directory):
    if os.name != "posix":   # directories cannot be opened for fsync elsewhere
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def replace(path, write):
    """Write ``path`` whole or not at all: ``write(f)`` fills ``f``, a binary file object.

    Raises
    ------
    OSError
        naming ``path``, if it could not be written; the old ``path`` is then unchanged.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            with open(tmp, "xb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _remove(tmp)
            raise
        _fsync_directory(path.parent)
    except OSError as exc:
        message = f"cannot write {path}: {exc.strerror or exc}"
        raise (OSError(message) if exc.errno is None else OSError(exc.errno, message)) from exc


def dumps(obj, what="the data"):
    """``obj`` as strict, indented JSON; ``ValueError`` naming ``what`` if it holds NaN or inf."""
    try:
        return json.dumps(obj, indent=1, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"{what} holds a non-finite number (NaN or inf), which JSON cannot "
                         f"represent: {exc}") from None


def _refuse_constant(token):
    raise ValueError(f"{token} is not valid JSON")


def loads(text):
    """Parse strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` raise ``ValueError``."""
    return json.loads(text, parse_constant=_refuse_constant)


def write_text(path, text):
    """Write the string ``text`` to ``path`` as UTF-8, whole or not at all (:func:`replace`)."""
    data = text.encode()
    replace(path, lambda f: f.write(data))


def write_json(path, obj):
    """Write ``obj`` to ``path`` as strict JSON, whole or not at all."""
    write_text(path, dumps(obj, what=str(path)))


def write_csv(path, rows):
    """Write ``rows`` (the header first) to ``path`` as CSV, whole or not at all."""
    with io.StringIO(newline="") as text:
        csv.writer(text).writerows(rows)
        write_text(path, text.getvalue())


def write_figure(fig, path, **savefig):
    """Save the matplotlib figure ``fig`` to ``path`` (the format from its suffix), whole or not
    at all; ``savefig`` goes to ``fig.savefig``. An unknown or missing suffix raises
    ``ValueError`` before anything is written."""
    fmt = Path(path).suffix.lstrip(".").lower()
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(f"cannot tell a figure format from {str(path)!r}: end it in one of "
                         + ", ".join(f".{s}" for s in sorted(supported)))
    replace(path, lambda f: fig.savefig(f, format=fmt, **savefig))
