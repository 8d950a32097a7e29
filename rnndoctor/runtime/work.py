"""How far the running check has got, and what its training may still cost.

The training loops (the sweep, the fits, the short runs, the fix trials) plan their steps in phases; the
engine reads the count to show progress with an estimate of the time left, and to say how far a check
stopped by the safety net had got. Each check also has a work budget in multiply-adds (``max_check_work``):
a training step spends three times its forward work (forward, backward, the gradient of the weights), an
evaluation pass once, and a loop takes no more steps than the budget left affords. Counting steps and
multiply-adds, not seconds, keeps the numbers, and so the verdicts, the same on any machine.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Listener = Callable[[int, int], None]
"""Called with (steps done, steps planned) as a check advances."""

NOTIFY_EVERY = 0.25
"""Seconds between two progress notices (a step of a small model takes a millisecond)."""

TRAINING_STEP = 3.0
"""A training step's work in forward passes: the forward, the backward through the activations, and the
gradient of the weights."""


@dataclass
class Cut:
    """A loop the budget shortened: what it asked for and what it got."""

    loop: str
    asked: int
    given: int


class WorkMeter:
    def __init__(self) -> None:
        self.planned = 0
        self.done = 0
        self.listener: Listener | None = None
        self._notified = 0.0
        self.budget: float | None = None
        self.spent = 0.0
        self.cuts: list[Cut] = []

    def reset(self, listener: Listener | None = None, budget: float | None = None) -> None:
        """A new check starts: nothing planned, done or spent yet."""
        self.planned = self.done = 0
        self.listener = listener
        self._notified = 0.0
        self.budget = budget
        self.spent = 0.0
        self.cuts = []

    def spend(self, work: float) -> None:
        self.spent += work

    def affordable(self, loop: str, steps: int, step_work: float, minimum: int) -> int:
        """The steps of a loop costing ``step_work`` each that the check's budget still pays for: all
        ``steps`` when it can, never fewer than ``minimum`` (a verdict needs that many), and the cut recorded
        for the report."""
        if self.budget is None or step_work <= 0 or steps <= minimum:
            return steps
        left = max(self.budget - self.spent, 0.0)
        given = min(steps, max(minimum, math.floor(left / step_work)))
        if given < steps:
            self.cuts.append(Cut(loop, steps, given))
        return given

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
