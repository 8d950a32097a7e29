"""Progress on stderr while checks run, so stdout stays clean for the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from rnndoctor.core.findings import CheckResult


class RichProgress:
    """A transient progress bar: one step per check, the running check's name beside it."""

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

    def started(self, total: int) -> None:
        self.progress.start()
        self.task_id = self.progress.add_task("starting", total=total)

    def check_started(self, name: str, description: str) -> None:
        if self.task_id is not None:
            self.progress.update(self.task_id, description=escape(f"{name}: {description}"))

    def check_finished(self, result: CheckResult) -> None:
        if self.task_id is not None:
            self.progress.advance(self.task_id)

    def finished(self) -> None:
        self.progress.stop()
