"""Ctrl-C held back while one student's result is being recorded.

Recording a result writes the report, the gradebook's rows and formgrader's copy. An interrupt in
the middle of that would leave them disagreeing, or leave SQLAlchemy's session half-flushed, so that
the final commit fails with PendingRollbackError and the instructor sees an internal error instead of
"interrupted". Held back, the interrupt is raised as soon as the student's record is whole.
"""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def held():
    """Run the block whole; a SIGINT that arrives during it is raised, as KeyboardInterrupt, after it.

    Outside the main thread (where Python delivers signals) there is nothing to hold back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if not caught or previous in (signal.SIG_IGN, None):
        return
    if callable(previous):  # Python's default_int_handler raises KeyboardInterrupt
        previous(signal.SIGINT, None)
    else:
        raise KeyboardInterrupt
