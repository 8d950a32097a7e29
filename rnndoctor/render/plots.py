"""Small plots of measured curves (gradient per time step, loss per learning rate): a sparkline for
terminals, inline SVG for HTML, PNG files through matplotlib when the ``plots`` extra is installed.

A check publishes a curve by putting a plot dict under ``metrics["plots"]``; see `plot`. A plot with
``series`` (labelled lines on the same axes, such as train and validation loss) is drawn line by line with
a legend; one without draws its single ``y``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPARK = "▁▂▃▄▅▆▇█"

SERIES_COLOURS = ("#2962ff", "#d98200", "#1b7f3b", "#8e24aa", "#00838f", "#6d4c41")
"""Line colours in order, the same in SVG and PNG; the first is the colour of a plot without series."""


def plot(
    title: str,
    x: Sequence[float],
    y: Sequence[float | None],
    *,
    x_label: str = "",
    y_label: str = "",
    log_x: bool = False,
    log_y: bool = False,
    marks: dict[str, float] | None = None,
    series: Sequence[tuple[str, Sequence[float | None]]] = (),
) -> dict[str, Any]:
    """A JSON-ready description of one curve; ``marks`` are labelled vertical lines at x values. With
    ``series`` (label, values per x) the plot holds several lines; ``y`` is then ignored by the renderers
    but kept for readers of the JSON that expect one line."""
    figure: dict[str, Any] = {
        "title": title,
        "x": [float(v) for v in x],
        "y": _finite(y),
        "x_label": x_label,
        "y_label": y_label,
        "log_x": log_x,
        "log_y": log_y,
        "marks": {k: float(v) for k, v in (marks or {}).items() if v is not None},
    }
    if series:
        figure["series"] = [{"label": label, "y": _finite(values)} for label, values in series]
    return figure


def _finite(values: Sequence[float | None]) -> list[float | None]:
    return [float(v) if v is not None and math.isfinite(v) else None for v in values]


def lines_of(figure: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """The lines a plot draws, each with its label: every entry of ``series`` when the plot has any (see
    `has_series`), else its one ``y`` with an empty label."""
    return _series_lines(figure) or [("", list(figure["y"]))]


def has_series(figure: dict[str, Any]) -> bool:
    """Whether the plot draws labelled lines (with a legend) rather than its single ``y``."""
    return bool(_series_lines(figure))


def _series_lines(figure: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    series = figure.get("series")
    if not isinstance(series, list):
        return []
    return [
        (str(line.get("label", "")), list(line["y"]))
        for line in series
        if isinstance(line, dict) and isinstance(line.get("y"), list)
    ]


def sparkline(values: list[float | None], width: int = 40, log: bool = True) -> str:
    """One character per bucket of values, low to high; log scale by default (non-positive is blank)."""
    return sparklines([values], width, log)[0]


def sparklines(lines: Sequence[Sequence[float | None]], width: int = 40, log: bool = True) -> list[str]:
    """A `sparkline` per line, all on one scale, so that the higher of two lines shows higher."""
    scaled_lines = []
    for values in lines:
        step = max(1, math.ceil(len(values) / width))
        buckets = [[v for v in values[i : i + step] if v is not None] for i in range(0, len(values), step)]
        sampled = [max(b) if b else None for b in buckets]
        scaled_lines.append([(_log(v) if log else v) if v is not None else None for v in sampled])
    finite = [v for scaled in scaled_lines for v in scaled if v is not None]
    if not finite:
        return [" " * len(scaled) for scaled in scaled_lines]
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    return [
        "".join(" " if v is None else SPARK[min(7, int((v - low) / span * 7.999))] for v in scaled)
        for scaled in scaled_lines
    ]


def _log(value: float) -> float | None:
    return math.log10(value) if value > 0 else None


def plots_of(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    found = metrics.get("plots")
    return [p for p in found if isinstance(p, dict) and p.get("x")] if isinstance(found, list) else []


TICK_FONT = 14
"""Font size of tick values and labels, in the chart's own units: the HTML report draws a chart at the width
of its column but never narrower than ``MIN_WIDTH`` CSS pixels, so ticks stay near 10 px or more on a phone."""
MIN_WIDTH_REM = 34


def svg(figure: dict[str, Any], width: int = 720, height: int = 240) -> str:
    """An inline SVG line chart of one plot dict, with tick values on both axes, scaled to its container."""
    log_x, log_y = bool(figure.get("log_x")), bool(figure.get("log_y"))

    def tx(v: float) -> float:
        return math.log10(v) if log_x else float(v)

    def ty(v: float) -> float:
        return math.log10(v) if log_y else float(v)

    lines = []
    for label, values in lines_of(figure):
        raw = [(float(x), float(y)) for x, y in zip(figure["x"], values, strict=False) if y is not None]
        lines.append((label, [(tx(x), ty(y)) for x, y in raw if (not log_x or x > 0) and (not log_y or y > 0)]))
    if max(len(points) for _, points in lines) < 2:
        return ""
    xs, ys = [x for _, points in lines for x, _ in points], [y for _, points in lines for _, y in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    left, right, top, bottom = 66, 14, 26, 44
    font = TICK_FONT

    def sx(v: float) -> float:
        return left + (v - x0) / ((x1 - x0) or 1) * (width - left - right)

    def sy(v: float) -> float:
        return height - bottom - (v - y0) / ((y1 - y0) or 1) * (height - top - bottom)

    parts = [
        f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" fill="none" '
        'stroke="#ccc"/>'
    ]
    for value in axis_ticks(x0, x1, log_x):
        position = sx(value)
        parts.append(
            f'<line x1="{position:.1f}" y1="{height - bottom}" x2="{position:.1f}" y2="{height - bottom + 5}" '
            f'stroke="#888"/><text class="tick x-tick" x="{position:.1f}" y="{height - bottom + 5 + font}" '
            f'font-size="{font}" text-anchor="middle">{tick_label(value, log_x)}</text>'
        )
    for value, label in with_floor(axis_ticks(y0, y1, log_y), y0, y1, log_y):
        position = sy(value)
        parts.append(
            f'<line x1="{left - 5}" y1="{position:.1f}" x2="{left}" y2="{position:.1f}" stroke="#888"/>'
            f'<text class="tick y-tick" x="{left - 7}" y="{position + font / 3:.1f}" font-size="{font}" '
            f'text-anchor="end">{label}</text>'
        )
    labelled = has_series(figure)
    for index, (label, points) in enumerate(lines):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        if not labelled:
            parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        elif len(points) == 1:
            # A line with one point is still drawn, as a dot: the legend names it.
            parts.append(
                f'<circle class="series" data-label="{html.escape(label)}" cx="{sx(points[0][0]):.1f}" '
                f'cy="{sy(points[0][1]):.1f}" r="2.5" fill="{colour}"/>'
            )
        elif points:
            parts.append(
                f'<polyline class="series" data-label="{html.escape(label)}" points="{line}" fill="none" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
    for index, (label, value) in enumerate(figure.get("marks", {}).items()):
        if log_x and value <= 0:
            continue
        position = sx(tx(value))
        # Each label a line lower than the one before: marks close together must not print over each other.
        baseline = top + font + (font + 2) * index
        if left <= position <= width - right:
            parts.append(
                f'<line class="mark" x1="{position:.1f}" y1="{top}" x2="{position:.1f}" y2="{height - bottom}" '
                f'stroke="#b00020" stroke-dasharray="4 3"/><text class="mark-label" x="{position + 4:.1f}" '
                f'y="{baseline}" font-size="{font - 1}" fill="#b00020">{html.escape(label)}</text>'
            )
        else:
            # Off the plotted range: named at the edge it lies beyond, with its value.
            before = position < left
            parts.append(
                f'<text class="mark-label" x="{left + 4 if before else width - right - 4}" y="{baseline}" '
                f'font-size="{font - 1}" fill="#b00020" text-anchor="{"start" if before else "end"}">'
                f"{'← ' if before else ''}{html.escape(label)} {value:.2g}{'' if before else ' →'}</text>"
            )
    parts.append(
        f'<text class="axis-label" x="{left + (width - left - right) / 2:.0f}" y="{height - 4}" '
        f'font-size="{font}" text-anchor="middle">{html.escape(figure.get("x_label", ""))}'
        f"{' (log)' if log_x else ''}</text>"
        f'<text class="axis-label" x="4" y="{top - 9}" font-size="{font}">{html.escape(figure.get("y_label", ""))}'
        f"{' (log)' if log_y else ''}</text>"
    )
    if labelled:
        parts.append(_legend([label for label, _ in lines], width - right, top - 9))
    return (
        f"<figure><figcaption>{html.escape(figure['title'])}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(figure["title"])}">'
        f"{''.join(parts)}</svg></figure>"
    )


def _legend(labels: list[str], right_edge: float, baseline: float) -> str:
    """A row of colour swatches and labels in the top margin, ending at ``right_edge``."""
    swatch, gap, char_width = 18, 12, 0.56 * TICK_FONT
    widths = [swatch + 4 + len(label) * char_width for label in labels]
    position = right_edge - sum(widths) - gap * (len(labels) - 1)
    entries = []
    for index, (label, entry_width) in enumerate(zip(labels, widths, strict=True)):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        entries.append(
            f'<line x1="{position:.1f}" y1="{baseline - 3:.1f}" x2="{position + swatch:.1f}" y2="{baseline - 3:.1f}" '
            f'stroke="{colour}" stroke-width="2"/><text class="legend-label" x="{position + swatch + 4:.1f}" '
            f'y="{baseline:.1f}" font-size="{TICK_FONT}">{html.escape(label)}</text>'
        )
        position += entry_width + gap
    return f'<g class="legend">{"".join(entries)}</g>'


def with_floor(ticks: list[float], low: float, high: float, log: bool) -> list[tuple[float, str]]:
    """The ticks with their labels, and the lowest value plotted as one more tick when no round tick is
    near it: a curve that starts flat (a loss sweep's baseline at 0.693) shows the level it starts from."""
    labelled = [(value, tick_label(value, log)) for value in ticks]
    span = (high - low) or 1.0
    if log or any(abs(value - low) <= 0.1 * span for value in ticks):
        return labelled
    floor = (low, f"{low:.3g}")
    return [floor, *((value, label) for value, label in labelled if value - low > 0.12 * span)]


def axis_ticks(low: float, high: float, log: bool, count: int = 5) -> list[float]:
    """Round tick positions inside ``[low, high]``. On a log axis the bounds and positions are log10 values:
    whole powers of ten when the range spans at least two of them, else round values of the quantity."""
    if high < low:
        low, high = high, low
    if log:
        powers = [float(p) for p in range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1)]
        if len(powers) >= 2:
            return powers[:: max(1, math.ceil(len(powers) / count))]
        return [math.log10(v) for v in _round_ticks(10**low, 10**high, count) if v > 0]
    return _round_ticks(low, high, count)


