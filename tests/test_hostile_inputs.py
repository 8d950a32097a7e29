"""Hostile inputs: every one ends in a clear setup error (exit 2 / `SetupError`) or in a report whose findings or
skipped checks name the cause; never a raw traceback, a hang, or a crash of the tool itself.

Each test states the expected behaviour; the battery found (and now guards) bugs such as unbounded error
messages on alias bombs, NaN timeouts, overflowing seeds and user code calling sys.exit().
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from rnndoctor.api import diagnose
from rnndoctor.cli import cli
from rnndoctor.core.findings import Report
from rnndoctor.render import Format, render
from rnndoctor.runtime.batches import Batch, BatchFormatError, unpack
from rnndoctor.setup.config import VALID_KEYS, Config, _NumberFriendlyLoader, build_config, load_config
from rnndoctor.setup.errors import ConfigError, SetupError
from tests import setups
from tests.helpers import DEFAULT_CONFIG, validate_report, write_project

pytestmark = pytest.mark.slow  # subprocesses and hypothesis

MAX_MESSAGE_CHARS = 2000
"""A setup error is a one- or two-line message for a person; anything longer quotes far too much."""

HOSTILE_PY = """
    import math
    import sys
    import time

    import torch
    from torch import nn


    def model_none():
        return None


    def model_tensor():
        return torch.zeros(3)


    def string_loss(outputs, targets):
        return "loss"


    class StringLoss(nn.Module):
        def forward(self, outputs, targets):
            return "loss"


    class NotAnOptimizer:
        def __init__(self, params, lr=1e-3):
            self.params = list(params)


    def plain_function():
        return 1


    def int_data():
        return 7


    def hang(**kwargs):
        time.sleep(1000)


    def exits():
        sys.exit(0)


    class UnprintableError(Exception):
        def __str__(self):
            raise RuntimeError("this error cannot be printed")


    def unprintable():
        raise UnprintableError()


    class Affine(nn.Module):
        \"\"\"No parameters at all: a fixed linear function of the last step's first two features.\"\"\"

        def forward(self, x):
            return 2 * x[:, -1, :2] + 1


    def parameterless():
        return Affine()
