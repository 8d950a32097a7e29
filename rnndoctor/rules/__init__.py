"""The RD code catalogue: the single source of every code's title, severity and documentation.

`rnndoctor rules`, `rnndoctor explain`, the per-code docs pages and the findings' titles all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnndoctor.findings import Severity


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    severity: Severity
    what: str
    """What the check measures, in one or two sentences."""
    why: str
    """Why the pathology breaks training."""
    symptoms: str
    """What the user sees in their training run."""
    fix: str
    """The change to make, in words."""
    before: str
    """A short code snippet showing the broken pattern."""
    after: str
    """The same snippet, fixed."""

    @property
    def family(self) -> str:
        return _FAMILIES.get(self.code[:3], "other")

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "title": self.title,
            "severity": self.severity.label,
            "family": self.family,
            "what": self.what,
            "why": self.why,
            "symptoms": self.symptoms,
            "fix": self.fix,
            "before": self.before,
            "after": self.after,
        }

    def to_markdown(self) -> str:
        return "\n".join(
            [
                f"# {self.code}: {self.title}",
                "",
                f"Default severity: **{self.severity.label}** · family: {self.family}",
                "",
                "## What it detects",
                "",
                self.what,
                "",
                "## Why it breaks training",
                "",
                self.why,
                "",
                "## What you see",
                "",
                self.symptoms,
                "",
                "## How to fix it",
                "",
                self.fix,
                "",
                "Before:",
                "",
                "```python",
                self.before.rstrip(),
                "```",
                "",
                "After:",
                "",
                "```python",
                self.after.rstrip(),
                "```",
                "",
            ]
        )


_FAMILIES = {
    "RD0": "setup",
    "RD1": "data",
    "RD2": "model structure",
    "RD3": "loss and targets",
    "RD4": "gradients",
    "RD5": "training dynamics",
    "RD6": "generalization",
}


def all_rules() -> tuple[Rule, ...]:
    from rnndoctor.rules.catalogue import RULES

    return RULES


def get_rule(code: str) -> Rule:
    """Look a code up, case-insensitively; raises KeyError for an unknown code."""
    wanted = code.strip().upper()
    for rule in all_rules():
        if rule.code == wanted:
            return rule
    raise KeyError(code)


def unmatched_code(patterns: tuple[str, ...] | list[str]) -> str | None:
    """The first code or prefix that selects no rule at all (a typo such as RD9 or RD3O5), if any."""
    for pattern in patterns:
        if not codes_matching((pattern,)):
            return pattern.strip().upper()
    return None


def code_range() -> str:
    codes = sorted(r.code for r in all_rules())
    return f"{codes[0]}..{codes[-1]}; `rnndoctor rules` lists them"


def codes_matching(patterns: tuple[str, ...] | list[str]) -> set[str]:
    """Codes selected by exact codes or prefixes such as ``RD5``."""
    wanted = [p.strip().upper() for p in patterns]
    return {r.code for r in all_rules() if any(r.code.startswith(p) for p in wanted)}
