"""Turn an exception raised by the user's code into the finding that explains it.

The error message torch gives is usually precise but phrased for torch developers; the finding names
the cause in the user's terms and keeps the original message as evidence.
"""

from __future__ import annotations

from rnndoctor.core.catalogue import all_rules, get_rule
from rnndoctor.core.findings import Finding
from rnndoctor.core.snippets import attribute
from rnndoctor.runtime.memory import free_cached_memory, largest_fitting_batch
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.shapes import LayerMismatch, find_layer_mismatch, is_shape_error
from rnndoctor.runtime.tracebacks import first_line, user_frame


def diagnose_crash(stage: str, error: BaseException, check: str = "") -> Finding:
    """The finding for a crash of the user's code at ``stage``: the first rule (in code order) whose crash
    signature matches the error, or RD001 quoting it."""
    text = f"{type(error).__name__}: {error}"
    evidence = {"stage": stage, "error": first_line(text), "exception": type(error).__name__, "at": user_frame(error)}
    for rule in all_rules():
        if any(signature.matches(stage, text) for signature in rule.crashes):
            words = {"stage_words": _stage_words(stage)}
            finding = rule.finding(evidence, words, variant="crash", confidence=0.9, check=check)
            finding.from_crash = True
            return finding
    where = f" at {evidence['at']}" if evidence["at"] else ""
    words = {"stage_words": _stage_words(stage), "where": where, "line": where or " that raised"}
    finding = get_rule("RD001").finding(evidence, words, confidence=0.6, check=check)
    finding.from_crash = True
    return finding


def crash_finding(session: Session, stage: str, error: BaseException, check: str = "") -> Finding:
    """`diagnose_crash`, except that a shape mismatch in the forward pass is traced to the layer it happens in
    (and the layer that fed it) by running the first batch again (`runtime.shapes`), once per run."""
    if stage == "forward" and is_shape_error(error):
        key = ("layer mismatch",)
        if key not in session.facts:
            session.facts[key] = find_layer_mismatch(session, session.sample("train").batches[0])
        mismatch = session.facts[key]
        if mismatch is not None:
            return _layer_finding(mismatch, error, check)
    return diagnose_crash(stage, error, check)


def _layer_finding(mismatch: LayerMismatch, error: BaseException, check: str) -> Finding:
    text = f"{type(error).__name__}: {error}"
    evidence = {
        "stage": "forward",
        "layer": mismatch.layer,
        "in_features": mismatch.in_features,
        "received": mismatch.received,
        "producer": mismatch.producer,
        "error": first_line(text),
        "exception": type(error).__name__,
        "at": user_frame(error),
    }
    producer = f": the output of '{mismatch.producer}' ({mismatch.producer_kind})" if mismatch.producer else ""
    words = {
        "stage_words": _stage_words("forward"),
        "out_features": mismatch.out_features,
        "attr": attribute(mismatch.layer),
        "producer_kind": mismatch.producer_kind,
        "hidden_size": mismatch.hidden_size,
        "source": producer,
    }
    doubled = mismatch.bidirectional and mismatch.hidden_size and mismatch.received == 2 * mismatch.hidden_size
    variant = "layer_input_bidirectional" if doubled else "layer_input"
    finding = get_rule("RD001").finding(evidence, words, variant=variant, confidence=0.9, check=check)
    finding.from_crash = True
    return finding


CRASH_HOMES = {
    "forward": "structure",
    "loss": "loss",
    "backward": "gradients",
    "train_step": "training_step",
    "train_data": "inputs",
    "val_data": "leakage",
}
"""The check a crash at each stage belongs under: every check that runs the model meets a broken forward
pass, and the first to do so (the labels check, reading the output size) is not what it is about."""


def file_crashes(findings: list[Finding], details: dict[str, str]) -> list[Finding]:
    """Crash findings moved to the check of their stage (`CRASH_HOMES`) where that check met the same crash
    (its detail, by check name in ``details``, says the user's code raised at that stage)."""
    for finding in findings:
        stage = str(finding.evidence.get("stage"))
        home = CRASH_HOMES.get(stage)
        if finding.from_crash and home is not None and details.get(home, "").startswith(f"the user's {stage} raised"):
            finding.check = home
    return findings


def unusable_data_finding(cause: str, check: str = "", split: str = "train") -> Finding:
    """RD002: the data gives no batch a check could use (the training data: no verdict at all)."""
    variant = None if split == "train" else "validation"
    return get_rule("RD002").finding({"cause": cause, "split": split}, variant=variant, check=check)


def out_of_memory_finding(session: Session, error: BaseException, check: str) -> Finding:
    """RD001 for an out-of-memory error, with the largest halved batch size whose training step fits."""
    free_cached_memory()
    size, fits = largest_fitting_batch(session, session.sample("train").batches[0])
    free_cached_memory()
    words = {
        "check": check,
        "device_type": session.device.type.upper(),
        "where": f" with batches of {size}" if size else "",
        "error": str(error).splitlines()[0][:200],
        "steps": max(1, (size or fits) // fits) if fits else None,
    }
    evidence = {"batch_size": size, "fitting_batch_size": fits, "device": str(session.device)}
    variant = "out_of_memory_smaller_batch" if fits else "out_of_memory"
    return get_rule("RD001").finding(evidence, words, variant=variant, confidence=0.9, check=check)


def _stage_words(stage: str) -> str:
    return {
        "forward": "model's forward pass",
        "loss": "loss function",
        "backward": "backward pass",
        "train_step": "training step",
        "train_data": "training data loader",
        "val_data": "validation data loader",
    }.get(stage, stage.replace("_", " "))