"""


# -- helpers ----------------------------------------------------------------------------------------


def project(folder: Path, **overrides: Any) -> Path:
    """The tiny valid project of tests.helpers with ``hostile.py`` beside it and the config keys overridden
    (a key overridden with None is left out; ``model_args`` goes with a replaced ``model``)."""
    config = {**DEFAULT_CONFIG, **overrides}
    if "model" in overrides and "model_args" not in overrides:
        config.pop("model_args")
    return write_project(folder, {k: v for k, v in config.items() if v is not None}, files={"hostile.py": HOSTILE_PY})


def project_text(folder: Path, text: str) -> Path:
    return write_project(folder, text, files={"hostile.py": HOSTILE_PY})


VALID_TEXT = yaml.safe_dump(DEFAULT_CONFIG, sort_keys=False)
BARE_MODEL_TEXT = yaml.safe_dump({k: v for k, v in DEFAULT_CONFIG.items() if k != "model_args"}, sort_keys=False)
"""The valid config without model_args, for a ``model:`` factory that takes no arguments."""


def run_check(config: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["check", str(config), "--no-progress", *extra])


def assert_setup_error(result: Result, config: Path, *fragments: str, max_chars: int | None = MAX_MESSAGE_CHARS) -> str:
    """Exit 2; stderr names the config file and every fragment in at most two lines, without a traceback."""
    err = result.stderr.strip()
    shown = err if len(err) < 3000 else err[:1500] + f" ...[{len(err)} chars]... " + err[-500:]
    detail = f"exit {result.exit_code}, exception {result.exception!r}\n--- stderr ---\n{shown}"
    assert result.exception is None or isinstance(result.exception, SystemExit), detail
    assert result.exit_code == 2, detail
    assert "Traceback" not in err, detail
    assert err, "an error message on stderr"
    assert len(err.splitlines()) <= 2, detail
    if max_chars is not None:
        assert len(err) <= max_chars, f"a {len(err)}-character error message\n{detail}"
    assert str(config) in err, f"the message does not name the config file {config}\n{detail}"
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} missing from the message\n{detail}"
    assert result.stdout == "", "nothing on stdout when the run cannot be set up"
    return err


def internal_errors(report: Report) -> list[str]:
    return [
        f"{c.name}: {c.detail}" for c in report.checks if c.status.value == "errored" and "internal error" in c.detail
    ]


def examine(**kwargs: Any) -> Report:
    """`diagnose` on objects: a Report that every format renders, valid JSON, and no internal error."""
    try:
        report = diagnose(**kwargs)
    except SystemExit as exc:  # pytest would otherwise stop here
        pytest.fail(f"SystemExit({exc.code!r}) escaped from diagnose()")
    assert isinstance(report, Report)
    for fmt in Format:
        assert isinstance(render(report, fmt), str)
    assert render(report, "text").strip()
    validate_report(json.loads(render(report, "json")), exit_code=report.exit_code)
    assert not internal_errors(report), internal_errors(report)
    return report


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def finding(report: Report, code: str) -> Any:
    matches = [f for f in report.findings if f.code == code]
    assert matches, f"no {code} among {codes(report)}"
    return matches[0]


def data(n: int = 64, size: int = 16, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = setups.drift_data(n=n, seed=seed)
    return [(x[i : i + size], y[i : i + size]) for i in range(0, n, size)]


def lstm() -> nn.Module:
    torch.manual_seed(0)
    return setups.SequenceClassifier()


CE = nn.CrossEntropyLoss()


# -- processes that may hang: run together, in the background, under a wall-clock limit ----------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A YAML list whose items are anchored lists of ``width`` aliases to the previous one ("billion laughs")."""
    lines = ["  - &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"  - &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@dataclass
class Launched:
    config: Path
    process: subprocess.Popen[str]
    started: float

    def finish(self, limit: float) -> tuple[int | None, str, str, float]:
        """Wait until ``limit`` seconds after the launch; (exit code or None if killed, stdout, stderr, seconds)."""
        remaining = max(0.1, limit - (time.monotonic() - self.started))
        try:
            out, err = self.process.communicate(timeout=remaining)
            code: int | None = self.process.returncode
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            code = None
        return code, out, err, time.monotonic() - self.started


def launch(config: Path) -> Launched:
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rnndoctor", "check", str(config), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.parent,
        env=env,
    )
    return Launched(config, process, time.monotonic())


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Launched]]:
    """Start every run that may hang at once, so that their time limits overlap instead of adding up."""
    root = tmp_path_factory.mktemp("background")
    configs = {
        "bomb-in-seed": project_text(root / "bomb", VALID_TEXT + "seed:\n" + alias_bomb()),
        "hang-setup-timeout": project(root / "hang2", model="hostile.py:hang", check_timeout=2, setup_timeout=2),
    }
    runs = {name: launch(config) for name, config in configs.items()}
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.communicate()


HANG_GUARD = 600.0
"""Seconds after which a run that should have ended is killed: a guard against a hung suite, not a speed
requirement (rnndoctor's own limits, setup_timeout and the YAML's size and alias bounds, are what end them)."""


def assert_setup_error_of(run: Launched, *fragments: str) -> str:
    code, out, err, seconds = run.finish(HANG_GUARD)
    assert code is not None, f"still running after {seconds:.0f} s (killed); stderr so far: {err[-500:]!r}"
    err = err.strip()
    assert code == 2, f"exit {code}\n{err[-2000:]}"
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 2 and len(err) <= MAX_MESSAGE_CHARS, err[:3000]
    assert str(run.config) in err, f"the message does not name the config file: {err!r}"
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} missing from {err!r}"
    assert out == ""
    return err


# == 1. config files ===================================================================================


def test_alias_bomb_under_an_unknown_key_is_refused(tmp_path: Path) -> None:
    config = project_text(tmp_path, VALID_TEXT + "anchors:\n" + alias_bomb())
    result = run_check(config)
    assert_setup_error(result, config)


def test_alias_bomb_is_refused_by_the_loader(tmp_path: Path) -> None:
    config = project_text(tmp_path, VALID_TEXT + "anchors:\n" + alias_bomb())
    with pytest.raises(ConfigError):
        load_config(config)


