"""Judges: pure functions from one published measurement (and the options) to findings.

A rule module registers its judges with `judges`; a check publishes what it measured with
``ctx.publish(measurement)``, and `judge` hands the measurement to every judge registered for its type whose
rule the publisher reports. Checks never call judges, and judges never run torch: a threshold then gets a
fast unit test, and a new rule over a measurement already published needs its own module only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rnndoctor.core.catalogue import Rule, all_rules
from rnndoctor.core.findings import Finding
from rnndoctor.core.snippets import RecurrentLayer, personalize

M = TypeVar("M")
Judge = Callable[[M, Mapping[str, Any]], list[Finding]]
"""A judge: the measurement and the publishing check's options in, findings out."""


@dataclass(frozen=True)
class _Entry:
    code: str
    measurement: type
    function: Callable[[Any, Mapping[str, Any]], list[Finding]]
    alone: bool


_JUDGES: list[_Entry] = []


def judges(rule: Rule, measurement: type[M], *, alone: bool = False) -> Callable[[Judge[M]], Judge[M]]:
    """Register a judge of ``rule`` for every published measurement of type ``measurement``. An ``alone``
    judge speaks only when no other judge of the same measurement found anything (a symptom that the others'
    findings would explain, such as an initial loss far from chance)."""

    def register(function: Judge[M]) -> Judge[M]:
        entry = _Entry(rule.code, measurement, function, alone)
        if entry not in _JUDGES:
            _JUDGES.append(entry)
        return function

    return register


def judge(
    measurement: object,
    options: Mapping[str, Any],
    codes: Collection[str],
    layers: Sequence[RecurrentLayer] = (),
) -> list[Finding]:
    """Every finding the judges of ``codes`` make of ``measurement``, in rule order; ``alone`` judges last and
    only when the others found nothing. Their fix snippets name the model's recurrent ``layers`` (the generic
    ``self.rnn`` without them: `rnndoctor.core.snippets`)."""
    all_rules()  # importing the rule modules registers their judges
    wanted = sorted(
        (e for e in _JUDGES if e.code in codes and isinstance(measurement, e.measurement)), key=lambda e: e.code
    )
    found = [f for e in wanted if not e.alone for f in e.function(measurement, options)]
    if not found:
        found = [f for e in wanted if e.alone for f in e.function(measurement, options)]
    personalize(found, layers)
    return found


def judged_types() -> dict[type, list[str]]:
    """Each measurement type with the codes judged on it (for the docs and the extension guide's tests)."""
    all_rules()
    table: dict[type, list[str]] = {}
    for entry in _JUDGES:
        table.setdefault(entry.measurement, []).append(entry.code)
    return table
