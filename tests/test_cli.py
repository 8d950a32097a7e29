"""The command line as contract §1 describes it: exit codes, formats, code selection, rules and explain."""

from __future__ import annotations

import builtins
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rnndoctor.cli import cli
from rnndoctor.core.registry import registered_checks
from tests.helpers import CONTRACT_CODES, DEFAULT_CONFIG, parse_report, validate_report, write_project

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
HEALTHY = EXAMPLES / "healthy_lstm" / "config.yaml"
COLLAPSE = EXAMPLES / "label_collapse" / "config.yaml"
IMBALANCED = EXAMPLES / "imbalanced" / "config.yaml"
STOCKS = EXAMPLES / "stock_prices" / "config.yaml"

FORMATS = ("text", "json", "markdown", "github", "junit", "html")


def invoke(args: Sequence[Any], expected_exit: int) -> Result:
    """Run ``rnndoctor ARGS`` in-process; assert the exit code (and that nothing escaped as an exception)."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    detail = f"args={list(args)}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"unexpected {type(result.exception).__name__}: {result.exception}\n{detail}")
    assert result.exit_code == expected_exit, f"exit code {result.exit_code}, expected {expected_exit}\n{detail}"
    return result


def json_report(args: Sequence[Any], expected_exit: int) -> dict[str, Any]:
    """Run ``check`` with ``--format json``; stdout must be exactly one valid report."""
    result = invoke(["check", *args, "--format", "json"], expected_exit)
    return parse_report(result.stdout, exit_code=expected_exit)


def codes(doc: dict[str, Any]) -> list[str]:
    return [f["code"] for f in doc["findings"]]


def check_names(doc: dict[str, Any]) -> set[str]:
    """The checks that ran and report codes (the fix verification, listed when it had findings to try, aside)."""
    return {c["name"] for c in doc["checks"] if c["name"] != "verify_fixes"}


def _matching(patterns: Sequence[str]) -> set[str]:
    wanted = [p.upper() for p in patterns]
    return {code for code in CONTRACT_CODES if any(code.startswith(p) for p in wanted)}


def expected_checks(select: Sequence[str] = (), ignore: Sequence[str] = (), quick: bool = False) -> set[str]:
    """Contract §4: a check runs only if at least one code it can report is selected and not ignored; checks that
    observe a training script's own steps run only in script mode."""
    allowed = (_matching(select) if select else set(CONTRACT_CODES)) - _matching(ignore)
    return {
        c.name
        for c in registered_checks()
        if (c.quick or not quick) and not c.script_only and allowed.intersection(c.codes)
    }


# -- exit codes -------------------------------------------------------------------------------------


def test_healthy_example_exits_0() -> None:
    result = invoke(["check", HEALTHY], 0)
    assert "rnndoctor" in result.stdout
    assert "Traceback" not in result.stderr


def test_label_collapse_exits_1_with_rd101_first() -> None:
    doc = json_report([COLLAPSE], 1)
    assert doc["status"] == "fail"
    assert doc["findings"][0]["code"] == "RD101"
    assert doc["findings"][0]["severity"] == "error"
    assert doc["findings"][0]["check"] == "labels"


def test_label_collapse_text_report_names_rd101() -> None:
    result = invoke(["check", COLLAPSE], 1)
    assert "RD101" in result.stdout


def test_fail_on_never_exits_0_despite_errors() -> None:
    doc = json_report([COLLAPSE, "--fail-on", "never"], 0)
    assert doc["status"] == "pass"
    assert "RD101" in codes(doc)


def test_warning_only_example_exits_0_by_default() -> None:
    doc = json_report([IMBALANCED], 0)
    assert codes(doc) == ["RD102"]
    assert doc["findings"][0]["severity"] == "warning"


def test_fail_on_warning_makes_a_warning_fail() -> None:
    doc = json_report([IMBALANCED, "--fail-on", "warning"], 1)
    assert doc["status"] == "fail"
    invoke(["check", IMBALANCED, "--fail-on", "error"], 0)