def test_alias_bomb_in_a_validated_key_exits_2(background: dict[str, Launched]) -> None:
    err = assert_setup_error_of(background["bomb-in-seed"])
    assert "alias" in err or "seed" in err, err


def _inline_bomb(levels: int) -> str:
    """A flow list holding its own anchors: ``[&a0 [...], &a1 [*a0, ...], ...]``, ``levels`` deep."""
    return "[" + ", ".join(item.strip()[2:] for item in alias_bomb(levels).splitlines()) + "]"


@pytest.mark.parametrize(
    "template",
    [
        "seed: {bomb}",
        "device: {bomb}",
        "fail_on: {bomb}",
        "check_timeout: {bomb}",
        "max_batches: {bomb}",
        "optimizer_args: {{lr: {bomb}}}",
        "checks: {{labels: {{imbalance_ratio: {bomb}}}}}",
    ],
    ids=["seed", "device", "fail_on", "check_timeout", "max_batches", "optimizer_args.lr", "checks-option"],
)
def test_error_messages_quote_values_boundedly(tmp_path: Path, template: str) -> None:
    config = project_text(tmp_path, VALID_TEXT + template.format(bomb=_inline_bomb(6)) + "\n")
    assert_setup_error(run_check(config), config, template.split(":")[0])


def test_five_megabyte_config(tmp_path: Path) -> None:
    config = project_text(tmp_path, VALID_TEXT + "# " + "x" * (5 << 20) + "\n")
    result = run_check(config)
    assert_setup_error(result, config, "bytes")


def test_binary_config(tmp_path: Path) -> None:
    config = project_text(tmp_path, VALID_TEXT)
    config.write_bytes(random.Random(0).randbytes(4096))
    assert_setup_error(run_check(config), config, "UTF-8")


def test_nul_character_in_config(tmp_path: Path) -> None:
    config = project_text(tmp_path, VALID_TEXT)
    config.write_bytes(VALID_TEXT.encode() + b"seed: 0\x00\n")
    assert_setup_error(run_check(config), config)


@pytest.mark.parametrize("text", ["just a string\n", "- model\n- loss\n", "42\n", "true\n", "'model: x'\n"])
def test_top_level_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    config = project_text(tmp_path, text)
    assert_setup_error(run_check(config), config, "top level")


