"""Reports for CI and people: several formats from one run, the JSON `meta`, the HTML page and notebook
display, the terminal conventions (width, NO_COLOR, FORCE_COLOR), GitHub annotations on the cause's line,
the pre-commit hook run by pre-commit itself, and the README's sample report kept current."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import rnndoctor.api
from rnndoctor import __version__
from rnndoctor.cli import cli
from rnndoctor.core.findings import CheckResult, CheckStatus, FailOn, Finding, Report, Severity, Timing
from rnndoctor.render import Format, ReportTarget, parse_report_target, prepare_targets, render
from rnndoctor.render.github import location
from rnndoctor.render.html import ROOT_CLASS, render_fragment
from rnndoctor.render.plots import plot
from tests.helpers import DEFAULT_CONFIG, parse_report, write_project

ROOT = Path(__file__).resolve().parents[1]
HEALTHY = ROOT / "examples" / "healthy_lstm" / "config.yaml"
ANSI = re.compile(r"\x1b\[")
LONG_MESSAGE = " ".join(["The measured numbers say the labels never change across the sampled batches."] * 4)
META_KEYS = {"rnndoctor", "torch", "python", "device", "seed", "threads", "fail_on", "exit_code", "started"}


def sample_report(config: str | None = "configs/rnndoctor.yaml") -> Report:
    """A report as the engine returns it, with a long message, every check status and one curve."""
    finding = Finding(
        code="RD101",
        severity=Severity.ERROR,
        title="all training targets are one class",
        message=LONG_MESSAGE,
        fix="Count the labels:\n\n```python\nprint(collections.Counter(labels))\n```",
        evidence={"class": 0, "count": 512},
        check="labels",
    )
    sweep = plot(
        "learning-rate range test",
        [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        [2.5, 2.4, 2.0, 1.2, 0.6, 0.9, 2.5],
        x_label="learning rate",
        y_label="loss",
        log_x=True,
        marks={"suggested": 1e-3},
    )
    checks = [
        CheckResult("labels", CheckStatus.FOUND, 0.01, "1 class over 512 sampled targets"),
        CheckResult("inputs", CheckStatus.PASSED, 0.02, "float features"),
        CheckResult("leakage", CheckStatus.SKIPPED, 0.0, "no val_data in the config"),
        CheckResult("lr_sweep", CheckStatus.ERRORED, 1.5, "stopped by its time limit", metrics={"plots": [sweep]}),
    ]
    return Report(
        config=config,
        device="cpu",
        findings=[finding],
        checks=checks,
        timing=Timing(2.0, 10, 5),
        fail_on=FailOn.ERROR,
        meta={"rnndoctor": __version__, "seed": 0},
    )


def invoke(args: list[Any], env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def canned_diagnosis(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`rnndoctor check` answers with `sample_report` at once; the list records each diagnosis started."""
    calls: list[str] = []

    def diagnose(config: str, **_: Any) -> Report:
        calls.append(config)
        return sample_report()

    monkeypatch.setattr(rnndoctor.api, "diagnose", diagnose)
    return calls


# -- --report FORMAT=PATH --------------------------------------------------------------------------


