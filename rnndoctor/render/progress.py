"""Progress on stderr while checks run, so stdout stays clean for the report.

In a terminal (the command line) rich's live bar: the checks done, the running check with its training steps
taken and planned and an estimate of its time left. Without a terminal (a CI log) one line when each check
starts and one when it ends, with its time. In notebooks (the Python API) a tqdm bar.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

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


def in_notebook() -> bool:
    """Whether this runs in a Jupyter (or Colab) kernel: an IPython shell that has a kernel."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


class BarProgress:
    """A tqdm bar (``tqdm.auto``: a widget in notebooks, text elsewhere), one step per check. It draws on
    stderr and needs no terminal, so a notebook shows it where rich's live display would show nothing."""

    def __init__(self, tqdm: Any) -> None:
        self.tqdm = tqdm
        self.bar: Any = None

    def started(self, total: int) -> None:
        self.bar = self.tqdm(total=total, desc="rnndoctor", unit="check", leave=False)

    def check_started(self, name: str, description: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name)

    def check_progress(self, name: str, done: int, planned: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{name} {done}/{planned} steps")

    def check_finished(self, result: CheckResult) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def finished(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def api_progress(wanted: bool | None) -> BarProgress | None:
    """The progress `rnndoctor.diagnose` shows by itself: a tqdm bar in a notebook (``wanted`` None) or
    wherever asked (True), when tqdm is installed (it is not a dependency); nothing otherwise."""
    if wanted is False or (wanted is None and not in_notebook()):
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,import-not-found]
    except ImportError:
        return None
    return BarProgress(tqdm)