@pytest.mark.parametrize(
    "template",
    [
        '!!python/object/apply:os.system ["touch {marker}"]\n',
        VALID_TEXT + 'seed: !!python/object/apply:os.system ["touch {marker}"]\n',
        VALID_TEXT + 'model_args: !!python/object/apply:os.system ["touch {marker}"]\n',
        VALID_TEXT + 'seed: !!python/object/new:os.system ["touch {marker}"]\n',
        VALID_TEXT.replace("CrossEntropyLoss", "!!python/name:torch.nn.CrossEntropyLoss"),
        VALID_TEXT + "seed: !!python/module:os\n",
        VALID_TEXT + "seed: !custom 3\n",
    ],
    ids=["apply-top", "apply-seed", "apply-args", "new", "name", "module", "custom-tag"],
)
def test_python_tags_are_refused_and_never_executed(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "HACKED"
    config = project_text(tmp_path, template.format(marker=marker))
    result = run_check(config)
    assert not marker.exists(), "the YAML tag ran a command"
    assert_setup_error(result, config)
    with pytest.raises(SetupError):
        diagnose(config)
    assert not marker.exists()


WRONG_TYPES: dict[str, list[Any]] = {
    "model": [["models.py:TinyClassifier"], 3, {"a": 1}, True, ""],
    "model_args": [[8], 3, "hidden_size=8", True],
    "train_data": [["data.py:train_loader"], 3, {"a": 1}, True],
    "loss": [["CrossEntropyLoss"], 3.5, {"name": "CrossEntropyLoss"}, True],
    "optimizer": [["Adam"], 3, {"name": "Adam"}, True],
    "optimizer_args": [[0.1], 0.1, "lr=0.1", True, {"lr": "fast"}, {"lr": [1]}],
    "device": [["cpu"], 3, {"type": "cpu"}, True, "tpu"],
    "seed": [[1], "zero", {"a": 1}, True, 1.5, -1],
    "fail_on": [["error"], 3, {"a": 1}, True, "sometimes"],
    "ignore": [3, {"RD1": True}, True, [["RD1"]], ["XX1"]],
    "select": [3, {"RD1": True}, True, [["RD1"]], "RD1234"],
    "checks": [["labels"], 3, "all", True, {"labels": 3}, {"no_such_check": False}, {"labels": {"nope": 1}}],
    "max_batches": [[1], "many", {"a": 1}, True, 0, 2.5],
    "check_timeout": [[1], "soon", {"a": 1}, True, 0, -1],
}


@pytest.mark.parametrize(
    ("key", "value"),
    [(key, value) for key, values in WRONG_TYPES.items() for value in values],
    ids=[f"{key}={json.dumps(value)}" for key, values in WRONG_TYPES.items() for value in values],
)
def test_wrong_type_for_a_top_level_key(tmp_path: Path, key: str, value: Any) -> None:
    config = project(tmp_path, **{key: value})
    assert_setup_error(run_check(config), config, f"'{key}")


EXTREME = [
    # (id, the config line, the outcome: the key a setup error names, "YAML" when the file cannot be read,
    # "incomplete" for a report without a verdict, or "report" for one that runs)
    ("timeout-nan", "check_timeout: .nan\n", "check_timeout"),
    ("timeout-inf", "check_timeout: .inf\n", "check_timeout"),
    ("seed-1e30", "seed: 1e30\n", "seed"),
    ("seed-2**76", "seed: 100000000000000000000000\n", "seed"),
    ("5000-digit-int", "max_batches: " + "9" * 5000 + "\n", "YAML"),
    ("deep-nesting", "model_args: " + "[" * 5000 + "]" * 5000 + "\n", "YAML"),
    ("max-batches-1e12", "max_batches: 1e12\n", "report"),
    ("timeout-tiny", "check_timeout: 1e-300\n", "incomplete"),
    ("sweep-negative-steps", "checks: {lr_sweep: {steps: -5}}\n", "checks.lr_sweep.steps"),
    ("sweep-min-lr-0", "checks: {lr_sweep: {min_lr: 0}}\n", "checks.lr_sweep.min_lr"),
    ("sweep-steps-nan", "checks: {lr_sweep: {steps: .nan}}\n", "checks.lr_sweep.steps"),
]


@pytest.mark.parametrize(("extra", "outcome"), [e[1:] for e in EXTREME], ids=[e[0] for e in EXTREME])
def test_extreme_numbers_and_nesting(tmp_path: Path, extra: str, outcome: str) -> None:
    """Exit 2 naming the file (and the key), a report that says it reached no verdict, or a report."""
    config = project_text(tmp_path, VALID_TEXT + extra)
    result = run_check(config, "--format", "json", "--select", "RD1", "RD5")
    if outcome == "report":
        doc = json.loads(result.stdout)
        validate_report(doc, exit_code=0)
        broken = [c for c in doc["checks"] if c["status"] == "errored"]
        assert not broken, broken
    elif outcome == "incomplete":
        # No verdict (every check stopped by a tiny safety net): a report that says so, never a pass.
        doc = json.loads(result.stdout)
        validate_report(doc, exit_code=2)
        assert doc["incomplete"] is True
    elif outcome == "YAML":
        assert "cannot read the YAML" in assert_setup_error(result, config)
    else:
        assert_setup_error(result, config, f"'{outcome}'")


@pytest.mark.parametrize(
    "options",
    [{"samples": 0}, {"steps": 0}, {"steps": -1}],
    ids=["samples-0", "steps-0", "steps-negative"],
)
def test_nonsense_check_options_are_refused_not_misdiagnosed(tmp_path: Path, options: dict[str, int]) -> None:
    config = project(tmp_path, checks={"overfit_batch": options})
    result = run_check(config, "--format", "json", "--select", "RD503")
    if result.exit_code == 2:
        assert_setup_error(result, config, "overfit_batch")
        return
    doc = json.loads(result.stdout)
    assert "RD503" not in [f["code"] for f in doc["findings"]], doc["findings"]


# == 2. references that do not return what they should ================================================


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"model": "hostile.py:model_none"}, ("'model'", "None", "torch.nn.Module")),
        ({"model": "hostile.py:model_tensor"}, ("'model'", "Tensor", "torch.nn.Module")),
        ({"optimizer": "hostile.py:NotAnOptimizer"}, ("'optimizer'", "torch.optim.Optimizer")),
        ({"optimizer": "hostile.py:plain_function"}, ("'optimizer'",)),
        ({"optimizer": "builtins:dict"}, ("'optimizer'",)),
        ({"train_data": "hostile.py:int_data"}, ("'train_data'", "int")),
        ({"loss": "math:pi"}, ("'loss'", "float")),
        ({"model": "hostile.py:parameterless"}, ("'optimizer'", "empty parameter list")),
        ({"model": "models.py:"}, ("'model'",)),
        ({"model": "/etc/passwd:x"}, ("'model'",)),
        ({"loss": "."}, ("'loss'",)),
        ({"model": "sys:exit"}, ("'model'",)),
    ],
    ids=[
        "model-none",
        "model-tensor",
        "optimizer-not-an-optimizer",
        "optimizer-plain-function",
        "optimizer-dict",
        "train-data-int",
        "loss-float-constant",
        "model-without-parameters",
        "empty-attribute",
        "non-python-file",
        "loss-dot",
        "model-is-sys-exit",
    ],
)
def test_reference_gives_the_wrong_thing(tmp_path: Path, overrides: dict[str, str], fragments: tuple[str, ...]) -> None:
    config = project(tmp_path, **overrides)
    assert_setup_error(run_check(config), config, *fragments)
    with pytest.raises(SetupError):
        diagnose(config)


