"""Where the findings land (issue 28 §9): a model-structure annotation on the model's own class in the user's
file, one annotation per cause (its symptoms listed in it), and an HTML report that reads at 375 px and uses
the width at 1280 px, with a tick at a sweep's baseline and the marks on the second sweep's plot."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from rnndoctor import diagnose
from rnndoctor.core.findings import CheckResult, CheckStatus, Finding, Report, Severity
from rnndoctor.render import render
from rnndoctor.render.html import scoped_css
from rnndoctor.render.plots import plot, svg
from tests.helpers import write_project

MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn


    class TinyClassifier(nn.Module):
        \"\"\"A classifier whose LSTM asks for dropout it cannot apply (RD205).\"\"\"

        def __init__(self, **kwargs):
            super().__init__()
            self.lstm = nn.LSTM(3, 8, batch_first=True, dropout=0.3)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])
    """
)


def test_a_structure_annotation_points_at_the_layer_in_the_model_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_project(tmp_path / "project", files={"models.py": MODELS})
    monkeypatch.chdir(tmp_path / "project")
    report = diagnose(str(config), select=["RD205"], quick=True)
    annotations = [line for line in render(report, "github").splitlines() if line.startswith("::")]
    (rd205,) = [line for line in annotations if "RD205" in line]
    line = next(n for n, text in enumerate(MODELS.splitlines(), 1) if "self.lstm = " in text)
    assert rd205.startswith(f"::notice file=models.py,line={line},"), rd205  # not the config's model: line
    assert report.model["line"] == next(n for n, t in enumerate(MODELS.splitlines(), 1) if t.startswith("class "))


def test_symptoms_are_listed_in_their_cause_s_annotation() -> None:
    cause = Finding("RD206", Severity.ERROR, "output depends on padding positions", "m", "f", check="probes")
    symptoms = [
        Finding("RD507", Severity.ERROR, "training stays at chance level", "m", "f", check="overfitting"),
        Finding("RD503", Severity.ERROR, "cannot overfit a single batch", "m", "f", check="overfit_batch"),
    ]
    for symptom in symptoms:
        symptom.explained_by = "RD206"
    report = Report("c.yaml", "cpu", [cause, *symptoms], [CheckResult("probes", CheckStatus.FOUND)])
    annotations = [line for line in render(report, "github").splitlines() if line.startswith("::")]
    assert len(annotations) == 1 and annotations[0].startswith("::error ")
    assert "RD507 training stays at chance level" in annotations[0] and "RD503" in annotations[0]


# -- the HTML report at a phone's and a desktop's width ---------------------------------------------------

REM = 16.0


def _rule(css: str, selector: str) -> dict[str, str]:
    match = re.search(rf"\.rnndoctor-report {re.escape(selector)}\{{([^}}]*)\}}", css)
    assert match, selector
    return dict(part.split(":", 1) for part in match.group(1).split(";") if part)


def _px(value: str) -> float:
    return float(value.removesuffix("rem")) * REM if value.endswith("rem") else float(value.removesuffix("px"))


def _chart_width(viewport: float, css: str) -> float:
    """The CSS width of a chart: its column (the report's max-width less its padding), never below min-width."""
    root = re.search(r"\.rnndoctor-report\{([^}]*)\}", css)
    assert root
    rules = dict(part.split(":", 1) for part in root.group(1).split(";") if part)
    column = min(viewport, _px(rules["max-width"])) - 2 * _px(rules["padding"])
    chart = _rule(css, "svg")
    assert chart["width"] == "100%" and chart["height"] == "auto"
    return max(column, _px(chart["min-width"]))


def test_plots_are_readable_on_a_phone_and_use_the_width_on_a_desktop() -> None:
    css = scoped_css()
    chart = svg(plot("loss", [1e-5, 1e-4, 1e-3, 1e-2], [0.7, 0.6, 0.9, 2.0], log_x=True))
    view_width = float(re.search(r'viewBox="0 0 (\d+)', chart).group(1))  # type: ignore[union-attr]
    tick = float(re.search(r'class="tick y-tick"[^>]*font-size="(\d+)"', chart).group(1))  # type: ignore[union-attr]
    phone, desktop = _chart_width(375, css), _chart_width(1280, css)
    assert tick * phone / view_width >= 10, "ticks under 10 px at 375 px"
    assert desktop >= 800, "the plot leaves most of a 1280 px page empty"
    assert _rule(css, "figure")["overflow-x"] == "auto"  # below min-width the chart scrolls, never shrinks


def test_the_checks_table_wraps_instead_of_clipping() -> None:
    css = scoped_css()
    table = _rule(css, "table")
    assert table.get("width") == "100%" and "display" not in table and "overflow-x" not in table
    assert _rule(css, "th").get("overflow-wrap") == "anywhere"  # the rule for "td, th"


def test_a_sweep_that_starts_flat_has_a_tick_at_its_baseline() -> None:
    lrs = [10 ** (-7 + 0.2 * i) for i in range(36)]
    losses = [0.6931] * 28 + [0.75, 0.9, 1.2, 1.6, 2.0, 2.5, 2.9, 3.12]
    chart = svg(plot("learning-rate range test", lrs, losses, log_x=True))
    ticks = [float(t) for t in re.findall(r'class="tick y-tick"[^>]*>([^<]+)<', chart)]
    assert min(ticks) == pytest.approx(0.693, abs=1e-3), ticks


def test_marks_off_the_second_sweep_s_range_are_named_at_its_edge() -> None:
    lrs = [10 ** (-3 + 0.1 * i) for i in range(30)]
    chart = svg(
        plot("second range test", lrs, [1.0] * 30, log_x=True, marks={"configured": 1e-4, "first sweep diverged": 0.1})
    )
    assert "← configured 0.0001" in chart
    assert re.search(r'class="mark"', chart)  # the divergence point lies inside: a dashed line
