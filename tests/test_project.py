"""The project's own promises: README set-up commands, CI script, examples runnable from anywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rnndoctor import diagnose

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, re.S)


def test_readme_starts_with_exactly_two_setup_commands() -> None:
    commands = setup_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "rnndoctor check examples/" in commands[0]
    assert "pytest" in commands[1]
    assert all("torch==2.13.0" in c for c in commands), "a CPU machine must never pull CUDA wheels"


def test_ci_runs_the_readme_test_command() -> None:
    assert setup_commands()[1] in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    ("example", "root_cause"),
    [
        ("healthy_lstm", None),
        ("label_collapse", "RD101"),
        ("imbalanced", "RD102"),
        ("stock_prices", "RD106"),
        ("double_softmax", "RD302"),
        ("sine_broadcast", "RD304"),
        ("nll_raw_scores", "RD303"),
        ("tagging_ntc", "RD305"),
        ("batch_first_mixup", "RD202"),
        ("padded_last_step", "RD206"),
        ("hn_view", "RD207"),
        ("detached_encoder", "RD210"),
        ("missing_zero_grad", "RD404"),
    ],
)
def test_examples_run_from_any_directory(
    example: str, root_cause: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example's bug is the one root cause; whatever else is reported is a symptom folded under it."""
    monkeypatch.chdir(tmp_path)
    report = diagnose(ROOT / "examples" / example / "config.yaml")
    if root_cause is None:
        assert report.findings == []
        return
    codes = [f.code for f in report.findings]
    assert codes[0] == root_cause, codes
    assert all(f.explained_by == root_cause for f in report.findings[1:]), [
        (f.code, f.explained_by) for f in report.findings
    ]


def test_every_mutation_applies() -> None:
    """tests/mutations.py breaks the code in at least 30 places; each snippet is still there to break."""
    from tests import mutations

    assert len(mutations.MUTATIONS) >= mutations.MINIMUM
    assert mutations.stale() == [], "update these mutations to the code they break"


def test_the_version_is_the_projects() -> None:
    from rnndoctor import __version__

    assert f'version = "{__version__}"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
