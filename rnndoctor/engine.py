"""Run the selected checks cheap-first, each inside a time budget, and rank what they find.

A check's crash never stops the run: a crash in the user's code becomes a finding, a crash in a check
itself becomes status ``errored`` with its cause. Between checks the model, optimizer and RNGs are put
back, so every check sees the setup exactly as the user wrote it.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from rnndoctor.crashes import diagnose_crash, unusable_data_finding
from rnndoctor.findings import CheckResult, CheckStatus, Finding, Severity
from rnndoctor.memory import is_out_of_memory, out_of_memory_finding
from rnndoctor.registry import Check, CheckContext, Outcome, SkipCheck, registered_checks
from rnndoctor.resources import PeakMemory
from rnndoctor.rules import codes_matching
from rnndoctor.rules.causes import ESCALATES, explained_by
from rnndoctor.session import CheckTimeout, Session, UnusableData, UserCodeError
from rnndoctor.state import ModelState, seed_everything
from rnndoctor.timeouts import alarm
from rnndoctor.tracebacks import first_line


class ProgressListener(Protocol):
    def started(self, total: int) -> None: ...

    def check_started(self, name: str, description: str) -> None: ...

    def check_finished(self, result: CheckResult) -> None: ...

    def finished(self) -> None: ...


class SilentProgress:
    def started(self, total: int) -> None:
        pass

    def check_started(self, name: str, description: str) -> None:
        pass

    def check_finished(self, result: CheckResult) -> None:
        pass

    def finished(self) -> None:
        pass


@dataclass
class Selection:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    quick: bool = False
    verify: bool = True
    """Whether checks that try the fixes of the findings (``amends``) run."""

    def allowed_codes(self) -> set[str]:
        from rnndoctor.rules import all_rules

        codes = codes_matching(self.select) if self.select else {r.code for r in all_rules()}
        # A crash or unusable data (RD0xx) stops whatever was selected, so it is reported unless ignored.
        codes |= codes_matching(("RD0",))
        return codes - codes_matching(self.ignore)


@dataclass
class Plan:
    checks: list[tuple[type[Check], dict[str, Any]]] = field(default_factory=list)
    allowed: set[str] = field(default_factory=set)


def plan_checks(selection: Selection, check_options: dict[str, dict[str, Any] | None]) -> Plan:
    """The checks to run, cheapest first: enabled, in the profile, and able to report a wanted code."""
    allowed = selection.allowed_codes()
    plan = Plan(allowed=allowed)
    for check in registered_checks():
        # A check from another package is not in the packaged defaults: it runs with its declared ones.
        options = check_options.get(check.name, {option.name: option.default for option in check.options})
        if options is None:
            continue
        if selection.quick and not check.quick:
            continue
        if check.amends and not selection.verify:
            continue
        if not allowed.intersection(check.amended if check.amends else check.codes):
            continue
        plan.checks.append((check, dict(options)))
    return plan


def run_plan(
    session: Session,
    plan: Plan,
    *,
    timeout: float,
    progress: ProgressListener | None = None,
) -> tuple[list[CheckResult], list[Finding], bool]:
    """Run every planned check; returns the results, the findings (unranked) and whether interrupted."""
    listener = progress or SilentProgress()
    results: list[CheckResult] = []
    findings: list[Finding] = []
    interrupted = False
    baseline = ModelState(session.model, session.optimizer)
    session.baseline = baseline
    listener.started(len(plan.checks))
    # A check that amends the others' findings runs once they are all in.
    ordered = sorted(plan.checks, key=lambda entry: entry[0].amends)
    try:
        for check_cls, options in ordered:
            if check_cls.amends:
                findings = _drop_superseded(plan, results, findings)
                if not check_cls.needed([f for f in findings if f.code in plan.allowed]):
                    continue
            listener.check_started(check_cls.name, check_cls.description)
            ctx = CheckContext(session=session, options=options, check_name=check_cls.name, prior=list(findings))
            try:
                result = _run_one(check_cls(), ctx, timeout)
            except KeyboardInterrupt:
                interrupted = True
                results.append(
                    CheckResult(check_cls.name, CheckStatus.ERRORED, detail="interrupted", cost=check_cls.cost)
                )
                break
            finally:
                baseline.restore()
            kept = [f for f in ctx.findings if f.code in plan.allowed]
            for finding in kept:
                finding.check = finding.check or check_cls.name
            if kept and result.status is CheckStatus.PASSED:
                result.status = CheckStatus.FOUND
            left_out = [f.code for f in ctx.findings if f.code not in plan.allowed]
            _note_unreported(result, left_out, "excluded by select/ignore")
            findings.extend(kept)
            results.append(result)
            listener.check_finished(result)
    finally:
        listener.finished()
    return results, _drop_superseded(plan, results, findings), interrupted


def _drop_superseded(plan: Plan, results: list[CheckResult], findings: list[Finding]) -> list[Finding]:
    """A direct measurement (the learning-rate sweep) replaces a cheaper proxy (the size of one update)."""
    completed = {r.name for r in results if r.status in (CheckStatus.PASSED, CheckStatus.FOUND)}
    superseded = {code: check.name for check, _ in plan.checks if check.name in completed for code in check.supersedes}
    kept = [f for f in findings if f.code not in superseded or f.check == superseded[f.code]]
    reporting = {f.check for f in kept}
    for result in results:
        dropped = [f.code for f in findings if f.check == result.name and f not in kept]
        _note_unreported(result, dropped, "superseded by a direct measurement")
        if result.status is CheckStatus.FOUND and result.name not in reporting and result.name != "":
            result.status = CheckStatus.PASSED
    return kept


def _note_unreported(result: CheckResult, codes: list[str], why: str) -> None:
    """A check whose finding is left out of the report says so beside its numbers, so that a status row
    never reads "passed" next to a value that the check judged bad."""
    if codes:
        note = f"{', '.join(dict.fromkeys(codes))} not reported ({why})"
        result.detail = f"{result.detail}; {note}" if result.detail else note


def _run_one(check: Check, ctx: CheckContext, timeout: float) -> CheckResult:
    session = ctx.session
    session.new_phase()
    seed_everything(session.seed)
    passes_before = session.forward_passes, session.backward_passes
    started = time.perf_counter()
    status = CheckStatus.PASSED
    outcome = Outcome()
    baseline = check.baseline_metrics(ctx)
    caught: list[warnings.WarningMessage] = []
    memory = PeakMemory(session.device)
    try:
        with _time_budget(session, timeout), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = check.run(ctx)
    except SkipCheck as exc:
        status, outcome = CheckStatus.SKIPPED, Outcome(detail=str(exc))
    except CheckTimeout:
        status = CheckStatus.ERRORED
        outcome = Outcome(detail=f"stopped after its {timeout:g} s time budget (raise check_timeout to allow more)")
    except UserCodeError as exc:
        if is_out_of_memory(exc.original):
            ctx.findings.append(out_of_memory_finding(session, exc.original, check.name))
        else:
            ctx.findings.append(diagnose_crash(exc.stage, exc.original, check.name))
        status = CheckStatus.FOUND
        outcome = Outcome(
            detail=f"the user's {exc.stage} raised {type(exc.original).__name__}: {first_line(exc.original)}"
        )
    except UnusableData as exc:
        ctx.findings.append(unusable_data_finding(str(exc), check.name, exc.split))
        status = CheckStatus.FOUND
        outcome = Outcome(detail=str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug in a check must not stop the diagnosis
        status = CheckStatus.ERRORED
        outcome = Outcome(detail=f"internal error in check '{check.name}': {type(exc).__name__}: {first_line(exc)}")
    if ctx.findings and status is CheckStatus.PASSED:
        status = CheckStatus.FOUND
    metrics = {**baseline, **outcome.metrics}
    if caught:
        # Warnings torch raised on the user's setup are evidence, not noise for the terminal.
        metrics["warnings"] = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))[:5]
    peak = memory.megabytes()
    if peak is not None:
        metrics["peak_memory_mb"] = round(peak, 1)
    metrics.setdefault("forward_passes", session.forward_passes - passes_before[0])
    metrics.setdefault("backward_passes", session.backward_passes - passes_before[1])
    return CheckResult(check.name, status, time.perf_counter() - started, outcome.detail, metrics, check.cost)


@contextlib.contextmanager
def _time_budget(session: Session, seconds: float) -> Iterator[None]:
    """Stop the check after ``seconds``: cooperatively at every pass, and by SIGALRM where available
    (which also interrupts a loader stuck in Python code); disarmed before state is restored."""
    session.deadline = time.monotonic() + seconds
    try:
        with alarm(seconds, CheckTimeout):
            yield
    finally:
        session.deadline = None


def corroborate(findings: list[Finding]) -> list[Finding]:
    """Raise a warning to an error when a finding that shows its harm is present (`causes.ESCALATES`) and
    its own fix, where tried, did not fail to help."""
    present = {f.code for f in findings}
    for finding in findings:
        shown = [code for code in ESCALATES.get(finding.code, ()) if code in present]
        # Not when its fix, tried on the model, changed nothing: then the harm shown has another cause.
        if shown and finding.severity < Severity.ERROR and finding.fix_outcome != "no_effect":
            finding.severity = Severity.ERROR
            finding.message += f" Raised to error: {', '.join(shown)} shows the harm on this model."
            finding.evidence["raised_by"] = shown
            finding.explains = tuple(dict.fromkeys(explained_by(finding.code, True) + finding.explains))
    return findings


def rank(findings: list[Finding], costs: dict[str, int] | None = None) -> list[Finding]:
    """Order findings as a diagnosis: each root cause (a finding no other present finding explains),
    worst severity, most confident and cheapest first, followed by the symptoms it explains; a crash-
    derived finding gives way to a measured one of the same code."""
    costs = costs or {}
    measured = {f.code for f in findings if not f.from_crash}
    unique: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for finding in findings:
        identity = (finding.code, finding.message if not finding.from_crash else "")
        if (finding.from_crash and finding.code in measured) or identity in seen:
            continue
        seen.add(identity)
        unique.append(finding)
    present = {f.code for f in unique}

    tiers = {"improved": 2, "untried": 1, "no_effect": 0}

    def order(f: Finding) -> tuple[Any, ...]:
        # A cause whose fix was shown to restore learning outranks any unverified one, the biggest effect
        # first; one whose fix changed nothing where learning was broken goes after the untried ones.
        outcome = f.fix_outcome
        severity = Severity.ERROR if outcome == "improved" and f.severity >= Severity.WARNING else f.severity
        effect = float((f.verified or {}).get("effect") or 0.0) if outcome == "improved" else 0.0
        return (-int(severity), -tiers[outcome], -effect, -f.confidence, costs.get(f.check, 0), f.code)

    by_code = {f.code: f for f in unique}

    def refuted(cause: Finding, code: str) -> bool:
        """The verified fixes contradict the claim: the cause's changed nothing, the symptom's helped."""
        return cause.fix_outcome == "no_effect" and by_code[code].fix_outcome == "improved"

    # Evidence may add edges to the static graph (a DAG), so claims can form cycles. Edges are kept from
    # the best-ranked explainer down, and an edge that would close a cycle is dropped: every cycle keeps a
    # root, and it is the finding ranked first.
    edges: dict[str, set[str]] = {}
    for f in sorted(unique, key=order):
        for code in f.explains:
            if code in present and code != f.code and not refuted(f, code) and not _reaches(edges, code, f.code):
                edges.setdefault(f.code, set()).add(code)
    explained = {code for targets in edges.values() for code in targets}

    ranked: list[Finding] = []
    placed: set[int] = set()

    def place(cause: Finding) -> None:
        """The cause's own symptoms right after it, then what those explain and the cause does not."""
        direct = [f for f in unique if f.code in edges.get(cause.code, ()) and id(f) not in placed]
        for symptom in sorted(direct, key=order):
            symptom.explained_by = cause.code
            ranked.append(symptom)
            placed.add(id(symptom))
        for symptom in sorted(direct, key=order):
            place(symptom)

    for root in sorted((f for f in unique if f.code not in explained), key=order):
        ranked.append(root)
        placed.add(id(root))
        place(root)
    ranked.extend(sorted((f for f in unique if id(f) not in placed), key=order))
    return ranked


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    """Whether ``goal`` can be reached from ``start`` along ``edges``."""
    stack, seen = [start], {start}
    while stack:
        code = stack.pop()
        if code == goal:
            return True
        for following in edges.get(code, ()):
            if following not in seen:
                seen.add(following)
                stack.append(following)
    return False
