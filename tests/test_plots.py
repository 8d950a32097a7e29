"""Measured curves reach every place a user looks: terminal sparkline, HTML SVG, PNG files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnndoctor import diagnose
from rnndoctor.render import render
from rnndoctor.render.plots import plot, sparkline, svg, write_plots
from tests import setups


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return diagnose(**setups.short_memory(), select=["RD403"])


def test_probe_publishes_its_gradient_profile(report) -> None:  # type: ignore[no-untyped-def]
    probes = next(c for c in report.checks if c.name == "probes")
    (figure,) = probes.metrics["plots"]
    assert figure["log_y"] and figure["marks"]["memory"] == probes.metrics["effective_memory"]
    text = render(report, "text")
    assert "input gradient per step back" in text
    assert any(ch in text for ch in "▁▂▃▄▅▆▇█")
    assert "<svg" in render(report, "html")


def test_png_files(report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    written = write_plots(report.checks, tmp_path / "plots")
    assert written and all(p.read_bytes().startswith(b"\x89PNG") for p in written)


def test_svg_and_sparkline_handle_gaps() -> None:
    figure = plot("loss", [1e-5, 1e-4, 1e-3, 1e-2], [1.0, None, 0.5, float("nan")], log_x=True, marks={"lr": 1e-3})
    assert figure["y"] == [1.0, None, 0.5, None]
    assert "<polyline" in svg(figure) and "lr" in svg(figure)
    assert sparkline([None, None]) == "  "
    assert svg(plot("flat", [1.0], [1.0])) == ""
