"""The real-code corpus (tests/realworld/): setups written the way widely used public PyTorch code is
written, each folder a healthy config and a broken twin whose first line says what rnndoctor must report.

    # expect: healthy
    # expect: healthy allow: RD210      (a warning that is a true statement about this healthy setup)
    # expect: RD206 also: RD207         (RD207 describes the same bug as honestly)
    # expect: RD302 errors: RD302, RD503, RD507   (every error the broken setup yields: none, or the codes)

Shared by the corpus test and `bench/corpus.py`, which prints the corpus figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "realworld"
HOLDOUT = Path(__file__).resolve().parent / "holdout"
"""Setups written after the detectors were calibrated and scored before any was tuned on them."""
HEADER = re.compile(
    r"^#\s*expect:\s*(healthy|RD\d{3})\b(?:\s+also:\s*([RD\d,\s]+?))?(?:\s+allow:\s*([RD\d,\s]+?))?"
    r"(?:\s+errors:\s*(none|[RD\d,\s]+))?$"
)


@dataclass(frozen=True)
class Case:
    config: Path
    expect: str
    """'healthy' or the code that must come first."""
    also: tuple[str, ...] = ()
    """Codes that honestly describe the same bug and may come first instead."""
    allow: tuple[str, ...] = ()
    """Warnings a healthy setup may draw because they are true (an auxiliary head that gets no gradient)."""
    errors: frozenset[str] = frozenset()
    """Every code the setup yields at error level (a healthy one: none)."""

    @property
    def name(self) -> str:
        return f"{self.config.parents[1].name}/{self.config.parent.name}/{self.config.stem}"

    @property
    def healthy(self) -> bool:
        return self.expect == "healthy"

    def accepts(self, code: str | None) -> bool:
        return code in (self.expect, *self.also)


def cases(corpus: Path = CORPUS) -> list[Case]:
    found = []
    for config in sorted(corpus.glob("*/*.yaml")):
        first = config.read_text(encoding="utf-8").splitlines()[0].strip()
        match = HEADER.match(first)
        if match is None:
            raise ValueError(f"{config}: line 1 must be '# expect: healthy' or '# expect: RDxxx [also: ...]'")
        also, allow, errors = (
            tuple(c.strip() for c in (group or "").split(",") if c.strip() and c.strip() != "none")
            for group in match.groups()[1:]
        )
        if match.group(1) != "healthy" and match.group(4) is None:
            raise ValueError(f"{config}: line 1 must list the broken setup's errors ('errors: RD101, ...' or 'none')")
        found.append(Case(config, match.group(1), also, allow, frozenset(errors)))
    return found


@dataclass
class Outcome:
    case: Case
    codes: list[tuple[str, str]]
    """(code, severity) of every finding, ranked."""
    seconds: float

    @property
    def top(self) -> str | None:
        return self.codes[0][0] if self.codes else None

    @property
    def loud(self) -> list[str]:
        """Codes at warning or error, but for warnings the case allows."""
        return [
            code
            for code, severity in self.codes
            if severity == "error" or (severity == "warning" and code not in self.case.allow)
        ]

    @property
    def errors(self) -> frozenset[str]:
        return frozenset(code for code, severity in self.codes if severity == "error")

    @property
    def passed(self) -> bool:
        if self.case.healthy:
            return not self.loud
        return self.case.accepts(self.top) and self.errors == self.case.errors


def run(case: Case, **options: Any) -> Outcome:
    import time

    from rnndoctor import diagnose

    started = time.perf_counter()
    report = diagnose(case.config, device="cpu", **options)
    codes = [(f.code, f.severity.label) for f in report.findings]
    return Outcome(case, codes, time.perf_counter() - started)