@pytest.mark.parametrize("loss", ["hostile.py:string_loss", "hostile.py:StringLoss"])
def test_loss_returning_a_string_is_a_finding_naming_it(tmp_path: Path, loss: str) -> None:
    config = project(tmp_path, loss=loss)
    result = run_check(config, "--format", "json", "--quick")
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)
    validate_report(doc, exit_code=1)
    first = doc["findings"][0]
    assert first["severity"] == "error"
    assert "str" in first["message"] and "loss" in first["message"].lower(), first


@pytest.mark.parametrize(
    "reference",
    [
        'model: "a\\0b.py:x"',
        'model: "' + "a" * 300 + '.py:x"',
        "model: hostile.py:unprintable",
        "model: hostile.py:exits",
    ],
    ids=["nul-byte", "name-too-long", "unprintable-exception", "factory-sys-exit"],
)
def test_hostile_reference_exits_2_naming_the_key(tmp_path: Path, reference: str) -> None:
    config = project_text(tmp_path, BARE_MODEL_TEXT.replace("model: models.py:TinyClassifier", reference))
    assert_setup_error(run_check(config), config, "'model'")


def test_hanging_factory_with_setup_timeout_ends(background: dict[str, Launched]) -> None:
    err = assert_setup_error_of(background["hang-setup-timeout"])
    assert "2 s" in err and "setup_timeout" in err, err


def test_optimizer_that_needs_a_closure(tmp_path: Path) -> None:
    config = project(tmp_path, optimizer="LBFGS")
    result = run_check(config, "--format", "json", "--select", "RD5")
    doc = json.loads(result.stdout)
    validate_report(doc, exit_code=0)
    assert doc["findings"] == [] and not [c for c in doc["checks"] if c["status"] == "errored"], doc["checks"]


# == 3. loaders and objects through the Python API ====================================================


def test_loader_yielding_nothing() -> None:
    for empty in ([], DataLoader(TensorDataset(torch.zeros(0, 5, 4), torch.zeros(0).long()), batch_size=4)):
        report = examine(model=lstm(), train_data=empty, loss=CE, quick=True)
        first = report.findings[0]
        assert first.code == "RD002" and "no batches" in first.message, first
        assert report.exit_code == 2, "no usable batch: no verdict (contract §7)"


def test_one_batch_of_one_sample() -> None:
    x, y = setups.drift_data(n=1)
    report = examine(model=lstm(), train_data=[(x, y)], loss=CE)
    assert "RD002" not in codes(report)
    skipped = {c.name: c.detail for c in report.checks if c.status.value == "skipped"}
    assert "two samples" in skipped.get("probes", "two samples")


