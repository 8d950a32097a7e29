"""The check registry: every check declares its name, cost, profile and options; the codes it reports are those
of the rules that name it. The built-in checks are found by scanning `rnndoctor.checks`."""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rnndoctor.core.catalogue import get_rule, rules_of
from rnndoctor.core.findings import Finding
from rnndoctor.core.judging import judge
from rnndoctor.core.options import Option
from rnndoctor.core.snippets import RecurrentLayer

if TYPE_CHECKING:
    from rnndoctor.runtime.session import Session


@dataclass
class CheckContext:
    session: Session
    options: dict[str, Any]
    check_name: str
    findings: list[Finding] = field(default_factory=list)
    prior: list[Finding] = field(default_factory=list)
    """What the other checks found (for a check that ``amends`` their findings, empty for the rest)."""
    codes: tuple[str, ...] = ()
    """The codes the check reports: the judges of these rules see what it publishes."""
    layers: tuple[RecurrentLayer, ...] = ()
    """The model's recurrent layers, which the findings' fix snippets name (`rnndoctor.core.snippets`)."""

    def publish(self, measurement: object) -> list[Finding]:
        """Hand a measurement to every judge registered for its type (`rnndoctor.core.judging`) and keep their
        findings; returns them, for a check that measures more only where nothing is found yet."""
        found = judge(measurement, self.options, self.codes, self.layers)
        for finding in found:
            finding.check = finding.check or self.check_name
        self.findings.extend(found)
        return found


@dataclass
class Outcome:
    """What a check measured, for the report's ``checks`` section."""

    detail: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


class Check:
    """Base class. A check measures with torch and publishes typed measurements; the judges of its rules decide."""

    name: ClassVar[str]
    codes: ClassVar[tuple[str, ...]]
    """The codes the check reports: the rules that name it in their ``checks`` (set at registration); a check
    from another package that reports built-in codes may set it itself."""
    cost: ClassVar[int] = 1
    """Relative cost (roughly forward/backward passes); cheap checks run first."""
    quick: ClassVar[bool] = False
    """Whether the check belongs to the ``--quick`` profile (opt in: only cheap checks that train nothing)."""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    """The check's options with their defaults (`rnndoctor.optgen` writes the defaults file and docs from them)."""
    amends: ClassVar[bool] = False
    """Runs after every other check and adds to their findings (``ctx.prior``) instead of reporting codes."""
    script_only: ClassVar[bool] = False
    """Measures what only a run of the user's training script shows (script mode): left out of other runs."""
    amended: ClassVar[tuple[str, ...]] = ()
    """For a check that ``amends``: the codes whose findings it adds to (it runs only when one is selected)."""
    supersedes: ClassVar[tuple[str, ...]] = ()
    """Codes other checks estimate more cheaply: once this check has run, its verdict replaces theirs."""
    work_option: ClassVar[str | None] = None
    """The option that sets how much the check trains (``steps``, ``epochs``): what to lower when the safety
    net stops it (else ``max_batches``, the run's sample size)."""

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
_DECLARED: dict[str, tuple[tuple[str, ...] | None, tuple[Option, ...]]] = {}
"""Each check's own declarations: its explicit codes (None: derived from the rules) and its own options."""


def register(cls: type[Check]) -> type[Check]:
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"check name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    _DECLARED[cls.name] = (cls.__dict__.get("codes"), tuple(cls.__dict__.get("options", ())))
    _complete(cls)
    return cls


def _complete(cls: type[Check]) -> None:
    """Set the codes a check reports and its options from the rules that name it: a rule brings its own
    thresholds to the first check it names."""
    codes, own = _DECLARED[cls.name]
    rules = rules_of(cls.name)
    cls.codes = codes if codes is not None else tuple(rule.code for rule in rules)
    if not cls.codes and not cls.amends:
        raise ValueError(f"check {cls.name!r} reports no code: name it in its rules' `checks` or set `codes`")
    for code in cls.codes:
        get_rule(code)  # an unknown code is a programming error: fail at import time
    cls.options = own + tuple(o for rule in rules if rule.checks[0] == cls.name for o in rule.options)


def registered_checks() -> list[type[Check]]:
    _load_checks()
    for cls in _REGISTRY.values():
        _complete(cls)
    return sorted(_REGISTRY.values(), key=lambda c: (c.cost, c.name))


def reported_codes() -> dict[str, str]:
    """Each code that some check can report, mapped to that check's name."""
    return {code: check.name for check in registered_checks() for code in check.codes}


CHECKS_PACKAGE = "rnndoctor.checks"
ENTRY_POINT_GROUP = "rnndoctor.checks"
"""Third-party packages register checks here: ``[project.entry-points."rnndoctor.checks"]``
``mycheck = "mypackage.checks"`` (a module whose import registers its checks with `register`, or a Check
subclass, which is registered when loaded)."""

_loaded = False


def _load_checks() -> None:
    """Import every module of the checks package (each registers its checks), then the plugins, once."""
    global _loaded
    if _loaded:
        return
    package = importlib.import_module(CHECKS_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda found: found.name):
        importlib.import_module(f"{CHECKS_PACKAGE}.{info.name}")
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