def test_fail_on_from_the_config_and_cli_override(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    text = IMBALANCED.read_text(encoding="utf-8")
    text = text.replace("../common/models.py", str(EXAMPLES / "common" / "models.py"))
    text = text.replace("data.py", str(EXAMPLES / "imbalanced" / "data.py"))
    config.write_text(text + "fail_on: warning\n", encoding="utf-8")
    invoke(["check", config], 1)
    invoke(["check", config, "--fail-on", "error"], 0)


def test_config_ignore_list_is_honoured(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    text = IMBALANCED.read_text(encoding="utf-8")
    text = text.replace("../common/models.py", str(EXAMPLES / "common" / "models.py"))
    text = text.replace("data.py", str(EXAMPLES / "imbalanced" / "data.py"))
    config.write_text(text + "ignore: [RD102]\n", encoding="utf-8")
    doc = json_report([config, "--fail-on", "warning"], 0)
    assert "RD102" not in codes(doc)


def test_crash_in_the_users_model_is_evidence_not_exit_2(tmp_path: Path) -> None:
    # Contract §1: an input-size mismatch crash becomes RD201 quoting the error, not a setup error.
    config = write_project(tmp_path, {**DEFAULT_CONFIG, "model_args": {"input_size": 4, "num_classes": 2}})
    doc = json_report([config], 1)
    rd201 = [f for f in doc["findings"] if f["code"] == "RD201"]
    assert rd201, codes(doc)
    assert "input_size" in rd201[0]["message"] or "input.size" in rd201[0]["message"]


CRASHING_DATA = """
    def train_loader():
        raise RuntimeError("disk gone while reading shard 3")
        yield  # a generator function: it fails when the first batch is drawn, during a check
"""

CRASHING_MODEL = """
    from torch import nn


    class Crashing(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8, batch_first=True)

        def forward(self, x):
            raise ValueError("forward exploded on purpose")
"""


@pytest.mark.parametrize(
    ("entries", "files", "quoted"),
    [
        ({"train_data": "crashing_data.py:train_loader"}, {"crashing_data.py": CRASHING_DATA}, "disk gone"),
        (
            {"model": "crashing_model.py:Crashing", "model_args": None},
            {"crashing_model.py": CRASHING_MODEL},
            "exploded",
        ),
    ],
    ids=["data-raises", "forward-raises"],
)
def test_unrecognised_crash_in_the_users_code_becomes_a_finding(
    tmp_path: Path, entries: dict[str, Any], files: dict[str, str], quoted: str
) -> None:
    config_map = {k: v for k, v in {**DEFAULT_CONFIG, **entries}.items() if v is not None}
    config = write_project(tmp_path, config_map, files=files)
    doc = json_report([config], 1)
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("RD001", "error")]
    assert quoted in doc["findings"][0]["message"] and quoted in json.dumps(doc["findings"][0]["evidence"])


def test_invalid_fail_on_value_is_a_usage_error() -> None:
    result = invoke(["check", HEALTHY, "--fail-on", "sometimes"], 2)
    assert "Traceback" not in result.stderr


# -- JSON report ------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [HEALTHY, COLLAPSE, IMBALANCED, STOCKS], ids=lambda p: p.parent.name)
def test_json_is_one_valid_document_on_stdout(config: Path) -> None:
    expected = 1 if config in (COLLAPSE, STOCKS) else 0
    result = invoke(["check", config, "--format", "json"], expected)
    doc = json.loads(result.stdout)  # the whole of stdout is one JSON document
    validate_report(doc, exit_code=expected)
    assert doc["config"] == str(config)
    assert doc["device"] == "cpu"
    assert doc["checks"], "at least one check ran"


def test_json_config_is_the_path_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    doc = json_report(["examples/healthy_lstm/config.yaml"], 0)
    assert doc["config"] == "examples/healthy_lstm/config.yaml"


def test_json_counts_passes_as_integers() -> None:
    doc = json_report([HEALTHY], 0)
    timing = doc["timing"]
    assert isinstance(timing["forward_passes"], int) and timing["forward_passes"] >= 1
    assert isinstance(timing["backward_passes"], int)


def test_json_stdout_stays_clean_when_the_users_code_prints_to_stdout(tmp_path: Path) -> None:
    # Contract §1: `--format json` writes exactly one JSON document to stdout and nothing else.
    noisy_models = (
        "import torch\n"
        "from torch import nn\n"
        "print('models module imported')\n\n\n"
        "class Noisy(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lstm = nn.LSTM(3, 8, batch_first=True)\n"
        "        self.head = nn.Linear(8, 2)\n\n"
        "    def forward(self, x):\n"
        "        print('forward', tuple(x.shape))\n"
        "        out, _ = self.lstm(x)\n"
        "        return self.head(out[:, -1])\n"
    )
    config = write_project(
        tmp_path,
        {"model": "noisy.py:Noisy", "train_data": "data.py:train_loader", "loss": "CrossEntropyLoss"},
        files={"noisy.py": noisy_models},
    )
    result = invoke(["check", config, "--format", "json"], 0)
    doc = json.loads(result.stdout)
    validate_report(doc, exit_code=0)


# -- code selection ---------------------------------------------------------------------------------


def test_select_single_code_runs_only_the_checks_that_report_it() -> None:
    doc = json_report([STOCKS, "--select", "RD106"], 0)
    assert codes(doc) == ["RD106"]
    assert check_names(doc) == expected_checks(select=["RD106"])
    assert "labels" not in check_names(doc)


def test_select_hides_errors_of_unselected_codes() -> None:
    doc = json_report([COLLAPSE, "--select", "RD106"], 0)
    assert "RD101" not in codes(doc)
    assert all(c == "RD106" for c in codes(doc))
    assert check_names(doc) == expected_checks(select=["RD106"])


@pytest.mark.parametrize(
    "args",
    [
        ["--select", "RD101", "RD102"],
        ["--select", "RD101,RD102"],
        ["--select", "RD101", "--select", "RD102"],
        ["--select", "rd101", "rd102"],
    ],
    ids=["space-separated", "comma-separated", "repeated", "lower-case"],
)
def test_select_several_codes(args: list[str]) -> None:
    doc = json_report([IMBALANCED, *args, "--fail-on", "warning"], 1)
    assert codes(doc) == ["RD102"]
    assert check_names(doc) == expected_checks(select=["RD101", "RD102"])


def test_select_several_codes_before_the_config_argument() -> None:
    result = invoke(["check", "--select", "RD101", "RD102", IMBALANCED, "--format", "json"], 0)
    doc = parse_report(result.stdout, exit_code=0)
    assert codes(doc) == ["RD102"]
    assert check_names(doc) == expected_checks(select=["RD101", "RD102"])


def test_select_several_codes_then_another_option() -> None:
    result = invoke(["check", IMBALANCED, "--select", "RD101", "RD106", "--fail-on", "warning", "--format", "json"], 0)
    doc = parse_report(result.stdout, exit_code=0)
    assert "RD102" not in codes(doc)
    assert check_names(doc) == expected_checks(select=["RD101", "RD106"])


def test_ignore_prefix_never_reports_and_skips_checks_with_nothing_left() -> None:
    doc = json_report([COLLAPSE, "--ignore", "RD1"], 0)
    assert not [c for c in codes(doc) if c.startswith("RD1")]
    assert check_names(doc) == expected_checks(ignore=["RD1"])
    assert not {"labels", "inputs", "leakage"} & check_names(doc)


def test_ignore_single_code_keeps_its_check_running() -> None:
    doc = json_report([COLLAPSE, "--ignore", "RD101"], 0)
    assert "RD101" not in codes(doc)
    assert "labels" in check_names(doc)
    assert check_names(doc) == expected_checks(ignore=["RD101"])


def test_ignore_several_codes_space_and_comma_separated() -> None:
    for args in (["--ignore", "RD101", "RD102"], ["--ignore", "RD101,RD102"]):
        doc = json_report([IMBALANCED, *args, "--fail-on", "warning"], 0)
        assert not {"RD101", "RD102"} & set(codes(doc))


def test_select_and_ignore_combine() -> None:
    doc = json_report([COLLAPSE, "--select", "RD1", "--ignore", "RD101"], 0)
    assert all(c.startswith("RD1") and c != "RD101" for c in codes(doc))
    assert check_names(doc) == expected_checks(select=["RD1"], ignore=["RD101"])


# -- options ---------------------------------------------------------------------------------------


def test_quick_profile() -> None:
    doc = json_report([HEALTHY, "--quick"], 0)
    assert check_names(doc) == expected_checks(quick=True)
    doc = json_report([COLLAPSE, "--quick"], 1)
    assert doc["findings"][0]["code"] == "RD101"


def test_device_seed_and_no_progress_are_accepted() -> None:
    doc = json_report([HEALTHY, "--device", "cpu", "--seed", "3", "--no-progress"], 0)
    assert doc["device"] == "cpu"


def test_same_seed_gives_the_same_findings() -> None:
    first = json_report([IMBALANCED, "--seed", "5"], 0)
    second = json_report([IMBALANCED, "--seed", "5"], 0)
    assert first["findings"] == second["findings"]


def test_invalid_device_option_exits_2() -> None:
    result = invoke(["check", HEALTHY, "--device", "gpu"], 2)
    assert "device" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_help_lists_the_contract_options() -> None:
    result = invoke(["check", "--help"], 0)
    for option in (
        "--format",
        "--output",
        "--fail-on",
        "--quick",
        "--device",
        "--seed",
        "--select",
        "--ignore",
        "--no-progress",
    ):
        assert option in result.stdout, option


# -- formats ---------------------------------------------------------------------------------------

# --quick keeps these twelve runs cheap as slower checks are added; every format still renders findings.


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("config", "expected"), [(HEALTHY, 0), (COLLAPSE, 1)], ids=["pass", "fail"])
def test_every_format_renders(fmt: str, config: Path, expected: int) -> None:
    result = invoke(["check", config, "--format", fmt, "--quick"], expected)
    out = result.stdout
    assert out.strip(), f"{fmt} printed nothing"
    assert "Traceback" not in out + result.stderr
    failing = expected == 1
    if fmt == "json":
        doc = parse_report(out, exit_code=expected)
        assert ("RD101" in codes(doc)) is failing
    elif fmt == "junit":
        root = ET.fromstring(out.encode("utf-8"))
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        assert root.tag in ("testsuites", "testsuite") and suites
        cases = [case for suite in suites for case in suite.iter("testcase")]
        assert cases, "one testcase per check"
        failures = [f for case in cases for f in case.findall("failure")]
        assert bool(failures) is failing
        if failing:
            assert any("RD101" in (f.get("message", "") + (f.text or "")) for f in failures)
            assert int(root.get("failures", "0")) >= 1
    elif fmt == "github":
        if failing:
            assert any(line.startswith("::error") and "RD101" in line for line in out.splitlines())
        else:
            assert "::error" not in out
    elif fmt == "html":
        lowered = out.lower()
        assert "<html" in lowered and "</html>" in lowered
        assert ("RD101" in out) is failing
    else:  # text, markdown
        assert ("RD101" in out) is failing
        assert ("FAIL" in out.upper()) if failing else ("PASS" in out.upper())


