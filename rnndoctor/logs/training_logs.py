"""Read a training history from the logs people already have.

`rnndoctor curves` accepts a CSV (comma, semicolon or tab separated: Lightning's CSVLogger ``metrics.csv``,
Keras's CSVLogger, a Weights & Biases export, a spreadsheet export), a Lightning ``lightning_logs`` folder
(the latest ``version_N``), TensorBoard event files or a folder of them (Lightning's and Hugging Face's
default loggers, Keras's ``TensorBoard`` callback, ``torch.utils.tensorboard.SummaryWriter``), and Hugging
Face's ``trainer_state.json`` (or its output folder, the latest ``checkpoint-N``).

Every reader turns its log into named series of points (step, epoch, value); one merge then picks the
train/validation series by name (`rnndoctor.logs.names`) and lines them up per epoch (or per step when the
log has no epochs), so the judges in `rnndoctor.logs.curves` never see a log format. Every numeric series
the merge does not read is kept in ``History.unread``, so the report can name it.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnndoctor.logs.names import (
    EPOCH_NAMES,
    METRIC_LABELS,
    METRIC_NAMES,
    STEP_NAMES,
    Choice,
    looks_like,
    pick_series,
)
from rnndoctor.setup.errors import SetupError

__all__ = [
    "EPOCH_NAMES",
    "MAX_POINTS",
    "METRIC_LABELS",
    "METRIC_NAMES",
    "STEP_NAMES",
    "SUMMARY",
    "History",
    "Point",
    "choose_run",
    "is_event_file",
    "lightning_versions",
    "read_history",
    "sniff_separator",
]

TRAINER_STATE = "trainer_state.json"
SUMMARY = " (the run's summary)"
"""Marks the keys of a trainer_state.json's closing entry among the series not read."""

SPLIT_FOLDERS = frozenset({"train", "training", "validation", "val", "valid", "eval"})
"""Sub-folders that hold one split of the same run (Keras's TensorBoard callback), not separate runs."""

MAX_POINTS = 100
"""A per-step training loss longer than this, with nothing to group it by, is averaged in this many bins:
batch-to-batch noise is not what the judges look at."""


@dataclass
class History:
    """Train/validation loss and accuracy, aligned on one axis (``epochs`` holds steps when ``axis`` is
    ``step``); None where a metric was not logged at that point."""

    epochs: list[float] = field(default_factory=list)
    train_loss: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    train_acc: list[float | None] = field(default_factory=list)
    val_acc: list[float | None] = field(default_factory=list)
    source: str = ""
    axis: str = "epoch"
    read: dict[str, str] = field(default_factory=dict)
    """Which column or tag of the log each metric came from, by metric key (``train_loss``)."""
    kind: str = "column"
    """What the log calls its series: ``column`` (CSV), ``tag`` (TensorBoard) or ``key`` (JSON)."""
    notes: list[str] = field(default_factory=list)
    """How the log was found and shaped (the version picked, per-step values averaged), for the report."""
    unread: list[str] = field(default_factory=list)
    """Every numeric series of the log that was not read, in the log's order."""

    def unread_described(self) -> list[str]:
        """The unread series, each with what it seems to be when its name says (``Loss/test (a loss)``)."""
        return [
            f"{name} ({looks_like(name)})" if looks_like(name) and not name.endswith(SUMMARY) else name
            for name in self.unread
        ]


@dataclass(frozen=True)
class Point:
    step: float
    """Where in the log: the logged step, else the row number."""
    value: float
    epoch: float | None = None


Series = dict[str, list[Point]]
"""Points by the name the log gives them (a column header, a TensorBoard tag)."""


@dataclass(frozen=True)
class Wanted:
    """The series the user named (``--train``, ``--val``); None leaves the choice to the names."""

    train: str | None = None
    val: str | None = None


def read_history(path: str | Path, train: str | None = None, val: str | None = None) -> History:
    """The training history in a CSV file, an event file, a ``trainer_state.json``, or a folder holding
    one; ``train`` and ``val`` name the series to read as the training and validation loss."""
    target = Path(path)
    display = str(path)
    wanted = Wanted(train, val)
    if not target.exists():
        raise SetupError("cannot read the training log: no such file or folder", file=display)
    if target.is_dir():
        return _read_folder(target, display, wanted)
    if is_event_file(target):
        return _from_series(_event_series([target], target.parent, display), display, [], "tag", wanted)
    if _is_json(target):
        series, summary = _trainer_state_series(target, display)
        return _from_series(series, display, [], "key", wanted, summary)
    return _from_series(_csv_series(target, display), display, [], "column", wanted)


def is_event_file(path: Path) -> bool:
    return "tfevents" in path.name


def _read_folder(folder: Path, display: str, wanted: Wanted) -> History:
    notes: list[str] = []
    run = folder
    if (run / "lightning_logs").is_dir() and not (run / "metrics.csv").is_file():
        run = run / "lightning_logs"
    versions = lightning_versions(run)
    if versions:
        run = versions[-1]
        notes.append(f"{run.name} (the latest of {len(versions)} versions)" if len(versions) > 1 else run.name)
    metrics = run / "metrics.csv"
    if metrics.is_file():
        return _from_series(_csv_series(metrics, display), display, notes, "column", wanted)
    state = trainer_state(run)
    if state is not None:
        if state.parent != run:
            notes.append(f"{state.parent.name}/{state.name}")
        series, summary = _trainer_state_series(state, display)
        return _from_series(series, display, notes, "key", wanted, summary)
    events = sorted(p for p in run.rglob("*tfevents*") if p.is_file())
    if not events:
        raise SetupError(
            "no training log in this folder: expected metrics.csv (Lightning's CSVLogger), TensorBoard event files "
            "(events.out.tfevents.*), trainer_state.json (Hugging Face) or lightning_logs/version_N folders",
            file=display,
        )
    root, events, note = choose_run(run, events)
    if note:
        notes.append(note)
    return _from_series(_event_series(events, root, display), display, notes, "tag", wanted)


def trainer_state(folder: Path) -> Path | None:
    """Hugging Face's ``trainer_state.json`` in the folder, else in its latest ``checkpoint-N`` (by N)."""
    if (folder / TRAINER_STATE).is_file():
        return folder / TRAINER_STATE
    found = [
        (int(m.group(1)), p / TRAINER_STATE)
        for p in folder.iterdir()
        if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and (p / TRAINER_STATE).is_file()
    ]
    return max(found)[1] if found else None


def lightning_versions(folder: Path) -> list[Path]:
    """``version_N`` sub-folders, oldest first (by N, not by name: version_10 comes after version_9)."""
    found = [
        (int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := re.fullmatch(r"version_(\d+)", p.name))
    ]
    return [p for _, p in sorted(found)]


def choose_run(folder: Path, events: list[Path]) -> tuple[Path, list[Path], str]:
    """The run folder to read and its event files. Event files directly in the folder make it the run (with
    its sub-folders, where ``add_scalars`` writes); train/validation sub-folders are the splits of one run;
    other sub-folders are separate runs (Hugging Face's ``runs/DATE_HOST``), of which the newest is read."""
    if any(p.parent == folder for p in events):
        return folder, events, ""
    runs: dict[str, list[Path]] = {}
    for path in events:
        runs.setdefault(path.relative_to(folder).parts[0], []).append(path)
    if len(runs) == 1:
        (name,) = runs
        return folder / name, events, ""
    if {name.lower() for name in runs} <= SPLIT_FOLDERS:
        return folder, events, ""
    newest = max(runs, key=lambda name: max(p.stat().st_mtime for p in runs[name]))
    return folder / newest, runs[newest], f"run {newest} (the newest of {len(runs)} runs)"


# --- CSV --------------------------------------------------------------------------------------------


def _csv_series(path: Path, display: str) -> Series:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SetupError(f"cannot read the training log: {exc.strerror or exc}", file=display) from None
    except UnicodeDecodeError:
        raise SetupError("not a text file: expected a CSV or TensorBoard event file", file=display) from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise SetupError("the training log is empty", file=display)
    separator = sniff_separator(lines[0])
    try:
        rows = list(csv.reader(lines, delimiter=separator))
    except csv.Error as exc:
        raise SetupError(f"not a readable CSV file: {exc}", file=display) from None
    header = [name.strip() for name in rows[0]]
    if len(rows) < 2:
        raise SetupError("the training log has no rows", file=display)
    # Semicolon- and tab-separated files often come from spreadsheets that write 0,5 for 0.5.
    decimal_comma = separator != ","
    lowered = [name.lower() for name in header]
    epoch_column = next((lowered.index(n) for n in EPOCH_NAMES if n in lowered), None)
    step_column = next((lowered.index(n) for n in STEP_NAMES if n in lowered), None)
    series: Series = {}
    for number, row in enumerate(rows[1:]):
        epoch = _cell(row, epoch_column, decimal_comma)
        if epoch_column is not None and epoch is None:
            continue
        step = _cell(row, step_column, decimal_comma)
        position = step if step is not None else float(number)
        if epoch_column is None and step_column is None:
            epoch = float(number)  # a log with neither column has one row per epoch (a hand-written history)
        for column, name in enumerate(header):
            if column in (epoch_column, step_column):
                continue
            value = _cell(row, column, decimal_comma)
            if value is not None:
                series.setdefault(name, []).append(Point(position, value, epoch))
    return series


