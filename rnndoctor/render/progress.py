"""Progress on stderr while checks run, so stdout stays clean for the report: rich's live bar on a terminal
(the command line), a tqdm bar in notebooks (the Python API)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

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
