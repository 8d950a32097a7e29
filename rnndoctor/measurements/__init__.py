"""Typed measurements: what the checks publish and the rules' judges read.

Plain dataclasses (numbers, shapes, names), no torch tensors, so a judge can be tested without running a
model. A check builds one, hands it to ``ctx.publish``, and the judges registered for its type decide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class OnDemand(Generic[T]):
    """A further measurement a judge may ask for, taken at most once and only if asked (a forward pass that
    is worth running only when the first numbers look bad)."""

    def __init__(self, measure: Callable[[], T]) -> None:
        self._measure = measure
        self._value: T | None = None
        self.taken = False

    def __call__(self) -> T:
        if not self.taken:
            self._value = self._measure()
            self.taken = True
        return self._value  # type: ignore[return-value]
