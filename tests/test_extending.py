"""The walk-through of docs/extending.md holds: its example rule module, installed from a package of another
distribution (the ``rnndoctor.rules`` entry point), is reported by the check it names, documented by
``rnndoctor explain`` and listed by ``rnndoctor rules``, with nothing in rnndoctor edited."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import DEFAULT_CONFIG, write_project

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "extending.md"
MARKER = "<!-- example rule: tests/test_extending.py installs this module and runs it -->"


def example_rule() -> str:
    """The rule module the guide walks through, as the guide prints it."""
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(re.escape(MARKER) + r"\n```python\n(.*?)\n```\n", text, re.S)
    assert block is not None, "the guide's example rule is not marked"
    return block.group(1) + "\n"


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder holding a package with the guide's rule module and the distribution that declares it."""
    site = tmp_path_factory.mktemp("site")
    package = site / "extra_rules"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text('"""Rules of another package."""\n', encoding="utf-8")
    (package / "data" / "__init__.py").write_text('FAMILY = "data"\n', encoding="utf-8")
    (package / "data" / "rd112_unused_output_classes.py").write_text(example_rule(), encoding="utf-8")
    dist = site / "extra_rules-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-rules\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[rnndoctor.rules]\nextra = extra_rules\n", encoding="utf-8")
    return site


def _cli(site: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "rnndoctor", *args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def test_the_example_rule_is_listed_with_its_check(plugin: Path) -> None:
    result = _cli(plugin, "rules", "--format", "json")
    assert result.returncode == 0, result.stderr
    listed = {row["code"]: row for row in json.loads(result.stdout)}
    assert listed["RD112"]["title"] == "the model outputs classes that no target uses"
    assert listed["RD112"]["severity"] == "info"
    assert listed["RD112"]["check"] == "labels"


def test_the_example_rule_is_documented(plugin: Path) -> None:
    result = _cli(plugin, "explain", "RD112")
    assert result.returncode == 0, result.stderr
    assert "the model outputs classes that no target uses" in result.stdout
    assert "Compares the number of classes the model outputs" in result.stdout


def test_the_example_rule_is_reported_on_its_fixture(plugin: Path, tmp_path: Path) -> None:
    wide = {**DEFAULT_CONFIG, "model_args": {"input_size": 3, "hidden_size": 8, "num_classes": 10}}
    config = write_project(tmp_path, wide)
    result = _cli(plugin, "check", str(config), "--select", "RD112", "--format", "json", "--no-progress")
    assert result.returncode == 0, result.stderr  # an info finding does not fail the run
    report = json.loads(result.stdout)
    assert [(f["code"], f["check"]) for f in report["findings"]] == [("RD112", "labels")]
    assert report["findings"][0]["evidence"] == {"num_classes": 10, "used": 2, "unused_share": 0.8, "samples": 8}


def test_the_example_rule_stays_quiet_on_the_healthy_twin(plugin: Path, tmp_path: Path) -> None:
    config = write_project(tmp_path, DEFAULT_CONFIG)
    result = _cli(plugin, "check", str(config), "--select", "RD112", "--format", "json", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == []
