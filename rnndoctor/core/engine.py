"""Run the selected checks cheap-first, each inside a time budget (`rnndoctor.core.ranking` orders what they find).

A check's crash never stops the run: a crash in the user's code becomes a finding, a crash in a check
itself becomes status ``errored`` with its cause. Between checks the model, optimizer and RNGs are put
back, so every check sees the setup exactly as the user wrote it.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rnndoctor.core.catalogue import codes_matching
from rnndoctor.core.crashes import crash_finding, file_crashes, out_of_memory_finding, unusable_data_finding
from rnndoctor.core.errors import CheckTimeout, SkipCheck, UnusableData, UserCodeError
from rnndoctor.core.findings import CheckResult, CheckStatus, Finding
from rnndoctor.core.progress import ProgressListener, SilentProgress
from rnndoctor.core.registry import Check, CheckContext, Outcome, registered_checks
from rnndoctor.core.snippets import personalize
from rnndoctor.runtime.memory import is_out_of_memory
from rnndoctor.runtime.recurrence import named_layers
from rnndoctor.runtime.resources import PeakMemory
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.state import ModelState, seed_everything
from rnndoctor.runtime.timeouts import alarm
from rnndoctor.runtime.tracebacks import first_line


@dataclass
class Selection:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    quick: bool = False
    verify: bool = True
    """Whether checks that try the fixes of the findings (``amends``) run."""

    def allowed_codes(self) -> set[str]:
        from rnndoctor.core.catalogue import all_rules

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
        # The packaged defaults hold the built-in options; a check or rule from another package brings its own.
        declared = {option.name: option.default for option in check.options}
        configured = check_options.get(check.name, declared)
        if configured is None:
            continue
        options = {**declared, **configured}
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
    layers = tuple(named_layers(session.model))
    # A check that amends the others' findings runs once they are all in; one that measures what only a
    # run of the user's script shows is left out of other runs.
    ordered = sorted(
        (entry for entry in plan.checks if session.script_mode or not entry[0].script_only),
        key=lambda entry: entry[0].amends,
    )
    listener.started(len(ordered))
    try:
        for check_cls, options in ordered:
            if check_cls.amends:
                findings = _drop_superseded(plan, results, findings)
                if not check_cls.needed([f for f in findings if f.code in plan.allowed]):
                    continue
            listener.check_started(check_cls.name, check_cls.description)
            session.work.reset(_progress_of(listener, check_cls.name), session.max_check_work)
            ctx = CheckContext(
                session=session,
                options=options,
                check_name=check_cls.name,
                prior=list(findings),
                codes=check_cls.codes,
                layers=layers,
            )
            try:
                result = _run_one(check_cls(), ctx, timeout)
            except KeyboardInterrupt:
                interrupted = True
                results.append(
                    CheckResult(check_cls.name, CheckStatus.ERRORED, detail="interrupted", cost=check_cls.cost)
                )
                break
            finally:
                session.work.reset()
                baseline.restore()
            personalize(ctx.findings, layers)  # the crash findings (the judges' are filled already)
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
    kept = _drop_superseded(plan, results, findings)
    return results, file_crashes(kept, {r.name: r.detail for r in results}), interrupted


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
    timed_out = False
    memory = PeakMemory(session.device)
    try:
        with _time_budget(session, timeout), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = check.run(ctx)
    except SkipCheck as exc:
        status, outcome = CheckStatus.SKIPPED, Outcome(detail=str(exc))
    except CheckTimeout:
        status = CheckStatus.ERRORED
        timed_out = True
        where = f" at step {session.work.done} of {session.work.planned}" if session.work.planned else ""
        outcome = Outcome(
            detail=f"stopped by the check_timeout safety net after its {timeout:g} s time budget{where}, before a "
            "verdict"
        )
    except UserCodeError as exc:
        if is_out_of_memory(exc.original):
            ctx.findings.append(out_of_memory_finding(session, exc.original, check.name))
        else:
            ctx.findings.append(crash_finding(session, exc.stage, exc.original, check.name))
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
    if session.work.planned:
        metrics.setdefault("training_steps", session.work.done)
    if session.work.cuts:
        cuts = [{"loop": c.loop, "asked": c.asked, "given": c.given} for c in session.work.cuts]
        metrics["work_cuts"] = session.work_cuts[check.name] = cuts
    result = CheckResult(check.name, status, time.perf_counter() - started, outcome.detail, metrics, check.cost)
    if timed_out:
        result.timed_out = True
        result.remedy = timeout_remedy(check, ctx.options, timeout, session.work.done, session.work.planned)
    return result


def timeout_remedy(check: Check, options: dict[str, Any], timeout: float, done: int, planned: int) -> str:
    """What lets a check stopped by the safety net finish: the time its planned steps need at the pace it
    had, or fewer steps (the check's own work option, else the run's sample size)."""
    more = f"raise check_timeout (now {timeout:g} s)"
    if 0 < done < planned:
        more += f" to about {math.ceil(timeout * planned / done * 1.1):g} s ({done} of {planned} steps taken)"
    option = check.work_option
    if option and isinstance(options.get(option), (int, float)) and not isinstance(options.get(option), bool):
        fewer = f"checks.{check.name}.{option} (now {options[option]:g})"
    else:
        fewer = "max_batches"
    return f"{more}, or lower {fewer}"


def _progress_of(listener: ProgressListener, name: str) -> Callable[[int, int], None] | None:
    """The session's step counter reports to listeners that show steps (``check_progress``); older
    listeners without it see checks start and end only."""
    report = getattr(listener, "check_progress", None)
    if report is None:
        return None

    def progress(done: int, planned: int) -> None:
        report(name, done, planned)

    return progress


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