def test_several_reports_from_one_run_into_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runs: list[bool] = []
    real_diagnose = rnndoctor.api.diagnose

    def counting_diagnose(*args: Any, **kwargs: Any) -> Report:
        runs.append(Path("out").is_dir())  # the folder exists before the run starts
        return real_diagnose(*args, **kwargs)

    monkeypatch.setattr(rnndoctor.api, "diagnose", counting_diagnose)
    result = invoke(
        [
            "check",
            HEALTHY,
            "--quick",
            "--format",
            "json",
            "--report",
            "json=out/a.json",
            "--report",
            "markdown=out/b.md",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert runs == [True]
    from_file = parse_report(Path("out/a.json").read_text(encoding="utf-8"), exit_code=0)
    on_stdout = parse_report(result.stdout, exit_code=0)
    assert from_file["meta"]["started"] == on_stdout["meta"]["started"]
    markdown = Path("out/b.md").read_text(encoding="utf-8")
    assert markdown.startswith("## rnndoctor diagnosis") and "| check | status |" in markdown
    assert "json report written to out/a.json" in result.stderr
    assert "markdown report written to out/b.md" in result.stderr


def test_output_and_reports_all_written(tmp_path: Path, canned_diagnosis: list[str]) -> None:
    out = tmp_path / "deep" / "er"
    result = invoke(
        ["check", "cfg.yaml", "--format", "html", "-o", out / "r.html", "--report", f"junit={out / 'r.xml'}"],
        env={"NO_COLOR": "1"},
    )
    assert result.exit_code == 1
    assert canned_diagnosis == ["cfg.yaml"]
    assert (out / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (out / "r.xml").read_text(encoding="utf-8").startswith("<?xml")
    assert "RD101" in result.stdout and "<html" not in result.stdout  # the text report goes to the terminal


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("json", "expected FORMAT=PATH"),
        ("=out.json", "expected FORMAT=PATH"),
        ("yaml=out.yaml", "unknown format 'yaml'"),
    ],
)
def test_malformed_report_option_is_a_usage_error(value: str, says: str, canned_diagnosis: list[str]) -> None:
    result = invoke(["check", "cfg.yaml", "--report", value])
    assert result.exit_code == 2
    assert says in result.stderr
    assert canned_diagnosis == []


def test_unwritable_targets_fail_before_the_run(tmp_path: Path, canned_diagnosis: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = invoke(["check", "cfg.yaml", "--report", f"json={blocker / 'r.json'}"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert str(blocker / "r.json") in result.stderr
    same = invoke(
        ["check", "cfg.yaml", "--format", "markdown", "-o", tmp_path / "r", "--report", f"json={tmp_path / 'r'}"]
    )
    assert same.exit_code == 2 and "two reports" in same.stderr
    folder = invoke(["check", "cfg.yaml", "--report", f"json={tmp_path}"])
    assert folder.exit_code == 2 and "is a folder" in folder.stderr
    assert canned_diagnosis == []


def test_parse_and_prepare_targets(tmp_path: Path) -> None:
    assert parse_report_target("JSON=a/b.json") == ReportTarget(Format.JSON, Path("a/b.json"))
    target = parse_report_target(f"html={tmp_path / 'x' / 'y' / 'r.html'}")
    prepare_targets([target])
    assert (tmp_path / "x" / "y").is_dir()
    with pytest.raises(OSError, match="is a folder"):
        prepare_targets([ReportTarget(Format.JSON, tmp_path)])


# -- JSON meta -------------------------------------------------------------------------------------


def test_json_meta_holds_the_contract_fields() -> None:
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    result = invoke(["check", HEALTHY, "--quick", "--format", "json", "--seed", "3", "--fail-on", "warning"])
    after = datetime.datetime.now(datetime.timezone.utc)
    doc = parse_report(result.stdout, exit_code=result.exit_code)
    meta = doc["meta"]
    assert set(meta) >= META_KEYS, META_KEYS - set(meta)
    assert meta["rnndoctor"] == __version__ and meta["python"] == ".".join(map(str, sys.version_info[:3]))
    assert meta["device"] == doc["device"] and meta["seed"] == 3
    assert isinstance(meta["threads"], int) and meta["threads"] >= 1
    assert meta["fail_on"] == "warning" and meta["exit_code"] == result.exit_code
    started = datetime.datetime.fromisoformat(meta["started"])
    assert started.tzinfo is not None
    assert before <= started <= after, (before, started, after)


# -- HTML ------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """The parts of a page the tests look at: meta tags, tick labels with their positions, styles, rows."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.ticks: dict[str, list[tuple[float, float]]] = {"x-tick": [], "y-tick": []}
        self.styles: list[str] = []
        self.rows: list[tuple[str, str]] = []
        self.first_tag: tuple[str, dict[str, str]] | None = None
        self._open_tick: tuple[str, float] | None = None
        self._in_style = False
        self._row_class = ""
        self._in_status_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if self.first_tag is None:
            self.first_tag = (tag, attributes)
        classes = attributes.get("class", "").split()
        if tag == "meta" and "name" in attributes:
            self.meta[attributes["name"]] = attributes.get("content", "")
        elif tag == "text" and "tick" in classes:
            kind = "x-tick" if "x-tick" in classes else "y-tick"
            self._open_tick = (kind, float(attributes["x" if kind == "x-tick" else "y"]))
        elif tag == "style":
            self._in_style = True
        elif tag == "tr":
            self._row_class = attributes.get("class", "")
        elif tag == "td" and "status" in classes:
            self._in_status_cell = True

    def handle_endtag(self, tag: str) -> None:
        self._in_style = self._in_style and tag != "style"
        if tag == "text":
            self._open_tick = None
        if tag == "td":
            self._in_status_cell = False

    def handle_data(self, data: str) -> None:
        if self._open_tick is not None:
            kind, position = self._open_tick
            self.ticks[kind].append((float(data), position))
        if self._in_style:
            self.styles.append(data)
        if self._in_status_cell:
            self.rows.append((self._row_class, data))


def parse_page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def selectors(css: str) -> list[str]:
    return [part.strip() for group in re.findall(r"([^{}]+)\{[^{}]*\}", css) for part in group.split(",")]


def test_html_page_has_viewport_generator_and_scoped_styles() -> None:
    page = parse_page(render(sample_report(), Format.HTML))
    assert "width=device-width" in page.meta["viewport"]
    assert page.meta["generator"] == f"rnndoctor {__version__}"
    found = selectors("".join(page.styles))
    assert found and all(re.match(rf"^\.{ROOT_CLASS}(\s|$)", s) for s in found), found


def test_svg_plots_carry_tick_values_in_order() -> None:
    page = parse_page(render(sample_report(), Format.HTML))
    x_ticks, y_ticks = page.ticks["x-tick"], page.ticks["y-tick"]
    assert len(x_ticks) >= 3 and len(y_ticks) >= 3, page.ticks
    assert all(1e-6 <= value <= 1.0 for value, _ in x_ticks)  # the learning rates swept, on a log axis
    assert all(0.6 <= value <= 2.5 for value, _ in y_ticks)  # the losses measured
    assert [p for _, p in sorted(x_ticks)] == sorted(p for _, p in x_ticks)  # larger values further right
    assert [p for _, p in sorted(y_ticks)] == sorted((p for _, p in y_ticks), reverse=True)  # and higher up
    log_steps = {round(b[0] / a[0], 6) for a, b in zip(sorted(x_ticks), sorted(x_ticks)[1:], strict=False)}
    assert len(log_steps) == 1 and log_steps.pop() >= 10  # evenly spaced powers of ten


def test_check_rows_are_coloured_by_status() -> None:
    page = parse_page(render(sample_report(), Format.HTML))
    assert page.rows == [(f"status-{s.value}", s.value) for s in (c.status for c in sample_report().checks)]
    css = "".join(page.styles)
    for status in CheckStatus:
        colour = re.search(rf"\.status-{status.value} \.status\{{color:(#[0-9a-f]+)\}}", css)
        assert colour, status
    colours = {re.search(rf"\.status-{s.value} \.status\{{color:(#[0-9a-f]+)", css).group(1) for s in CheckStatus}  # type: ignore[union-attr]
    assert len(colours) == len(CheckStatus)


def test_notebook_display_is_one_element_with_scoped_styles() -> None:
    report = sample_report()
    fragment = report._repr_html_()
    assert fragment == render_fragment(report)
    page = parse_page(fragment)
    assert page.first_tag is not None and page.first_tag[0] == "div"
    assert page.first_tag[1]["class"] == ROOT_CLASS
    assert fragment.endswith("</div>") and "<html" not in fragment and "<body" not in fragment
    found = selectors("".join(page.styles))
    assert found and all(s.startswith(f".{ROOT_CLASS}") for s in found)
    assert not any(re.match(r"^(body|html|\*|:root|table|h\d|p)\b", s) for s in found)
    assert page.ticks["x-tick"] and "RD101" in fragment


# -- the terminal report ---------------------------------------------------------------------------

_NO_COLOR_ENV: dict[str, str | None] = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None}


def test_no_color_means_no_escape_codes(canned_diagnosis: list[str]) -> None:
    plain = invoke(["check", "cfg.yaml"], env={**_NO_COLOR_ENV, "NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert "RD101" in plain.stdout and not ANSI.search(plain.stdout)


def test_force_color_colours_piped_output(canned_diagnosis: list[str]) -> None:
    piped = invoke(["check", "cfg.yaml"], env=_NO_COLOR_ENV)
    assert not ANSI.search(piped.stdout)
    forced = invoke(["check", "cfg.yaml"], env={**_NO_COLOR_ENV, "FORCE_COLOR": "1"})
    assert ANSI.search(forced.stdout) and "RD101" in forced.stdout


@pytest.mark.parametrize("columns", [60, 140])
def test_text_wraps_to_columns(columns: int, canned_diagnosis: list[str]) -> None:
    result = invoke(["check", "cfg.yaml"], env={**_NO_COLOR_ENV, "COLUMNS": str(columns)})
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) == columns  # the fix panel spans the width, nothing is wider
    first = lines.index(next(line for line in lines if line.startswith("The measured")))
    message = lines[first : first + len(LONG_MESSAGE) // (columns - 20) + 2]
    assert columns - 20 < len(message[0]) <= columns  # the long message fills each line before wrapping


def test_report_files_are_plain_and_file_width(tmp_path: Path, canned_diagnosis: list[str]) -> None:
    invoke(["check", "cfg.yaml", "--report", f"text={tmp_path / 'r.txt'}"], env={**_NO_COLOR_ENV, "FORCE_COLOR": "1"})
    text = (tmp_path / "r.txt").read_text(encoding="utf-8")
    assert not ANSI.search(text) and max(len(line) for line in text.splitlines()) == 100


# -- GitHub annotations ----------------------------------------------------------------------------


def _annotations(text: str) -> list[dict[str, str]]:
    found = []
    for line in text.splitlines():
        match = re.match(r"^::(error|warning|notice) ([^:]*)::", line)
        if match:
            found.append({"level": match[1], **dict(p.split("=", 1) for p in match[2].split(","))})
    return found


def test_annotation_on_the_config_key_the_finding_is_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_project(tmp_path / "configs", {**DEFAULT_CONFIG, "optimizer_args": {"lr": 1.0}})
    lines = config.read_text().splitlines()
    report = sample_report(config=str(config.relative_to(tmp_path)))
    loss = Finding("RD302", Severity.ERROR, "probabilities fed to a loss", "m", "f", check="loss")
    rate = Finding("RD502", Severity.ERROR, "learning rate too high", "m", "f", check="lr_sweep")
    report.findings = [report.findings[0], loss, rate]
    annotations = _annotations(render(report, Format.GITHUB))
    assert [a["file"] for a in annotations] == ["configs/config.yaml"] * 3
    keys = [lines[int(a["line"]) - 1].split(":")[0] for a in annotations]
    assert keys == ["train_data", "loss", "optimizer_args"]


def test_annotation_without_a_config_key_has_no_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("model: m.py:M\n")
    report = sample_report(config="c.yaml")
    assert location(report, report.findings[0]) == ("c.yaml", None)
    assert location(sample_report(config=None), report.findings[0]) == (None, None)


CRASHING_FORWARD = """
    from torch import nn


    class Crashing(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8, batch_first=True)

        def forward(self, x):
            out, _ = self.lstm(x)
            raise ValueError("forward exploded on purpose")
"""


def test_crash_annotation_points_at_the_line_that_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config_map = {**DEFAULT_CONFIG, "model": "nets/crashing.py:Crashing"}
    config_map.pop("model_args")
    config = write_project(tmp_path / "project", config_map, files={"nets/crashing.py": CRASHING_FORWARD})
    result = invoke(["check", config.relative_to(tmp_path), "--quick", "--format", "github"])
    crashes = [a for a in _annotations(result.stdout) if a["file"].endswith(".py")]
    assert crashes, result.stdout
    source = (tmp_path / "project" / "nets" / "crashing.py").read_text().splitlines()
    assert {a["file"] for a in crashes} == {"project/nets/crashing.py"}
    assert all("raise ValueError" in source[int(a["line"]) - 1] for a in crashes), crashes


def test_crash_location_ambiguous_file_falls_back_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for folder in ("a", "b"):
        (tmp_path / "cfg" / folder).mkdir(parents=True)
        (tmp_path / "cfg" / folder / "model.py").write_text("x = 1\n")
    (tmp_path / "cfg" / "config.yaml").write_text("model: a/model.py:M\ntrain_data: d.py:x\n")
    crash = Finding("RD001", Severity.ERROR, "crash", "m", "f", evidence={"at": "model.py:1", "stage": "forward"})
    report = sample_report(config="cfg/config.yaml")
    assert location(report, crash) == ("cfg/config.yaml", 1)  # the forward stage: the `model:` key
    (tmp_path / "cfg" / "b" / "model.py").unlink()
    assert location(report, crash) == ("cfg/a/model.py", 1)


# -- pre-commit --------------------------------------------------------------------------------------


def test_hook_definition_uses_the_system_environment() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "rnndoctor")
    assert hook["language"] == "system"  # no environment built, no second torch installed
    assert hook["entry"] == "rnndoctor check" and hook["verbose"] is True and hook["pass_filenames"] is False
    guide = (ROOT / "docs" / "ci.md").read_text()
    assert "language: system" in guide and "CUDA/CPU trap" in guide


def test_github_actions_example_caches_pip_and_diagnoses_once() -> None:
    workflow = yaml.safe_load((ROOT / "docs" / "examples" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["diagnose"]["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert scripts.count("rnndoctor check") == 1
    command = next(line for line in scripts.replace("\\\n", " ").splitlines() if "rnndoctor check" in line)
    reports = re.findall(r"--report (\w+)=(\S+)", command)
    assert len(reports) == 2 and {fmt for fmt, _ in reports} <= {f.value for f in Format}
    assert "--format github" in command and "GITHUB_STEP_SUMMARY" in scripts and "exit $status" in scripts


def _git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    identity = [
        "-c",
        "user.name=rnndoctor tests",
        "-c",
        "user.email=tests@example.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    done = subprocess.run(["git", *identity, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.slow
def test_pre_commit_runs_the_hook(tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit") or shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    rnndoctor_script = shutil.which("rnndoctor", path=str(Path(sys.executable).parent))
    if pre_commit is None or rnndoctor_script is None or shutil.which("git") is None:
        pytest.skip("needs pre-commit, git and the rnndoctor command (pip install pre-commit)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(
        PATH=f"{Path(rnndoctor_script).parent}{os.pathsep}{env.get('PATH', '')}",
        PRE_COMMIT_HOME=str(tmp_path / "cache"),
        NO_COLOR="1",
    )
    hooks_repo = tmp_path / "hooks"
    hooks_repo.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks_repo / ".pre-commit-hooks.yaml")
    _git("init", "-q", cwd=hooks_repo, env=env)
    _git("add", ".", cwd=hooks_repo, env=env)
    _git("commit", "-q", "-m", "hooks", cwd=hooks_repo, env=env)
    revision = _git("rev-parse", "HEAD", cwd=hooks_repo, env=env)

    project = tmp_path / "project"
    write_project(project)
    hook = {"id": "rnndoctor", "args": ["config.yaml", "--quick", "--device", "cpu"]}
    (project / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": str(hooks_repo), "rev": revision, "hooks": [hook]}]})
    )
    _git("init", "-q", cwd=project, env=env)
    _git("add", ".", cwd=project, env=env)

    def run_hooks() -> subprocess.CompletedProcess[str]:
        # Through this interpreter where it has pre-commit: a version manager's shim (pyenv) would put its own
        # bin folder, and any other rnndoctor installed there, ahead of this checkout's on PATH.
        runner = [sys.executable, "-m", "pre_commit"] if importlib.util.find_spec("pre_commit") else [pre_commit]
        command = [*runner, "run", "--all-files", "--color", "never"]
        return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600)

    passing = run_hooks()
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "rnndoctor diagnosis" in passing.stdout and "Passed" in passing.stdout
    assert "PASS" in passing.stdout and "Checks" in passing.stdout  # verbose: the report shows on success

    collapsed = (project / "data.py").read_text().replace("y = torch.arange(8) % 2", "y = torch.zeros(8).long()")
    (project / "data.py").write_text(collapsed)
    _git("add", ".", cwd=project, env=env)
    failing = run_hooks()
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "Failed" in failing.stdout and "RD101" in failing.stdout


# -- the README's sample report ----------------------------------------------------------------------


@pytest.mark.slow
def test_readme_sample_is_a_current_real_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rnndoctor.docgen import main, mask_timings, readme_sample, sample_block, with_sample

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = tmp_path / "README.md"
    stale.write_text(with_sample(readme, "an old report\n"), encoding="utf-8")
    # The copy lives outside the repository: its sample still runs the repository's example.
    monkeypatch.setattr("rnndoctor.docgen.readme_sample", lambda _root: readme_sample(ROOT))
    assert main(["--readme", str(stale)]) == 0
    regenerated = stale.read_text(encoding="utf-8")
    assert regenerated.replace(sample_block(regenerated), "") == readme.replace(sample_block(readme), "")
    assert mask_timings(sample_block(readme)) == mask_timings(sample_block(regenerated)), (
        "the README's sample report is stale: python -m rnndoctor.docgen --readme README.md"
    )


def test_timing_mask_ignores_seconds_and_column_width() -> None:
    from rnndoctor.docgen import mask_timings

    fast = " check   status     s  detail\n inputs  passed  0.01  float\n9 forward · 1.32 s · end\n"
    slow = " check   status      s  detail\n inputs  passed  12.01  float\n9 forward · 15.02 s · end\n"
    assert mask_timings("Checks\n" + fast) == mask_timings("Checks\n" + slow)
    assert mask_timings("Checks\n" + fast) != mask_timings("Checks\n" + fast.replace("float", "int"))
    assert mask_timings("loss 0.7465\n") == "loss 0.7465\n"


def test_readme_sample_block_round_trip() -> None:
    from rnndoctor.docgen import SAMPLE_END, SAMPLE_START, sample_block, with_sample

    readme = f"intro\n\n{SAMPLE_START}\n```text\nold\n```\n{SAMPLE_END}\n\nrest\n"
    updated = with_sample(readme, "new report\n")
    assert sample_block(updated) == "new report\n"
    assert updated.startswith("intro\n\n") and updated.endswith(f"{SAMPLE_END}\n\nrest\n")
    with pytest.raises(ValueError, match="sample markers"):
        sample_block("no markers here")


def test_meta_gains_fail_on_and_exit_code() -> None:
    doc = json.loads(render(sample_report(), Format.JSON))
    assert doc["meta"]["fail_on"] == "error" and doc["meta"]["exit_code"] == 1
