"""How far the running check has got: the optimizer steps it plans and those it has taken.

The training loops (the sweep, the fits, the short runs, the fix trials) plan their steps in phases; the
engine reads the count to show progress with an estimate of the time left, and to say how far a check
stopped by the safety net had got. Counting steps, not seconds, keeps the numbers the same on any machine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

Listener = Callable[[int, int], None]
"""Called with (steps done, steps planned) as a check advances."""

NOTIFY_EVERY = 0.25
"""Seconds between two progress notices (a step of a small model takes a millisecond)."""


class WorkMeter:
    def __init__(self) -> None:
        self.planned = 0
        self.done = 0
        self.listener: Listener | None = None
        self._notified = 0.0

    def reset(self, listener: Listener | None = None) -> None:
        """A new check starts: nothing planned or done yet."""
        self.planned = self.done = 0
        self.listener = listener
        self._notified = 0.0

    @contextlib.contextmanager
    def phase(self, steps: int) -> Iterator[None]:
        """A loop of at most ``steps`` steps; the steps it leaves untaken (it stopped early: fitted, diverged)
        leave the plan when it ends. A loop cut short by an exception (the safety net) keeps its plan, so the
        report can say how far it got."""
        steps = max(int(steps), 0)
        self.planned += steps
        started = self.done
        self._notify(force=True)
        yield
        self.planned -= max(steps - (self.done - started), 0)
        self._notify(force=True)

    def step(self) -> None:
        self.done += 1
        self.planned = max(self.planned, self.done)
        self._notify()

    def _notify(self, force: bool = False) -> None:
        if self.listener is None:
            return
        now = time.monotonic()
        if force or now - self._notified >= NOTIFY_EVERY:
            self._notified = now
            self.listener(self.done, self.planned)
