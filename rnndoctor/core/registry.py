"""The check registry: every check declares its name, the codes it can report, its cost and profile."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rnndoctor.core.catalogue import all_rules, get_rule
from rnndoctor.core.causes import explained_by
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.options import Option

if TYPE_CHECKING:
    from rnndoctor.runtime.session import Session


class SkipCheck(Exception):
    """Raised by a check that cannot run here; the message is the reason shown to the user."""


Judge = Callable[[Any, dict[str, Any]], list[Finding]]
"""A judge of a published measurement: the measurement and the check's options in, findings out."""

_JUDGES: dict[tuple[str, str], list[Judge]] = {}


def judges(check: str, measurement: str) -> Callable[[Judge], Judge]:
    """Register a judge for a measurement a check publishes (``ctx.publish(measurement, value)``): a new rule
    over a measurement that is already published needs its judge module only, not a change to the check.
    The judge's thresholds come from the check's options (declare them there, or read with a default)."""

    def register_judge(function: Judge) -> Judge:
        found = _JUDGES.setdefault((check, measurement), [])
        if function not in found:
            found.append(function)
        return function

    return register_judge


@dataclass
class CheckContext:
    session: Session
    options: dict[str, Any]
    check_name: str
    findings: list[Finding] = field(default_factory=list)
    prior: list[Finding] = field(default_factory=list)
    """What the other checks found (for a check that ``amends`` their findings, empty for the rest)."""

    def publish(self, measurement: str, value: Any) -> None:
        """Hand a measurement to every judge registered for it with `judges` (in registration order)."""
        for judge in _JUDGES.get((self.check_name, measurement), ()):
            self.findings.extend(judge(value, self.options))


def make_finding(
    code: str,
    message: str,
    fix: str,
    evidence: dict[str, Any] | None = None,
    *,
    severity: Severity | None = None,
    confidence: float = 1.0,
    explains: tuple[str, ...] = (),
    check: str = "",
) -> Finding:
    """A finding whose title and default severity come from the rule catalogue."""
    rule = get_rule(code)
    level = rule.severity if severity is None else severity
    return Finding(
        code=rule.code,
        severity=level,
        title=rule.title,
        message=message,
        fix=fix,
        evidence=dict(evidence or {}),
        check=check,
        confidence=confidence,
        explains=tuple(dict.fromkeys(explained_by(rule.code, level is Severity.ERROR) + tuple(explains))),
    )


@dataclass
class Outcome:
    """What a check measured, for the report's ``checks`` section."""

    detail: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


class Check:
    """Base class. A check measures with torch, then judges the numbers with pure functions."""

    name: ClassVar[str]
    codes: ClassVar[tuple[str, ...]]
    """The codes the check reports: the rules that name it in their ``checks`` (set at registration); a check
    from another package whose rules are built in sets it itself."""
    cost: ClassVar[int] = 1
    """Relative cost (roughly forward/backward passes); cheap checks run first."""
    quick: ClassVar[bool] = False
    """Whether the check belongs to the ``--quick`` profile (opt in: only cheap checks that train nothing)."""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    """The check's options with their defaults (`rnndoctor.optgen` writes the defaults file and docs from them)."""
    amends: ClassVar[bool] = False
    """Runs after every other check and adds to their findings (``ctx.prior``) instead of reporting codes."""
    amended: ClassVar[tuple[str, ...]] = ()
    """For a check that ``amends``: the codes whose findings it adds to (it runs only when one is selected)."""
    supersedes: ClassVar[tuple[str, ...]] = ()
    """Codes other checks estimate more cheaply: once this check has run, its verdict replaces theirs."""

    def run(self, ctx: CheckContext) -> Outcome:
        raise NotImplementedError

    @classmethod
    def needed(cls, prior: list[Finding]) -> bool:
        """For a check that ``amends``: whether the findings so far give it anything to do (else it is left
        out of the report, as if not planned)."""
        return True

    def baseline_metrics(self, ctx: CheckContext) -> dict[str, Any]:
        """Metrics the report promises for this check even when it stops early (contract §4)."""
        return {}


_REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    if "codes" not in cls.__dict__:
        cls.codes = tuple(rule.code for rule in all_rules() if cls.name in rule.checks)
    if not cls.codes and not cls.amends:
        raise ValueError(f"check {cls.name!r} reports no code: name it in its rules' `checks` or set `codes`")
    for code in cls.codes:
        get_rule(code)  # an unknown code is a programming error: fail at import time
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"check name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def registered_checks() -> list[type[Check]]:
    _load_builtin_checks()
    return sorted(_REGISTRY.values(), key=lambda c: (c.cost, c.name))


def reported_codes() -> dict[str, str]:
    """Each code that some check can report, mapped to that check's name."""
    return {code: check.name for check in registered_checks() for code in check.codes}


ENTRY_POINT_GROUP = "rnndoctor.checks"
"""Third-party packages register checks here: ``[project.entry-points."rnndoctor.checks"]``
``mycheck = "mypackage.checks"`` (a module whose import registers its checks with `register`, or a Check
subclass, which is registered when loaded)."""

_loaded = False


def _load_builtin_checks() -> None:
    global _loaded
    from rnndoctor import checks

    loader: Callable[[], None] = checks.load_all
    loader()
    if not _loaded:
        _loaded = True
        _load_entry_points()


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            if isinstance(loaded, type) and issubclass(loaded, Check) and loaded.name not in _REGISTRY:
                register(loaded)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the diagnosis
            warnings.warn(f"rnndoctor: cannot load check plugin {entry.name!r} ({entry.value}): {exc}", stacklevel=2)
