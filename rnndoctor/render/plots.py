"""Small plots of measured curves (gradient per time step, loss per learning rate): a sparkline for
terminals, inline SVG for HTML, PNG files through matplotlib when the ``plots`` extra is installed.

A check publishes a curve by putting a plot dict under ``metrics["plots"]``; see `plot`.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

SPARK = "▁▂▃▄▅▆▇█"


def plot(
    title: str,
    x: list[float],
    y: list[float],
    *,
    x_label: str = "",
    y_label: str = "",
    log_x: bool = False,
    log_y: bool = False,
    marks: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A JSON-ready description of one curve; ``marks`` are labelled vertical lines at x values."""
    return {
        "title": title,
        "x": [float(v) for v in x],
        "y": [float(v) if v is not None and math.isfinite(v) else None for v in y],
        "x_label": x_label,
        "y_label": y_label,
        "log_x": log_x,
        "log_y": log_y,
        "marks": {k: float(v) for k, v in (marks or {}).items() if v is not None},
    }


def sparkline(values: list[float | None], width: int = 40, log: bool = True) -> str:
    """One character per bucket of values, low to high; log scale by default (non-positive is blank)."""
    if not values:
        return ""
    step = max(1, math.ceil(len(values) / width))
    buckets = [[v for v in values[i : i + step] if v is not None] for i in range(0, len(values), step)]
    sampled = [max(b) if b else None for b in buckets]
    scaled = [(_log(v) if log else v) if v is not None else None for v in sampled]
    finite = [v for v in scaled if v is not None]
    if not finite:
        return " " * len(sampled)
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    return "".join(" " if v is None else SPARK[min(7, int((v - low) / span * 7.999))] for v in scaled)


def _log(value: float) -> float | None:
    return math.log10(value) if value > 0 else None


def plots_of(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    found = metrics.get("plots")
    return [p for p in found if isinstance(p, dict) and p.get("x")] if isinstance(found, list) else []


def svg(figure: dict[str, Any], width: int = 480, height: int = 160) -> str:
    """An inline SVG line chart of one plot dict."""
    log_x, log_y = bool(figure.get("log_x")), bool(figure.get("log_y"))

    def tx(v: float) -> float:
        return math.log10(v) if log_x else float(v)

    def ty(v: float) -> float:
        return math.log10(v) if log_y else float(v)

    raw = [(float(x), float(y)) for x, y in zip(figure["x"], figure["y"], strict=False) if y is not None]
    points = [(tx(x), ty(y)) for x, y in raw if (not log_x or x > 0) and (not log_y or y > 0)]
    if len(points) < 2:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = 24

    def sx(v: float) -> float:
        return pad + (v - x0) / ((x1 - x0) or 1) * (width - 2 * pad)

    def sy(v: float) -> float:
        return height - pad - (v - y0) / ((y1 - y0) or 1) * (height - 2 * pad)

    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    marks = []
    for label, value in figure.get("marks", {}).items():
        if log_x and value <= 0:
            continue
        position = sx(tx(value))
        if pad <= position <= width - pad:
            marks.append(
                f'<line x1="{position:.1f}" y1="{pad}" x2="{position:.1f}" y2="{height - pad}" stroke="#b00020" '
                f'stroke-dasharray="4 3"/><text x="{position + 3:.1f}" y="{pad + 10}" font-size="10" '
                f'fill="#b00020">{html.escape(label)}</text>'
            )
    axis = (
        f'<text x="{width / 2:.0f}" y="{height - 4}" font-size="10" text-anchor="middle">'
        f"{html.escape(figure.get('x_label', ''))}{' (log)' if figure.get('log_x') else ''}</text>"
        f'<text x="4" y="{pad - 8}" font-size="10">{html.escape(figure.get("y_label", ""))}'
        f"{' (log)' if figure.get('log_y') else ''}</text>"
    )
    return (
        f"<figure><figcaption>{html.escape(figure['title'])}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" fill="none" stroke="#ccc"/>'
        f'<polyline points="{line}" fill="none" stroke="#2962ff" stroke-width="1.5"/>{"".join(marks)}{axis}</svg>'
        "</figure>"
    )


def write_png(figure: dict[str, Any], path: Path) -> bool:
    """Draw one plot to ``path`` with matplotlib; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 3))
    xs = [x for x, y in zip(figure["x"], figure["y"], strict=False) if y is not None]
    ys = [y for y in figure["y"] if y is not None]
    ax.plot(xs, ys, color="#2962ff")
    if figure.get("log_x"):
        ax.set_xscale("log")
    if figure.get("log_y"):
        ax.set_yscale("log")
    for label, value in figure.get("marks", {}).items():
        ax.axvline(value, color="#b00020", linestyle="--", linewidth=1)
        ax.annotate(
            label,
            (value, 1),
            xycoords=("data", "axes fraction"),
            fontsize=8,
            color="#b00020",
            xytext=(3, -10),
            textcoords="offset points",
        )
    ax.set_title(figure["title"])
    ax.set_xlabel(figure.get("x_label", ""))
    ax.set_ylabel(figure.get("y_label", ""))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_plots(checks: list[Any], folder: Path) -> list[Path] | None:
    """PNG files of every plot in the checks' metrics; None when matplotlib is not installed."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for check in checks:
        for index, figure in enumerate(plots_of(check.metrics)):
            path = folder / f"{check.name}-{index + 1}.png"
            if not write_png(figure, path):
                return None
            written.append(path)
    return written