def _round_ticks(low: float, high: float, count: int) -> list[float]:
    """Multiples of 1, 2 or 5 times a power of ten, about ``count`` of them between ``low`` and ``high``."""
    if high <= low:
        return [low]
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step * (1 - 1e-9))
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [round(n * step, 12) for n in range(first, last + 1)]


def tick_label(position: float, log: bool) -> str:
    """A tick's value as text: ``1e-05``, ``0.001``, ``250``; on a log axis ``position`` is the exponent."""
    if log and float(position).is_integer() and not -3 <= position <= 3:
        return f"1e{int(position)}"
    if log:
        return f"{10**position:.4g}"
    return "0" if position == 0 else f"{position:.6g}"


def write_png(figure: dict[str, Any], path: Path) -> bool:
    """Draw one plot (every line of its ``series``, with a legend) to ``path`` with matplotlib; False when
    matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 3))
    labelled = has_series(figure)
    for index, (label, values) in enumerate(lines_of(figure)):
        points = [(x, y) for x, y in zip(figure["x"], values, strict=False) if y is not None]
        ax.plot(
            [x for x, _ in points],
            [y for _, y in points],
            color=SERIES_COLOURS[index % len(SERIES_COLOURS)],
            label=label if labelled else None,
            # Dots on short labelled histories: one per epoch shows where each value was logged.
            marker="." if labelled and len(points) < 30 else None,
        )
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
    if labelled:
        ax.legend(fontsize=8)
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
