"""The RD code catalogue, collected from the rules declared beside the judges that emit them.

Each judge module ends with a ``RULES`` tuple: every code's title, severity, the codes it explains and its
documentation. `rnndoctor rules`, `rnndoctor explain`, the per-code docs pages, the findings' titles and
the cause graph all read them from here.
"""

from __future__ import annotations

import functools
import importlib
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rnndoctor.core.findings import Finding, Severity


@dataclass(frozen=True)
class Wording:
    """Another shape of a rule's finding (the cause differs, so the message or fix differs); an empty message
    or remedy keeps the rule's own."""

    message: str = ""
    remedy: str = ""


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
    checks: tuple[str, ...] = ()
    """The checks whose measurements this rule judges (a check reports exactly the codes that name it)."""
    explains: tuple[str, ...] = ()
    """Codes of symptoms a finding of this rule accounts for when both are present (the cause graph)."""
    message: str = ""
    """The finding's message as a template over its evidence (``{equal_share:.0%}``), for rules that render
    their findings from a structured verdict instead of prose written in the judge."""
    remedy: str = ""
    """The finding's fix, a template over the same evidence."""
    variants: Mapping[str, Wording] = field(default_factory=dict, hash=False)
    """Other shapes of the finding, by name, chosen by the judge with ``verdict(..., variant=name)``."""

    def verdict(
        self,
        evidence: dict[str, Any],
        words: dict[str, Any] | None = None,
        variant: str | None = None,
        **how: Any,
    ) -> Finding:
        """A finding of this rule rendered from ``evidence`` (the measured facts, kept in the report) and
        ``words`` (names and phrases the templates need but the evidence should not carry), in the wording
        named ``variant`` or the rule's own; ``how`` takes severity, confidence, explains and check."""
        from rnndoctor.core.registry import make_finding

        message, remedy = self.message, self.remedy
        if variant is not None:
            wording = self.variants[variant]
            message, remedy = wording.message or message, wording.remedy or remedy
        fields = {**evidence, **(words or {})}
        return make_finding(self.code, message.format(**fields), remedy.format(**fields), evidence, **how)

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
                f"Default severity: **{self.severity.label}** · family: {self.family}"
                + (f" · reported by the {', '.join(f'`{c}`' for c in self.checks)} check" if self.checks else ""),
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


RULE_MODULES = (
    "rnndoctor.core.crashes",
    "rnndoctor.checks.judge_data",
    "rnndoctor.checks.judge_structure",
    "rnndoctor.checks.judge_probes",
    "rnndoctor.checks.judge_alignment",
    "rnndoctor.checks.judge_loss",
    "rnndoctor.checks.judge_gradients",
    "rnndoctor.checks.judge_dynamics",
    "rnndoctor.logs.curves",
)
"""Modules that declare rules (a ``RULES`` tuple beside their judges)."""


def snippet(text: str) -> str:
    """A before/after snippet written indented inside a declaration, stored flush left without blank edges."""
    return textwrap.dedent(text).strip("\n")


@functools.cache
def all_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for name in RULE_MODULES:
        rules.extend(importlib.import_module(name).RULES)
    codes = [rule.code for rule in rules]
    duplicated = sorted({code for code in codes if codes.count(code) > 1})
    if duplicated:
        raise RuntimeError(f"rules declared twice: {duplicated}")
    return tuple(sorted(rules, key=lambda rule: rule.code))


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
