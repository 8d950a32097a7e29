"""A wall-clock limit for code that may block in the user's hands (a factory, a loader, a check).

On POSIX main threads SIGALRM interrupts even a Python loop that never returns to rnndoctor; elsewhere
only the cooperative checkpoints (the session's deadline) apply.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def alarm(seconds: float, make_error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``make_error()`` in this thread once ``seconds`` have passed; disarmed on exit."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    previous: Any = None
    if usable:

        def on_alarm(signum: int, frame: Any) -> None:
            raise make_error()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