def test_batch_of_zero_samples() -> None:
    x, y = setups.drift_data(n=8)
    report = examine(model=lstm(), train_data=[(x[:0], y[:0])], loss=CE, quick=True)
    assert "RD302" not in codes(report)


def test_sequence_lengths_differ_across_batches() -> None:
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, steps, 4, generator=g), torch.randint(0, 2, (8,), generator=g)) for steps in (3, 7, 20)]
    report = examine(model=lstm(), train_data=batches, loss=CE)
    assert "RD002" not in codes(report)


def test_inputs_that_require_grad() -> None:
    batches = [(x.clone().requires_grad_(True), y) for x, y in data()]
    report = examine(model=lstm(), train_data=batches, loss=CE, quick=True)
    assert "RD002" not in codes(report)
    assert all(x.requires_grad for x, _ in batches)


def test_inputs_that_require_grad_keep_no_gradient() -> None:
    batches = [(x.clone().requires_grad_(True), y) for x, y in data()]
    examine(model=lstm(), train_data=batches, loss=CE)
    assert [x.grad is None for x, _ in batches] == [True] * len(batches)


def test_namedtuple_batches() -> None:
    Pair = collections.namedtuple("Pair", "inputs targets")
    report = examine(model=lstm(), train_data=[Pair(x, y) for x, y in data()], loss=CE)
    assert "RD002" not in codes(report)
    assert "RD001" not in codes(report)


def test_namedtuple_batches_with_lengths() -> None:
    class WithLengths(setups.SequenceClassifier):
        def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            return super().forward(x)

    Triple = collections.namedtuple("Triple", "inputs targets lengths")
    batches = [Triple(x, y, torch.full((len(y),), x.shape[1])) for x, y in data()]
    torch.manual_seed(0)
    report = examine(model=WithLengths(), train_data=batches, loss=CE, quick=True)
    assert "RD002" not in codes(report) and "RD001" not in codes(report), report.findings


