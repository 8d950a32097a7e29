"""Helpers shared by the test modules: a validator for the JSON report (contract §4), the code table
(contract §6) and a tiny, fast, valid project written into a folder."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import yaml

# Contract §6: every code with its title and default severity.
CONTRACT_CODES: dict[str, tuple[str, str]] = {
    "RD101": ("all training targets are one class", "error"),
    "RD102": ("strong class imbalance", "warning"),
    "RD103": ("class ids outside the model's output range", "error"),
    "RD104": ("target dtype or encoding does not fit the loss", "error"),
    "RD105": ("NaN or Inf in inputs or targets", "error"),
    "RD106": ("inputs not normalized (large or disparate feature scales)", "warning"),
    "RD107": ("constant input features", "info"),
    "RD108": ("batches are mostly padding / extreme length spread", "info"),
    "RD109": ("token ids outside the embedding table", "error"),
    "RD110": ("train and validation label distributions differ", "warning"),
    "RD111": ("identical samples in train and validation", "warning"),
    "RD201": ("input feature size differs from the RNN's input_size", "error"),
    "RD202": ("time and batch axes swapped (batch_first mismatch)", "error"),
    "RD203": ("vanilla RNN on long sequences", "warning"),
    "RD204": ("ReLU vanilla RNN without safeguards", "warning"),
    "RD205": ("RNN dropout has no effect with num_layers=1", "info"),
    "RD206": ("output depends on padding positions", "error"),
    "RD207": ("a sample's output depends on other samples in the batch", "error"),
    "RD208": ("recurrent weight scale far from stable", "warning"),
    "RD209": ("saturated activations or gates", "warning"),
    "RD210": ("parameters receive no gradient (detached, frozen, unused)", "error"),
    "RD211": ("bidirectional RNN read out at the last step only", "warning"),
    "RD212": ("hidden state carried across batches without detach", "error"),
    "RD213": ("submodules held in a plain list or dict (parameters unregistered)", "error"),
    "RD214": ("the decoder sees the token it must predict (teacher forcing not shifted)", "error"),
    "RD301": ("regression loss on class-like targets", "error"),
    "RD302": ("probabilities fed to a loss that expects logits", "error"),
    "RD303": ("raw scores fed to a loss that expects probabilities or log-probabilities", "error"),
    "RD304": ("output and target shapes differ (silent broadcasting)", "error"),
    "RD305": ("class axis misplaced for a per-timestep loss", "error"),
    "RD306": ("padding positions counted by the loss", "warning"),
    "RD307": ("loss at initialization far from chance level", "warning"),
    "RD308": ("multi-label loss on single-label one-hot targets", "error"),
    "RD309": ("targets are not aligned with the inputs (equal to them, unshifted, or transposed apart)", "error"),
    "RD401": ("exploding or non-finite gradients", "error"),
    "RD402": ("vanishing gradients across layers", "warning"),
    "RD403": ("gradient vanishes through time", "warning"),
    "RD404": ("gradients accumulate across steps (no zero_grad)", "error"),
    "RD405": ("update-to-weight ratio out of range", "warning"),
    "RD406": ("optimizer steps taken in eval mode", "warning"),
    "RD407": ("gradient clipping runs after `optimizer.step()` (it clips nothing)", "error"),
    "RD501": ("learning rate too low", "error"),
    "RD502": ("learning rate too high", "error"),
    "RD503": ("cannot overfit a single batch", "error"),
    "RD504": ("predictions collapse to one class", "warning"),
    "RD505": ("loss does not move at all", "error"),
    "RD506": ("model ignores its input", "error"),
    "RD507": ("training stays at chance level in the short run", "error"),
    "RD601": ("overfitting: train and validation diverge", "warning"),
}

SEVERITIES = ("error", "warning", "info")
CHECK_STATUSES = ("passed", "found", "skipped", "errored")
REPORT_SCHEMA = "rnndoctor.report/1"


def _declared_codes() -> set[str]:
    from rnndoctor.core.catalogue import all_rules

    return {rule.code for rule in all_rules()}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_report(doc: Any, *, exit_code: int | None = None) -> None:
    """Assert that ``doc`` (a parsed JSON report) has every key and type contract §4 requires.

    With ``exit_code``, also check that ``status`` agrees with it (pass means exit 0).
    """
    assert isinstance(doc, dict), f"the report must be a JSON object, got {type(doc).__name__}"
    required = {"schema", "status", "config", "device", "findings", "checks", "timing"}
    missing = required - set(doc)
    assert not missing, f"report misses keys {sorted(missing)}"
    assert doc["schema"] == REPORT_SCHEMA
    assert doc["status"] in ("fail", "pass"), doc["status"]
    if exit_code is not None:
        assert doc["status"] == ("pass" if exit_code == 0 else "fail"), (doc["status"], exit_code)
    assert doc["config"] is None or isinstance(doc["config"], str)
    assert isinstance(doc["device"], str) and doc["device"]

    assert isinstance(doc["findings"], list)
    for finding in doc["findings"]:
        assert isinstance(finding, dict)
        for key in ("code", "severity", "title", "message", "fix", "evidence", "check"):
            assert key in finding, f"finding misses '{key}': {finding}"
        # The contract's codes, plus those rnndoctor declares itself (more codes are allowed, never fewer).
        assert finding["code"] in CONTRACT_CODES or finding["code"] in _declared_codes(), finding["code"]
        assert finding["severity"] in SEVERITIES, finding["severity"]
        for key in ("title", "message", "fix", "check"):
            assert isinstance(finding[key], str), (key, finding[key])
        assert finding["title"], finding
        assert finding["message"], finding
        assert isinstance(finding["evidence"], dict)

    assert isinstance(doc["checks"], list)
    names = set()
    for check in doc["checks"]:
        assert isinstance(check, dict)
        for key in ("name", "status", "seconds", "detail", "metrics"):
            assert key in check, f"check misses '{key}': {check}"
        assert isinstance(check["name"], str) and check["name"]
        assert check["status"] in CHECK_STATUSES, check["status"]
        assert _is_number(check["seconds"]) and check["seconds"] >= 0
        assert isinstance(check["detail"], str)
        assert isinstance(check["metrics"], dict)
        names.add(check["name"])
        if check["name"] == "lr_sweep" and check["status"] in ("passed", "found"):
            assert "suggested_lr" in check["metrics"] and "configured_lr" in check["metrics"]
            assert check["metrics"]["suggested_lr"] is None or _is_number(check["metrics"]["suggested_lr"])
        if check["name"] == "overfit_batch" and check["status"] in ("passed", "found"):
            for key in ("initial_loss", "final_loss", "steps"):
                assert key in check["metrics"], f"overfit_batch metrics miss '{key}'"
    for finding in doc["findings"]:
        assert finding["check"] in names, f"finding {finding['code']} names unknown check {finding['check']!r}"

    timing = doc["timing"]
    assert isinstance(timing, dict)
    assert _is_number(timing.get("total_seconds")) and timing["total_seconds"] >= 0
    for key in ("forward_passes", "backward_passes"):
        value = timing.get(key)
        assert isinstance(value, int) and not isinstance(value, bool), (key, value)
        assert value >= 0


def parse_report(text: str, *, exit_code: int | None = None) -> dict[str, Any]:
    """Parse one JSON document (the whole of ``text``) and validate it."""
    doc = json.loads(text)
    validate_report(doc, exit_code=exit_code)
    return doc


MODELS_PY = textwrap.dedent(
    '''
    """A tiny LSTM classifier for fast tests."""
    import torch
    from torch import nn


    class TinyClassifier(nn.Module):
        def __init__(self, input_size=3, hidden_size=8, num_classes=2):
            super().__init__()
            self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, num_classes)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])


    def build_model(input_size=3, hidden_size=8, num_classes=2):
        return TinyClassifier(input_size, hidden_size, num_classes)
    '''
)

DATA_PY = textwrap.dedent(
    '''
    """Tiny data: N=8 sequences of T=5 steps with F=3 features, 2 balanced classes."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset


    def tensors(seed=0):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(8, 5, 3, generator=g)
        y = torch.arange(8) % 2
        return x, y


    def train_loader(batch_size=4):
        x, y = tensors(0)
        return DataLoader(TensorDataset(x, y), batch_size=batch_size)


    def val_loader(batch_size=4):
        x, y = tensors(1)
        return DataLoader(TensorDataset(x, y), batch_size=batch_size)
    '''
)

DEFAULT_CONFIG: dict[str, Any] = {
    "model": "models.py:TinyClassifier",
    "model_args": {"input_size": 3, "hidden_size": 8, "num_classes": 2},
    "train_data": "data.py:train_loader",
    "loss": "CrossEntropyLoss",
}


def write_project(
    folder: str | Path,
    config: dict[str, Any] | str | None = None,
    *,
    files: dict[str, str] | None = None,
    config_name: str = "config.yaml",
) -> Path:
    """Write a tiny valid project (models.py, data.py, a config) into ``folder``; return the config's path.

    ``config`` replaces the default config: a mapping (dumped as YAML) or raw YAML text.
    ``files`` adds or replaces files, relative to ``folder`` (text is dedented).
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    contents = {"models.py": MODELS_PY, "data.py": DATA_PY}
    contents.update({name: textwrap.dedent(text) for name, text in (files or {}).items()})
    for name, text in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if config is None:
        config = DEFAULT_CONFIG
    text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
    config_path = root / config_name
    config_path.write_text(textwrap.dedent(text), encoding="utf-8")
    return config_path


def without_timing(doc: dict[str, Any]) -> dict[str, Any]:
    """A JSON report without what depends on the machine's speed or the clock (times, peak memory, start)."""
    doc.pop("timing", None)
    doc.get("meta", {}).pop("started", None)
    for check in doc["checks"]:
        check.pop("seconds", None)
        check["metrics"].pop("peak_memory_mb", None)
    return doc


def judged_all(check: str, measurement: object, **overrides: Any) -> list[Any]:
    """The findings the judges of ``check``'s rules make of ``measurement``, at the packaged default options
    (or ``overrides``): the path a measurement the check publishes takes in a run."""
    from rnndoctor.core.judging import judge
    from rnndoctor.core.registry import registered_checks
    from rnndoctor.setup.config import load_defaults

    codes = {c.name: c.codes for c in registered_checks()}[check]
    options = {**load_defaults()["checks"][check], **overrides}
    return judge(measurement, options, codes)


def judged(check: str, measurement: object, code: str, **overrides: Any) -> list[Any]:
    """The findings of ``code`` among `judged_all`'s."""
    return [f for f in judged_all(check, measurement, **overrides) if f.code == code]


def judged_codes(check: str, measurement: object, **overrides: Any) -> list[str]:
    """The codes of `judged_all`'s findings, in order."""
    return [f.code for f in judged_all(check, measurement, **overrides)]


def make_finding(
    code: str, message: str = "m", fix: str = "f", evidence: dict[str, Any] | None = None, **how: Any
) -> Any:
    """A finding of ``code`` with the rule's title, default severity (unless ``severity=``) and cause edges,
    and a message of the test's own."""
    from rnndoctor.core.catalogue import get_rule
    from rnndoctor.core.findings import Finding, Severity

    rule = get_rule(code)
    severity = how.pop("severity", None) or rule.severity
    return Finding(
        code,
        severity,
        rule.title,
        message,
        fix,
        dict(evidence or {}),
        explains=rule.explained(severity is Severity.ERROR),
        **how,
    )