def sniff_separator(header: str) -> str:
    """The separator of a CSV from its header line: the one of comma, semicolon and tab it uses most
    (metric names do not contain them; values may hold decimal commas, so they are not consulted)."""
    counts = {separator: header.count(separator) for separator in (",", ";", "\t")}
    best = max(counts, key=lambda separator: counts[separator])
    return best if counts[best] else ","


def _cell(row: list[str], column: int | None, decimal_comma: bool) -> float | None:
    if column is None or column >= len(row):
        return None
    text = row[column].strip()
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        return float(text) if text else None
    except ValueError:
        return None


# --- Hugging Face trainer_state.json ------------------------------------------------------------------


def _is_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def _trainer_state_series(path: Path, display: str) -> tuple[Series, list[str]]:
    """Series from a ``trainer_state.json``: every numeric key of ``log_history`` at its ``step`` and
    (fractional) ``epoch``. The closing entry (``train_runtime``, and a ``train_loss`` averaged over the whole
    run) summarizes the run rather than logging a point of it: its keys come back separately, as not read."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SetupError(f"not a readable JSON file ({exc})", file=display) from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise SetupError("a JSON log must be a Hugging Face trainer_state.json, with a log_history list", file=display)
    series: Series = {}
    summary: list[str] = []
    for number, entry in enumerate(history):
        if not isinstance(entry, dict):
            continue
        numbers = {key: float(value) for key, value in entry.items() if _number(value)}
        if "train_runtime" in numbers:
            summary += [f"{key}{SUMMARY}" for key in numbers if key not in ("step", "epoch")]
            continue
        step = numbers.pop("step", float(number))
        epoch = numbers.pop("epoch", None)
        for key, value in numbers.items():
            series.setdefault(key, []).append(Point(step, value, epoch))
    return series, summary


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- TensorBoard --------------------------------------------------------------------------------------


def _event_series(files: list[Path], root: Path, display: str) -> Series:
    """Scalar series from event files; a series in a sub-folder of the run is named ``folder/tag``. When a
    step is logged twice (a resumed run), the later file wins."""
    try:
        from tensorboard.backend.event_processing.event_file_loader import (  # type: ignore[import-untyped]
            EventFileLoader,
        )
        from tensorboard.util import tensor_util  # type: ignore[import-untyped]
    except ImportError:
        raise SetupError(
            "reading TensorBoard event files needs the tensorboard package: pip install tensorboard",
            file=display,
        ) from None
    by_step: dict[str, dict[float, float]] = {}
    for path in sorted(files, key=lambda p: (p.parent.as_posix(), p.name)):
        prefix = path.parent.relative_to(root).as_posix() if path.parent != root else ""
        try:
            for event in EventFileLoader(str(path)).Load():
                for value in event.summary.value:
                    number = _scalar(value, tensor_util)
                    if number is not None:
                        name = f"{prefix}/{value.tag}" if prefix else value.tag
                        by_step.setdefault(name, {})[float(event.step)] = number
        except Exception as exc:  # noqa: BLE001 - a corrupt file is the user's input, not our crash
            raise SetupError(f"{path.name}: not a readable TensorBoard event file ({exc})", file=display) from None
    return _with_epochs({name: sorted(steps.items()) for name, steps in by_step.items()})


def _scalar(value: Any, tensor_util: Any) -> float | None:
    """The number in one summary value: a legacy ``simple_value`` or a one-element numeric tensor of the
    scalars plugin (histograms, images and text are skipped)."""
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind != "tensor" or value.metadata.plugin_data.plugin_name not in ("", "scalars"):
        return None
    try:
        array = tensor_util.make_ndarray(value.tensor)
    except Exception:  # noqa: BLE001 - an undecodable tensor is not a scalar
        return None
    if array.size != 1 or array.dtype.kind not in "fiu":
        return None
    return float(array.reshape(-1)[0])


def _with_epochs(steps: dict[str, list[tuple[float, float]]]) -> Series:
    """Points that carry the epoch logged at their step (or at the last step before it)."""
    epoch_name = next((n for n in steps if n.lower() in EPOCH_NAMES), None)
    epochs = steps.get(epoch_name, []) if epoch_name else []
    epoch_steps = [at for at, _ in epochs]

    def epoch_at(step: float) -> float | None:
        if not epochs:
            return None
        return epochs[max(bisect.bisect_right(epoch_steps, step) - 1, 0)][1]

    return {
        name: [Point(step, value, epoch_at(step)) for step, value in points]
        for name, points in steps.items()
        if name != epoch_name
    }


# --- merge ---------------------------------------------------------------------------------------------


def _from_series(
    series: Series, display: str, notes: list[str], kind: str, wanted: Wanted, summary: Sequence[str] = ()
) -> History:
    choice: Choice = pick_series(list(series), wanted.train, wanted.val)
    chosen = choice.read
    if "train_loss" not in chosen and "val_loss" not in chosen:
        names = ", ".join(repr(name) for name in series) or f"no numeric {kind}s"
        looked = ", ".join(METRIC_NAMES["train_loss"][:6] + METRIC_NAMES["val_loss"][:6])
        raise SetupError(
            f"no loss {kind} found (looked for {looked}, ...; the log has {names}); name the series with "
            "--train NAME and --val NAME",
            file=display,
        )
    picked = {metric: series[name] for metric, name in chosen.items()}
    points = [p for metric_points in picked.values() for p in metric_points]
    notes = notes + choice.notes
    if all(p.epoch is not None for p in points):
        history = _per_epoch(picked, notes)
    elif all(name.rsplit("/", 1)[-1].lower().startswith("epoch_") for name in chosen.values()):
        history = _per_step(picked, notes, axis="epoch")  # Keras logs epoch_loss with the epoch as its step
    else:
        history = _per_step(picked, notes, axis="step")
    history.source = display
    history.read = chosen
    history.kind = kind
    history.unread = [*choice.unread, *summary]
    return history


def _per_epoch(picked: Series, notes: list[str]) -> History:
    """One value per epoch: the mean of a training metric's per-step values, the last validation value.
    Fractional epochs (Hugging Face) count towards the epoch they complete: 0.25..1.0 is epoch 1."""
    fractional = any(p.epoch is not None and not float(p.epoch).is_integer() for ps in picked.values() for p in ps)

    def key(epoch: float | None) -> float:
        assert epoch is not None
        return float(math.ceil(epoch - 1e-6)) if fractional else float(epoch)

    epochs = sorted({key(p.epoch) for ps in picked.values() for p in ps})
    history = History(epochs=epochs, axis="epoch")
    averaged = []
    for metric, points in picked.items():
        grouped: dict[float, list[float]] = {}
        for point in sorted(points, key=lambda p: p.step):
            grouped.setdefault(key(point.epoch), []).append(point.value)
        if metric.startswith("train") and any(len(values) > 1 for values in grouped.values()):
            averaged.append(METRIC_LABELS[metric])
        setattr(history, metric, [_combine(metric, grouped.get(epoch)) for epoch in epochs])
    if averaged:
        notes.append(f"{' and '.join(averaged)} averaged over the steps of each epoch")
    history.notes = notes
    return history


def _per_step(picked: Series, notes: list[str], axis: str) -> History:
    """Values on the logged steps. A training series much denser than validation is averaged over the steps
    between two validations; a long one with no validation to group by, in at most MAX_POINTS bins."""
    train_names = [m for m in picked if m.startswith("train")]
    val_steps = sorted({p.step for m, ps in picked.items() if m.startswith("val") for p in ps})
    train_count = max((len(picked[m]) for m in train_names), default=0)
    if len(val_steps) >= 2 and train_count > 2 * len(val_steps):
        edges = val_steps
        last_train = max(p.step for m in train_names for p in picked[m])
        if last_train > edges[-1]:
            edges = [*edges, last_train]
        notes.append(f"training values averaged over the steps between validations ({train_count} steps)")
    elif train_count > MAX_POINTS:
        steps = sorted({p.step for m in train_names for p in picked[m]})
        size = math.ceil(len(steps) / MAX_POINTS)
        edges = [steps[min(i + size, len(steps)) - 1] for i in range(0, len(steps), size)]
        notes.append(f"training values averaged in bins of {size} steps ({train_count} steps)")
    else:
        edges = sorted({p.step for ps in picked.values() for p in ps})
    history = History(epochs=[float(e) for e in edges], axis=axis)
    for metric, points in picked.items():
        grouped: dict[float, list[float]] = {}
        for point in sorted(points, key=lambda p: p.step):
            index = bisect.bisect_left(edges, point.step)
            if index < len(edges):
                grouped.setdefault(edges[index], []).append(point.value)
        setattr(history, metric, [_combine(metric, grouped.get(edge)) for edge in edges])
    history.notes = notes
    return history


def _combine(metric: str, values: Iterable[float] | None) -> float | None:
    """Several values at one point of the axis: training metrics are averaged (the epoch's mean, as an
    epoch-level logger would report), validation keeps the last evaluation."""
    if not values:
        return None
    values = list(values)
    if metric.startswith("train"):
        return sum(values) / len(values)
    return values[-1]