class TwoInputs(nn.Module):
    """Reads a tuple (x_a, x_b) of two sequences of different feature sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.LSTM(4, 8, batch_first=True)
        self.b = nn.GRU(2, 8, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        xa, xb = inputs
        return self.head(torch.cat([self.a(xa)[0][:, -1], self.b(xb)[0][:, -1]], dim=-1))


@pytest.mark.parametrize("container", [tuple, list])
def test_nested_inputs(container: type) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    batches = [(container([x, torch.randn(len(y), 5, 2, generator=g)]), y) for x, y in data()]
    report = examine(model=TwoInputs(), train_data=batches, loss=CE)
    assert "RD002" not in codes(report) and "RD001" not in codes(report), report.findings


class PackedReader(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, packed: nn.utils.rnn.PackedSequence) -> torch.Tensor:
        _, (h, _) = self.rnn(packed)
        return self.head(h[-1])


def test_packed_sequence_inputs() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    batches = []
    for x, y in data():
        lengths = torch.randint(3, x.shape[1] + 1, (len(y),), generator=g)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        batches.append((packed, y))
    report = examine(model=PackedReader(), train_data=batches, loss=CE)
    assert "RD002" not in codes(report) and "RD001" not in codes(report), report.findings


class Endless(IterableDataset):
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(0)
        while True:
            y = torch.randint(0, 2, (), generator=g)
            x = torch.randn(12, 4, generator=g)
            x[:, 0] += y - 0.5
            yield x, y


def test_endless_iterable_dataset_finishes_quickly() -> None:
    report = examine(
        model=lstm(),
        train_data=DataLoader(Endless(), batch_size=16),
        val_data=DataLoader(Endless(), batch_size=16),
        loss=CE,
    )
    assert "RD002" not in codes(report)


def test_generator_object_is_drawn_once() -> None:
    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield from data()

    report = examine(model=lstm(), train_data=batches(), loss=CE)
    assert "RD002" not in codes(report) and "RD001" not in codes(report), report.findings


def test_generator_function_is_used_or_named() -> None:
    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield from data()

    report = examine(model=lstm(), train_data=batches, loss=CE, quick=True)
    assert codes(report) == [] and report.exit_code == 0, "a generator function is called for its generator (§2)"


class SlowLoader:
    def __init__(self, pause: float) -> None:
        self.pause = pause

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in data():
            time.sleep(self.pause)
            yield batch


def test_slow_loader_is_cut_by_check_timeout() -> None:
    report = examine(model=lstm(), train_data=SlowLoader(0.5), loss=CE, check_timeout=0.3, quick=True)
    stopped = [c for c in report.checks if c.status.value == "errored"]
    assert stopped, [(c.name, c.status.value) for c in report.checks]
    assert all("time budget" in c.detail and "check_timeout" in c.detail for c in stopped), [c.detail for c in stopped]


def test_loss_returning_nan() -> None:
    def nan_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return outputs.sum() * float("nan")

    report = examine(model=lstm(), train_data=data(), loss=nan_loss)
    assert report.exit_code == 1
    assert "RD401" in codes(report), codes(report)
    assert "nan" in finding(report, "RD401").message.lower()


@pytest.mark.parametrize(
    "returns",
    [None, "text", torch.tensor(3)],
    ids=["none", "string", "constant-tensor"],
)
def test_loss_returning_a_non_loss(returns: Any) -> None:
    report = examine(model=lstm(), train_data=data(), loss=lambda outputs, targets: returns, quick=True)
    if not isinstance(returns, torch.Tensor):
        assert codes(report)[0] == "RD001"
        assert type(returns).__name__ in report.findings[0].message


class Affine(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x[:, -1, :2] + 1


def test_model_without_parameters_and_no_optimizer() -> None:
    with pytest.raises(SetupError, match="empty parameter list"):
        examine(model=Affine(), train_data=data(), loss=CE, optimizer=None)


def test_model_without_parameters_with_an_optimizer() -> None:
    unrelated = nn.Parameter(torch.zeros(1))
    report = examine(model=Affine(), train_data=data(), loss=CE, optimizer=torch.optim.SGD([unrelated], lr=0.1))
    assert report.exit_code == 1, "a model that cannot learn must not pass"


def test_labels_as_a_python_list() -> None:
    batches = [(x, y.tolist()) for x, y in data()]
    report = examine(model=lstm(), train_data=batches, loss=CE, quick=True)
    assert report.exit_code == 1
    first = report.findings[0]
    assert first.code in ("RD001", "RD104"), first
    assert "list" in first.message, first.message


@pytest.mark.parametrize(
    ("train_data", "named"),
    [(7, "int"), ([1, 2, 3], "int"), (["ab", "cd"], "str"), ([None, None], "NoneType")],
    ids=["int", "list-of-ints", "list-of-strings", "list-of-none"],
)
def test_unusable_train_data(train_data: Any, named: str) -> None:
    if not isinstance(train_data, list):
        with pytest.raises(SetupError, match=f"must be an iterable of batches.*got {named}"):
            examine(model=lstm(), train_data=train_data, loss=CE, quick=True)
        return
    report = examine(model=lstm(), train_data=train_data, loss=CE, quick=True)
    assert codes(report) == ["RD002"] and report.exit_code == 2
    assert named in report.findings[0].message, report.findings[0].message


def test_unusable_batches_reported_once() -> None:
    report = examine(model=lstm(), train_data=[None, None], loss=CE, quick=True)
    assert codes(report).count("RD002") == 1, [f.message for f in report.findings]


def test_loader_whose_iteration_raises() -> None:
    class Broken:
        def __iter__(self) -> Iterator[Any]:
            raise RuntimeError("disk on fire")

    report = examine(model=lstm(), train_data=Broken(), loss=CE, quick=True)
    assert codes(report)[0] == "RD001"
    assert "disk on fire" in report.findings[0].message


def test_numpy_batches() -> None:
    batches = [(x.numpy(), y.numpy()) for x, y in data()]
    report = examine(model=lstm(), train_data=batches, loss=CE, quick=True)
    assert report.exit_code == 1
    assert "ndarray" in " ".join(f.message for f in report.findings)


@pytest.mark.parametrize("stage", ["forward", "loss"])
def test_user_code_calling_sys_exit_during_a_check(stage: str) -> None:
    class Exiting(setups.SequenceClassifier):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise SystemExit(0)

    def exiting_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise SystemExit(0)

    model = Exiting() if stage == "forward" else lstm()
    loss = CE if stage == "forward" else exiting_loss
    report = examine(model=model, train_data=data(), loss=loss, quick=True)
    assert report.exit_code == 1


def test_optimizer_that_needs_a_closure_via_the_api() -> None:
    """Only the quick checks: they take no optimizer step, so a closure-only optimizer is harmless there."""
    model = lstm()
    examine(model=model, train_data=data(), loss=CE, optimizer=torch.optim.LBFGS(model.parameters()), quick=True)


# == 4. properties ======================================================================================

JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(VALID_KEYS) | st.text(max_size=12)
REFERENCES = st.sampled_from(["models.py:build", "pkg.mod:attr", "CrossEntropyLoss", "Adam", "x"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, JSON_LIKE, max_size=8), st.booleans(), REFERENCES)
def test_build_config_returns_a_config_or_raises_config_error(raw: dict[str, Any], required: bool, ref: str) -> None:
    if required:
        raw = {"model": ref, "train_data": ref, "loss": ref, **raw}
    try:
        config = build_config(raw, display="fuzz.yaml", base_dir=Path.cwd(), path=None)
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml")
        return
    assert isinstance(config, Config)


def _small_tensors() -> st.SearchStrategy[Any]:
    shapes = st.lists(st.integers(0, 3), max_size=3)
    return st.builds(torch.zeros, shapes.map(tuple)) | st.builds(lambda n: torch.arange(n), st.integers(0, 4))


BATCH_PARTS = st.recursive(
    _small_tensors() | st.none() | st.integers() | st.floats() | st.text(max_size=5) | st.booleans(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.tuples(children, children, children)
        | st.dictionaries(st.sampled_from(["inputs", "targets", "lengths", "x", ""]), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BATCH_PARTS)
def test_unpack_returns_a_batch_or_raises_batch_format_error(raw: Any) -> None:
    try:
        batch = unpack(raw)
    except BatchFormatError:
        return
    assert isinstance(batch, Batch)
    assert batch.raw is raw
    if isinstance(raw, dict):
        assert batch.inputs is raw["inputs"] and batch.targets is raw["targets"]
    else:
        assert len(raw) in (2, 3) and batch.inputs is raw[0] and batch.targets is raw[1]
    size = batch.size
    assert size is None or (isinstance(size, int) and size >= 0)


DIGITS = st.text("0123456789", min_size=1, max_size=4)
MANTISSAS = st.one_of(
    st.tuples(st.sampled_from(["", "-", "+"]), DIGITS).map("".join),
    st.tuples(st.sampled_from(["", "-", "+"]), DIGITS, st.text("0123456789", max_size=4)).map(
        lambda parts: f"{parts[0]}{parts[1]}.{parts[2]}"
    ),
    DIGITS.map(lambda digits: f".{digits}"),
)
EXPONENTS = st.tuples(
    st.sampled_from(["e", "E"]), st.sampled_from(["", "-", "+"]), st.integers(0, 400), st.integers(1, 4)
).map(lambda parts: f"{parts[0]}{parts[1]}{parts[2]:0{parts[3]}d}")


@settings(max_examples=200, deadline=None)
@given(MANTISSAS, EXPONENTS)
def test_scientific_notation_reads_as_python_float(mantissa: str, exponent: str) -> None:
    text = mantissa + exponent
    loaded = yaml.load(f"value: {text}\nlisted: [{text}]\n", Loader=_NumberFriendlyLoader)
    expected = float(text)
    for value in (loaded["value"], loaded["listed"][0]):
        assert isinstance(value, float), (text, value)
        assert value == expected or (math.isnan(value) and math.isnan(expected)), (text, value, expected)


@pytest.mark.parametrize("text", ["-.5e3", "+.5e-3"])
def test_signed_dot_leading_mantissa_reads_as_float(text: str) -> None:
    value = yaml.load(f"value: {text}\n", Loader=_NumberFriendlyLoader)["value"]
    assert value == float(text)
