"""The RD code catalogue, found by scanning the rules package: one module per rule.

Every module under `rnndoctor.rules` that defines ``RULE`` contributes one code: its title, severity, the
codes it explains, its documentation, its message and fix templates, the options that tune its judge and
the torch errors it explains. The module also holds the rule's judges (`rnndoctor.core.judging`) and its
remedy (`rnndoctor.core.remedies`). The family of a rule is the ``FAMILY`` of the package its module lives
in. Packages named in the ``rnndoctor.rules`` entry-point group are scanned the same way, so another
package can add rules without touching this one.

`rnndoctor rules`, `rnndoctor explain`, the docs pages, the README's catalogue, the findings' titles and the
cause graph all read the catalogue from here.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import textwrap
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from rnndoctor.core.causes import explained_by
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.options import Option

RULES_PACKAGE = "rnndoctor.rules"
ENTRY_POINT_GROUP = "rnndoctor.rules"
"""Another package adds rules here: ``[project.entry-points."rnndoctor.rules"]`` ``mine = "my_package.rules"``
(a package whose modules each define a ``RULE``, scanned like `rnndoctor.rules`)."""


@dataclass(frozen=True)
class Wording:
    """Another shape of a rule's finding (the cause differs, so the message or fix differs); an empty message
    or remedy keeps the rule's own."""

    message: str = ""
    remedy: str = ""


@dataclass(frozen=True)
class CrashSignature:
    """A torch error this rule explains when the user's code raises it at one of ``stages`` (forward, loss,
    backward, train_step): the finding is then the rule's ``crash`` wording, quoting the error."""

    pattern: str
    """A regular expression searched in ``ExceptionType: message``, case-insensitively."""
    stages: tuple[str, ...]

    def matches(self, stage: str, text: str) -> bool:
        return stage in self.stages and re.search(self.pattern, text, re.IGNORECASE) is not None


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
    """The finding's message as a template over its evidence (``{equal_share:.0%}``) and the judge's words."""
    remedy: str = ""
    """The finding's fix, a template over the same evidence."""
    variants: Mapping[str, Wording] = field(default_factory=dict, hash=False)
    """Other shapes of the finding, by name, chosen by the judge with ``finding(..., variant=name)``."""
    options: tuple[Option, ...] = ()
    """Thresholds only this rule's judges read: they join the options of the check that measures for it
    (its first entry in ``checks``), in the config under ``checks: {that_check: {...}}``."""
    crashes: tuple[CrashSignature, ...] = ()
    """Errors of the user's code this rule explains (`rnndoctor.core.crashes`)."""

    def finding(
        self,
        evidence: dict[str, Any],
        words: dict[str, Any] | None = None,
        variant: str | None = None,
        *,
        severity: Severity | None = None,
        confidence: float = 1.0,
        explains: tuple[str, ...] = (),
        check: str = "",
    ) -> Finding:
        """A finding of this rule rendered from ``evidence`` (the measured facts, kept in the report) and
        ``words`` (names and phrases the templates need but the evidence should not carry), in the wording
        named ``variant`` or the rule's own, at the rule's severity unless ``severity`` says otherwise."""
        message, remedy = self.message, self.remedy
        if variant is not None:
            wording = self.variants[variant]
            message, remedy = wording.message or message, wording.remedy or remedy
        fields = {**evidence, **(words or {})}
        level = self.severity if severity is None else severity
        return Finding(
            code=self.code,
            severity=level,
            title=self.title,
            message=message.format(**fields),
            fix=remedy.format(**fields),
            evidence=dict(evidence),
            check=check,
            confidence=confidence,
            explains=tuple(dict.fromkeys(self.explained(level is Severity.ERROR) + tuple(explains))),
        )

    def explained(self, as_error: bool = False) -> tuple[str, ...]:
        """The codes a finding of this rule explains (as an error: also the cross-family ones, `causes`)."""
        return explained_by(self.code, self.explains, as_error)

    @property
    def family(self) -> str:
        return _catalogue().families.get(self.code, "other")

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


def snippet(text: str) -> str:
    """A before/after snippet written indented inside a declaration, stored flush left without blank edges."""
    return textwrap.dedent(text).strip("\n")


@dataclass(frozen=True)
class Family:
    """A package of rules: its name (``FAMILY``), what it finds (``EXAMPLES``) and its rules' codes."""

    name: str
    examples: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class _Catalogue:
    rules: tuple[Rule, ...]
    families: dict[str, str]
    """Each code's family name."""
    packages: dict[str, str]
    """Each family's ``EXAMPLES``, by family name, in the order the families were found."""


def _modules(package: ModuleType) -> Iterator[ModuleType]:
    """The package's modules, sub-packages included, in name order (so the judges register in code order)."""
    yield package
    path = getattr(package, "__path__", None)
    if path is None:
        return
    for info in sorted(pkgutil.iter_modules(path), key=lambda found: found.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if info.ispkg:
            yield from _modules(module)
        else:
            yield module


def rule_packages() -> list[str]:
    """The packages scanned for rules: rnndoctor's own, then those other packages declare."""
    from importlib.metadata import entry_points

    return [RULES_PACKAGE, *(entry.value for entry in entry_points(group=ENTRY_POINT_GROUP))]


@functools.cache
def _catalogue() -> _Catalogue:
    rules: list[Rule] = []
    families: dict[str, str] = {}
    packages: dict[str, str] = {}
    for name in rule_packages():
        try:
            package = importlib.import_module(name)
            modules = list(_modules(package))
        except Exception as exc:
            if name == RULES_PACKAGE:
                raise
            warnings.warn(f"rnndoctor: cannot load the rules of {name!r}: {exc}", stacklevel=2)
            continue
        for module in modules:
            rule = getattr(module, "RULE", None)
            if isinstance(rule, Rule):
                rules.append(rule)
                family = importlib.import_module(module.__name__.rpartition(".")[0] or module.__name__)
                families[rule.code] = str(getattr(family, "FAMILY", "other"))
                packages.setdefault(families[rule.code], str(getattr(family, "EXAMPLES", "")))
    codes = [rule.code for rule in rules]
    duplicated = sorted({code for code in codes if codes.count(code) > 1})
    if duplicated:
        raise RuntimeError(f"rules declared twice: {duplicated}")
    return _Catalogue(tuple(sorted(rules, key=lambda rule: rule.code)), families, packages)


def all_rules() -> tuple[Rule, ...]:
    """Every rule, in code order (importing a rule module registers its judges and remedy)."""
    return _catalogue().rules


def all_families() -> list[Family]:
    """The families in the order of their first code, each with its codes."""
    catalogue = _catalogue()
    codes: dict[str, list[str]] = {}
    for rule in catalogue.rules:
        codes.setdefault(catalogue.families[rule.code], []).append(rule.code)
    return [Family(name, catalogue.packages.get(name, ""), tuple(found)) for name, found in codes.items()]


def get_rule(code: str) -> Rule:
    """Look a code up, case-insensitively; raises KeyError for an unknown code."""
    wanted = code.strip().upper()
    for rule in all_rules():
        if rule.code == wanted:
            return rule
    raise KeyError(code)


def rules_of(check: str) -> tuple[Rule, ...]:
    """The rules whose measurements ``check`` makes (they name it in their ``checks``)."""
    return tuple(rule for rule in all_rules() if check in rule.checks)


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
