"""Ctrl-C as a request to stop between two training steps.

A long run should not die in the middle of a step: :class:`StopRequest` turns the first SIGINT
into a flag (``requested``) that a callback reads after the step, saves, and stops the run. A
second Ctrl-C, or one while the request is not ``armed`` (when there is nothing a stop could
save), raises :class:`KeyboardInterrupt` at once. Used as a context manager it installs its
handler for the ``with`` block (in the main thread only, where Python delivers signals) and puts
the previous one back.
"""
import signal
import threading

__all__ = ["StopRequest"]


class StopRequest:
    """``requested``: a Ctrl-C asked to stop; ``armed``: a request may wait for the step to end."""

    def __init__(self):
        self.requested = False
        self.armed = True
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._ask)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _ask(self, signum, frame):
        if self.requested or not self.armed:
            raise KeyboardInterrupt
        self.requested = True
