"""What a run tells whoever shows its progress (the terminal's live table, a notebook, nothing)."""

from __future__ import annotations

from typing import Protocol

from rnndoctor.core.findings import CheckResult


class ProgressListener(Protocol):
    def started(self, total: int) -> None: ...

    def check_started(self, name: str, description: str) -> None: ...

    def check_finished(self, result: CheckResult) -> None: ...

    def finished(self) -> None: ...


class SilentProgress:
    def started(self, total: int) -> None:
        pass

    def check_started(self, name: str, description: str) -> None:
        pass

    def check_finished(self, result: CheckResult) -> None:
        pass

    def finished(self) -> None:
        pass
