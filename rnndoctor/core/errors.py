"""The exceptions that end a check early, shared by the session that raises them and the engine that turns
them into a status or a finding."""

from __future__ import annotations


class SkipCheck(Exception):
    """Raised by a check that cannot run here; the message is the reason shown to the user."""


class CheckTimeout(BaseException):
    """The running check used up its time budget.

    A BaseException, so that an ``except Exception`` in the user's code cannot swallow it.
    """


class UserCodeError(Exception):
    """The user's model, loss, data or step raised; ``stage`` says which."""

    def __init__(self, stage: str, original: BaseException) -> None:
        self.stage = stage
        self.original = original
        super().__init__(f"{stage}: {type(original).__name__}: {original}")


class UnusableData(Exception):
    """The data yields nothing a check can use (no batches, or an unsupported batch layout)."""

    def __init__(self, message: str, split: str = "train") -> None:
        super().__init__(message)
        self.split = split
