"""The vocabulary every layer shares: severity levels, check statuses, the --fail-on thresholds and the exit
codes (contract §1)."""

from __future__ import annotations

import enum

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_SETUP = 2
EXIT_INCOMPLETE = 3
"""A check was stopped by the ``check_timeout`` safety net: what completed is reported, never as a pass
(``--allow-incomplete`` returns the findings' code instead)."""
EXIT_INTERRUPTED = 130


class Severity(enum.IntEnum):
    """Ordered so that ``max()`` over findings gives the worst one."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class CheckStatus(str, enum.Enum):
    PASSED = "passed"
    FOUND = "found"
    SKIPPED = "skipped"
    ERRORED = "errored"


class FailOn(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NEVER = "never"

    def threshold(self) -> Severity | None:
        if self is FailOn.NEVER:
            return None
        return Severity.ERROR if self is FailOn.ERROR else Severity.WARNING


NO_DEVICE = "none"
"""The device of a report that ran no model (`rnndoctor curves` judges a log)."""
REPORT_ONLY = "REPORT ONLY"
"""The verdict of a run whose findings do not count (``--fail-on never``): exit 0, but not a pass."""
