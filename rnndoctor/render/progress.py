"""Progress on stderr while checks run, so stdout stays clean for the report.

In a terminal a live bar: the checks done, the running check with its training steps taken and planned and
an estimate of its time left. Without a terminal (a CI log) one line when each check starts and one when it
ends, with its time: a log that shows where a long run is, without a bar's control characters.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from rnndoctor.core.findings import CheckResult


def steps_left(done: int, planned: int, elapsed: float) -> str:
    """``43/100 steps, ~12 s left`` at the pace of the steps taken so far (no estimate before the first)."""
    text = f"{done}/{planned} steps"
    if 0 < done < planned and elapsed > 0:
        left = elapsed / done * (planned - done)
        text += f", ~{_duration(left)} left"
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


class RichProgress:
    """A transient progress bar: one step per check, the running check's name, steps and time left beside it."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]rnndoctor[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task_id: TaskID | None = None
        self.label = ""
        self.check_started_at = 0.0

    def started(self, total: int) -> None:
        self.progress.start()
        self.task_id = self.progress.add_task("starting", total=total)

    def check_started(self, name: str, description: str) -> None:
        self.label = f"{name}: {description}"
        self.check_started_at = time.monotonic()
        if self.task_id is not None:
            self.progress.update(self.task_id, description=escape(self.label))

    def check_progress(self, name: str, done: int, planned: int) -> None:
        if self.task_id is not None and planned:
            where = steps_left(done, planned, time.monotonic() - self.check_started_at)
            self.progress.update(self.task_id, description=escape(f"{self.label} · {where}"))

    def check_finished(self, result: CheckResult) -> None:
        if self.task_id is not None:
            self.progress.advance(self.task_id)

    def finished(self) -> None:
        self.progress.stop()


def live_bar(notebook: bool) -> RichProgress:
    """The live bar of ``diagnose(progress=...)``: under the cell in a notebook, else on stderr."""
    return RichProgress(Console() if notebook else Console(stderr=True))


class LineProgress:
    """One line per check start and end on a stream that is not a terminal (a CI log)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.index = 0

    def _write(self, text: str) -> None:
        self.stream.write(f"rnndoctor: {text}\n")
        self.stream.flush()

    def started(self, total: int) -> None:
        self.total = total

    def check_started(self, name: str, description: str) -> None:
        self.index += 1
        self._write(f"[{self.index}/{self.total}] {name} started: {description}")

    def check_progress(self, name: str, done: int, planned: int) -> None:
        pass

    def check_finished(self, result: CheckResult) -> None:
        steps = result.metrics.get("training_steps")
        trained = f", {steps} training steps" if isinstance(steps, int) and steps else ""
        self._write(
            f"[{self.index}/{self.total}] {result.name} {result.status.value} in {result.seconds:.1f} s{trained}"
        )

    def finished(self) -> None:
        pass