def test_junit_and_json_agree_on_failures() -> None:
    doc = json_report([COLLAPSE, "--quick"], 1)
    result = invoke(["check", COLLAPSE, "--format", "junit", "--quick"], 1)
    root = ET.fromstring(result.stdout.encode("utf-8"))
    failures = list(root.iter("failure"))
    assert len(failures) == sum(f["severity"] == "error" for f in doc["findings"])


# -- --output --------------------------------------------------------------------------------------


def test_output_file_json(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = invoke(["check", COLLAPSE, "--format", "json", "--output", target], 1)
    assert target.is_file()
    doc = parse_report(target.read_text(encoding="utf-8"), exit_code=1)
    assert doc["findings"][0]["code"] == "RD101"
    assert str(target) in result.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown", "junit", "html"])
def test_output_file_other_formats(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    invoke(["check", HEALTHY, "--format", fmt, "--output", target, "--quick"], 0)
    text = target.read_text(encoding="utf-8")
    assert text.strip()
    if fmt == "junit":
        ET.fromstring(text.encode("utf-8"))


def test_output_short_option(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    invoke(["check", HEALTHY, "--format", "json", "-o", target, "--quick"], 0)
    parse_report(target.read_text(encoding="utf-8"), exit_code=0)


def test_output_into_missing_folder_creates_it(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "folder" / "report.json"
    result = invoke(["check", HEALTHY, "--format", "json", "--output", target, "--quick"], 0)
    parse_report(target.read_text(encoding="utf-8"), exit_code=0)
    assert str(target) in result.stderr


def test_output_that_cannot_be_written_is_a_clean_error_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "report.json"
    result = CliRunner().invoke(cli, ["check", str(HEALTHY), "--format", "json", "--output", str(target), "--quick"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert str(target) in result.stderr
    assert result.stdout == ""  # refused before the diagnosis: no report at all


# -- working directory -----------------------------------------------------------------------------


def test_runs_from_another_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    invoke(["check", HEALTHY.resolve()], 0)
    doc = json_report([COLLAPSE.resolve()], 1)
    assert doc["findings"][0]["code"] == "RD101"


def test_relative_config_from_a_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path / "project", DEFAULT_CONFIG)
    monkeypatch.chdir(tmp_path)
    doc = json_report(["project/config.yaml"], 0)
    assert doc["config"] == "project/config.yaml"
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    json_report(["../project/config.yaml"], 0)


# -- rules and explain -----------------------------------------------------------------------------


def test_rules_text_lists_every_contract_code() -> None:
    result = invoke(["rules"], 0)
    for code, (title, _severity) in CONTRACT_CODES.items():
        assert code in result.stdout, code
        assert title in result.stdout, f"{code}: title {title!r} missing"


def test_rules_says_which_check_reports_each_code() -> None:
    """Issue 28 §7: RD001 and RD002 are reported by any check that meets the crash or the unusable data,
    never listed as "(not yet checked)"."""
    text = invoke(["rules"], 0).stdout
    assert "not yet checked" not in text
    assert all("any check" in line for line in text.splitlines() if line.split()[:1] in (["RD001"], ["RD002"]))
    rows = json.loads(invoke(["rules", "--format", "json"], 0).stdout)
    assert all(row["check"] for row in rows), [row["code"] for row in rows if not row["check"]]


def test_rules_json_lists_every_contract_code_with_title_and_severity() -> None:
    result = invoke(["rules", "--format", "json"], 0)
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    by_code = {row["code"]: row for row in rows}
    assert len(by_code) == len(rows), "codes are unique"
    assert set(CONTRACT_CODES) <= set(by_code)
    assert len(CONTRACT_CODES) == 49  # 45 of the first round, 4 added in the second (contract §7)
    for code, (title, severity) in CONTRACT_CODES.items():
        assert by_code[code]["title"] == title, code
        assert by_code[code]["severity"] == severity, code


def test_explain_prints_the_rules_documentation() -> None:
    result = invoke(["explain", "RD101"], 0)
    assert "RD101" in result.stdout
    assert CONTRACT_CODES["RD101"][0] in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_explain_accepts_lower_case() -> None:
    result = invoke(["explain", "rd305"], 0)
    assert "RD305" in result.stdout


def test_every_code_can_be_explained() -> None:
    for code, (title, _severity) in CONTRACT_CODES.items():
        result = invoke(["explain", code], 0)
        assert code in result.stdout and title in result.stdout, code


def test_explain_unknown_code_exits_2() -> None:
    result = invoke(["explain", "RD999"], 2)
    assert "RD999" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("command", "module"), [("check", "rnndoctor.api"), ("curves", "rnndoctor.logs.curves")])
def test_ctrl_c_while_torch_is_imported_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, module: str
) -> None:
    """Issue 28 §4: the first seconds of a run import torch; Ctrl-C then is an interrupt (130), not click's
    "Aborted!" with exit 1, the code of a diagnosis that found errors."""
    real_import = builtins.__import__

    def interrupted(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == module:
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    config = write_project(tmp_path)
    monkeypatch.setattr(builtins, "__import__", interrupted)
    result = invoke([command, str(config), "--no-progress"], expected_exit=130)
    assert "interrupted" in result.stderr and "Aborted" not in result.output


@pytest.mark.parametrize("where", ["factory", "import"])
def test_ctrl_c_while_loading_exits_130(tmp_path: Path, where: str) -> None:
    """Contract §8: 130 on Ctrl-C at any moment, start-up included; a KeyboardInterrupt in the user's factory
    or module is not a setup error."""
    raising = (
        "def build_model(**kwargs):\n    raise KeyboardInterrupt\n"
        if where == "factory"
        else "raise KeyboardInterrupt\n\ndef build_model(**kwargs):\n    pass\n"
    )
    config = write_project(tmp_path, {**DEFAULT_CONFIG, "model": "stop.py:build_model"}, files={"stop.py": raising})
    result = invoke(["check", str(config), "--format", "json", "--no-progress"], expected_exit=130)
    assert result.stdout == ""
