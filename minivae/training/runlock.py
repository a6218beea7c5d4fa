"""One writer per run directory.

:func:`lock_run` holds an exclusive ``flock`` on ``DIR/run.lock`` while a run writes to ``DIR``,
so that a second run on the same directory refuses at once (:class:`RunLocked`) instead of both
overwriting each other's checkpoints. The operating system drops the lock when the process ends,
however it ends, so a killed run never leaves the directory locked; the file stays, holding the id
of the last process that locked it. Where ``fcntl`` does not exist (Windows), runs are not locked.
"""
import os
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:   # pragma: no cover - not POSIX
    fcntl = None

__all__ = ["LOCK_FILE", "RunLocked", "lock_run"]

LOCK_FILE = "run.lock"


class RunLocked(RuntimeError):
    """Another process is writing to the run directory."""


def _holder(fd):
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


@contextmanager
def lock_run(directory):
    """Hold the run lock of ``directory`` (created if missing) for the ``with`` block.

    Raises
    ------
    RunLocked
        at once, naming the directory, if another process holds it
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunLocked(f"{directory} is in use by {_holder(fd)}, which is writing a run "
                                f"there; wait for it to end or choose another directory") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield directory
    finally:
        os.close(fd)   # releases the lock
