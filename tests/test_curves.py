"""`rnndoctor curves` on the logs people have: TensorBoard event files, Lightning version folders, CSVs with
any separator; judged so that noise at a low loss is not divergence; with the options `check` has."""

from __future__ import annotations

import json
import math
import os
import random
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from click.testing import CliRunner, Result

from rnndoctor.cli import cli
from rnndoctor.logs.curves import CurveThresholds, History, judge_history, read_history
from rnndoctor.logs.training_logs import MAX_POINTS, METRIC_LABELS, METRIC_NAMES, sniff_separator
from rnndoctor.render.plots import SERIES_COLOURS, lines_of, plot, sparkline, sparklines, svg
from rnndoctor.setup.errors import SetupError


def run_curves(*args: str) -> Result:
    return CliRunner().invoke(cli, ["curves", *args])


def curves_json(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = run_curves(*args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def overfitting_curves(epochs: int = 30, seed: int = 0) -> tuple[list[float], list[float]]:
    """Training loss that falls to ~0.02 and wiggles there (ending one noisy epoch up); validation loss
    that bottoms out near epoch 10 and climbs back."""
    rng = random.Random(seed)
    train = [2.0 * math.exp(-e / 3) + 0.02 + rng.uniform(-0.008, 0.008) for e in range(epochs)]
    train[-1] = min(train) * 2.5  # the last epoch ends well above the minimum, as noise at a low level does
    val = [1.5 * math.exp(-e / 3) + 0.3 + 0.02 * max(0, e - 10) for e in range(epochs)]
    return train, val


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def lightning_metrics_csv(train: list[float], val: list[float], steps_per_epoch: int = 3) -> str:
    """The shape CSVLogger writes: one row per logged training step, one per validation, cells left empty."""
    rows = ["epoch,step,train_loss,val_loss"]
    step = 0
    for epoch, (t, v) in enumerate(zip(train, val, strict=True)):
        for offset in (-0.01, 0.0, 0.01)[:steps_per_epoch]:
            rows.append(f"{epoch},{step},{t + offset},")
            step += 1
        rows.append(f"{epoch},{step - 1},,{v}")
    return "\n".join(rows) + "\n"


# --- judging: noise at a low level is not divergence ---------------------------------------------------


def test_noisy_low_training_loss_with_rising_validation_is_overfitting_not_divergence() -> None:
    train, val = overfitting_curves()
    history = History(epochs=[float(e) for e in range(len(train))], train_loss=list(train), val_loss=list(val))
    codes = [f.code for f in judge_history(history, CurveThresholds())]
    assert codes == ["RD601"]
    # The same wiggle without validation data: nothing to report at all (no divergence, no oscillation).
    alone = History(epochs=history.epochs, train_loss=list(train), val_loss=[None] * len(train))
    assert judge_history(alone, CurveThresholds()) == []


def test_the_noisy_log_ranks_overfitting_first_through_the_command(tmp_path: Path) -> None:
    train, val = overfitting_curves()
    log = write_text(
        tmp_path / "history.csv",
        "epoch,loss,val_loss\n" + "".join(f"{e},{t},{v}\n" for e, (t, v) in enumerate(zip(train, val, strict=True))),
    )
    code, report = curves_json(str(log))
    assert code == 0  # a warning does not fail at the default --fail-on error
    assert [f["code"] for f in report["findings"]] == ["RD601"]


def test_a_long_history_that_climbs_back_is_still_divergence() -> None:
    rng = random.Random(1)
    falling = [2.0 * math.exp(-e / 4) + 0.3 for e in range(20)]
    climbing = [falling[-1] + 0.08 * k for k in range(1, 21)]
    train = [v + rng.uniform(-0.01, 0.01) for v in falling + climbing]
    history = History(epochs=[float(e) for e in range(40)], train_loss=train, val_loss=[None] * 40)
    (finding,) = judge_history(history, CurveThresholds())
    assert finding.code == "RD502" and finding.evidence["rise"] > 0.5
    assert finding.evidence["share_of_fall_given_back"] > 0.25


def test_divergence_needs_the_rise_to_give_back_part_of_the_fall() -> None:
    # 2.0 -> 0.1 and back up to 0.2: double the minimum, but a twentieth of what was learned.
    small_up = [2.0, 1.0, 0.5, 0.2, 0.1, 0.2]
    history = History(epochs=[float(e) for e in range(6)], train_loss=small_up, val_loss=[None] * 6)
    assert judge_history(history, CurveThresholds()) == []
    assert [f.code for f in judge_history(history, CurveThresholds(divergence_giveback=0.05))] == ["RD502"]


def test_a_zigzag_near_zero_after_a_long_fall_is_not_oscillation() -> None:
    train = [2.0, 1.0, 0.4, 0.1] + [0.1 + (0.02 if e % 2 else -0.02) for e in range(16)]
    history = History(epochs=[float(e) for e in range(20)], train_loss=train, val_loss=[None] * 20)
    assert judge_history(history, CurveThresholds()) == []
    (finding,) = judge_history(history, CurveThresholds(oscillation_range_share=0.0))
    assert finding.code == "RD502" and finding.evidence["swing_of_range"] < 0.25


# --- TensorBoard -----------------------------------------------------------------------------------------


@pytest.fixture
def summary_writer():  # type: ignore[no-untyped-def]
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter


def test_event_file_from_summary_writer(summary_writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Lightning's TensorBoardLogger layout: per-step train_loss beside an `epoch` tag, val_loss per epoch."""
    train, val = overfitting_curves(epochs=20)
    folder = tmp_path / "lightning_logs" / "version_0"
    writer = summary_writer(str(folder))
    step = 0
    for epoch, (t, v) in enumerate(zip(train, val, strict=True)):
        for offset in (-0.01, 0.0, 0.01):
            writer.add_scalar("train_loss", t + offset, step)
            writer.add_scalar("epoch", epoch, step)
            step += 1
        writer.add_scalar("val_loss", v, step - 1)
        writer.add_histogram("weights", np.array([0.1, 0.2, 0.3]), step - 1)  # not a scalar: ignored
    writer.close()
    (event_file,) = folder.glob("events.out.tfevents.*")

    history = read_history(event_file)
    assert history.axis == "epoch" and history.epochs == [float(e) for e in range(20)]
    assert history.read == {"train_loss": "train_loss", "val_loss": "val_loss"}
    assert history.train_loss[3] == pytest.approx(train[3], abs=1e-6)  # the mean of the epoch's steps
    assert history.val_loss[5] == pytest.approx(val[5], abs=1e-6)
    assert read_history(tmp_path).train_loss == history.train_loss  # the folder that holds lightning_logs

    code, report = curves_json(str(tmp_path / "lightning_logs"))
    assert code == 0 and [f["code"] for f in report["findings"]] == ["RD601"]
    (check,) = report["checks"]
    assert "tags train_loss (train loss), val_loss (validation loss)" in check["detail"]
    assert check["metrics"]["read"] == {"train_loss": "train_loss", "val_loss": "val_loss"}
    text = run_curves(str(event_file), "--format", "text")
    assert "train_loss" in text.stdout and "val_loss" in text.stdout


def test_hugging_face_runs_folder_reads_the_newest_run(summary_writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Hugging Face's layout: runs/DATE_HOST/, tags train/loss, eval/loss, train/epoch in fractions."""
    old = summary_writer(str(tmp_path / "runs" / "Jan01_host"))
    old.add_scalar("train/loss", 5.0, 1)
    old.close()
    writer = summary_writer(str(tmp_path / "runs" / "Jan02_host"))
    step = 0
    for epoch in range(6):
        for _ in range(4):
            step += 10
            writer.add_scalar("train/loss", 1.0 / (1 + step / 40), step)
            writer.add_scalar("train/epoch", step / 40, step)
        writer.add_scalar("eval/loss", 1.2 / (1 + epoch), step)
        writer.add_scalar("eval/runtime", 3.0, step)
    writer.close()
    for path in (tmp_path / "runs" / "Jan01_host").iterdir():
        os.utime(path, (1_000_000, 1_000_000))

    history = read_history(tmp_path / "runs")
    assert history.read == {"train_loss": "train/loss", "val_loss": "eval/loss"}
    assert history.epochs == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # 0.25..1.0 make epoch 1
    assert history.val_loss == pytest.approx([1.2 / (1 + e) for e in range(6)])
    assert any("Jan02_host" in note and "newest of 2 runs" in note for note in history.notes)


def test_step_axis_and_split_folders(summary_writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A plain training loop: loss per batch on the global step, validation every 50 steps, no epoch tag.
    writer = summary_writer(str(tmp_path / "plain"))
    for step in range(1, 501):
        writer.add_scalar("Loss/train", 1.0 / step**0.5, step)
        if step % 50 == 0:
            writer.add_scalar("Loss/val", 1.1 / step**0.5, step)
    writer.close()
    history = read_history(tmp_path / "plain")
    assert history.axis == "step" and history.epochs == [float(s) for s in range(50, 501, 50)]
    assert history.read == {"train_loss": "Loss/train", "val_loss": "Loss/val"}
    assert history.train_loss[0] == pytest.approx(sum(1.0 / s**0.5 for s in range(1, 51)) / 50)
    code, report = curves_json(str(tmp_path / "plain"))
    assert code == 0 and report["findings"] == []
    assert (
        "10 steps" in report["checks"][0]["detail"]
        and "averaged over the steps between validations" in (report["checks"][0]["detail"])
    )

    # Keras's TensorBoard callback: train/ and validation/ folders of one run, epoch_loss in each.
    for split, scale in (("train", 1.0), ("validation", 1.2)):
        keras = summary_writer(str(tmp_path / "keras" / split))
        for epoch in range(8):
            keras.add_scalar("epoch_loss", scale / (1 + epoch), epoch)
        keras.close()
    history = read_history(tmp_path / "keras")
    assert history.axis == "epoch" and history.epochs == [float(e) for e in range(8)]
    assert history.read == {"train_loss": "train/epoch_loss", "val_loss": "validation/epoch_loss"}


def test_a_long_per_step_loss_is_binned(summary_writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(3)
    writer = summary_writer(str(tmp_path))
    for step in range(2000):
        writer.add_scalar("train_loss", 1.0 / (1 + step / 100) + rng.uniform(-0.05, 0.05), step)
    writer.close()
    history = read_history(tmp_path)
    assert history.axis == "step" and len(history.epochs) <= MAX_POINTS
    code, report = curves_json(str(tmp_path))
    assert code == 0 and report["findings"] == []  # batch noise is neither oscillation nor divergence


def test_an_event_file_without_loss_tags_names_what_it_has(summary_writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    writer = summary_writer(str(tmp_path))
    writer.add_scalar("lr", 0.1, 0)
    writer.close()
    result = run_curves(str(tmp_path))
    assert result.exit_code == 2 and "no loss tag found" in result.stderr and "lr" in result.stderr


def test_without_the_tensorboard_package_event_files_exit_2_with_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry makes `import` raise ImportError, even for a module an earlier test imported.
    loaded = [name for name in sys.modules if name == "tensorboard" or name.startswith("tensorboard.")]
    for name in {*loaded, "tensorboard", "tensorboard.backend.event_processing.event_file_loader"}:
        monkeypatch.setitem(sys.modules, name, None)
    event_file = write_text(tmp_path / "events.out.tfevents.1.host", "")
    result = run_curves(str(event_file))
    assert result.exit_code == 2
    assert "pip install tensorboard" in result.stderr and "Traceback" not in result.output


# --- Lightning folders and CSV files ------------------------------------------------------------------


def test_lightning_version_folders_pick_the_latest(tmp_path: Path) -> None:
    train, val = overfitting_curves(epochs=16)
    logs = tmp_path / "lightning_logs"
    write_text(logs / "version_2" / "metrics.csv", lightning_metrics_csv([1.0] * 4, [1.0] * 4))
    write_text(logs / "version_9" / "metrics.csv", lightning_metrics_csv([0.7] * 4, [0.7] * 4))
    write_text(logs / "version_10" / "metrics.csv", lightning_metrics_csv(train, val))
    write_text(logs / "version_10" / "hparams.yaml", "lr: 0.001\n")

    history = read_history(logs)
    assert len(history.epochs) == 16  # version_10, not version_9 (numbers, not names, are compared)
    assert history.train_loss[0] == pytest.approx(train[0])  # the mean of the three per-step values
    assert history.notes[0] == "version_10 (the latest of 3 versions)"
    assert read_history(logs / "version_10").val_loss == history.val_loss
    assert read_history(tmp_path).val_loss == history.val_loss
    _, report = curves_json(str(logs))
    assert [f["code"] for f in report["findings"]] == ["RD601"]
    assert "columns train_loss (train loss), val_loss (validation loss)" in report["checks"][0]["detail"]


def test_a_folder_without_logs_is_a_setup_error(tmp_path: Path) -> None:
    write_text(tmp_path / "notes.txt", "nothing here")
    result = run_curves(str(tmp_path))
    assert result.exit_code == 2 and "no training log in this folder" in result.stderr
    with pytest.raises(SetupError, match="no such file or folder"):
        read_history(tmp_path / "missing")


def test_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    rows = "".join(f"{e};{1 / (e + 1):.4f};{0.9 / (e + 1):.4f}\n".replace(".", ",") for e in range(6))
    log = write_text(tmp_path / "history.csv", "Epoch;Train_Loss;Val_Loss\n" + rows)
    history = read_history(log)
    assert history.epochs == [float(e) for e in range(6)]
    assert history.train_loss[1] == pytest.approx(0.5) and history.val_loss[2] == pytest.approx(0.3)
    assert history.read == {"train_loss": "Train_Loss", "val_loss": "Val_Loss"}


def test_tab_csv_and_the_separator_sniffer(tmp_path: Path) -> None:
    log = write_text(
        tmp_path / "history.tsv", "epoch\tloss\tval_loss\n" + "".join(f"{e}\t2.3026\t2.3030\n" for e in range(5))
    )
    code, report = curves_json(str(log), "--fail-on", "error")
    assert code == 1 and [f["code"] for f in report["findings"]] == ["RD505"]
    assert sniff_separator("epoch,loss") == "," and sniff_separator("epoch;loss") == ";"
    assert sniff_separator("epoch\tloss") == "\t" and sniff_separator("loss") == ","


# --- the command's options ---------------------------------------------------------------------------


@pytest.fixture
def two_findings(tmp_path: Path) -> Path:
    """A log with two warnings: a training loss that zigzags (RD502) and validation that rises (RD601)."""
    train = [1.0, 0.6, 0.9, 0.5, 0.85, 0.45, 0.8, 0.4]
    val = [1.0, 0.8, 0.7, 0.75, 0.9, 1.0, 1.1, 1.2]
    rows = "".join(f"{e},{t},{v}\n" for e, (t, v) in enumerate(zip(train, val, strict=True)))
    return write_text(tmp_path / "log.csv", "epoch,train_loss,val_loss\n" + rows)


def test_select_and_ignore_filter_the_findings(two_findings: Path) -> None:
    log = str(two_findings)
    _, everything = curves_json(log)
    assert {f["code"] for f in everything["findings"]} == {"RD502", "RD601"}

    code, only = curves_json(log, "--select", "RD6", "--fail-on", "warning")
    assert code == 1 and [f["code"] for f in only["findings"]] == ["RD601"]
    assert "RD502 not reported (excluded by select/ignore)" in only["checks"][0]["detail"]
    code, both = curves_json(log, "--select", "RD502", "RD601")  # several codes after one --select
    assert code == 0 and {f["code"] for f in both["findings"]} == {"RD502", "RD601"}
    code, ignored = curves_json(log, "--ignore", "RD502,RD601", "--no-progress", "--fail-on", "warning")
    assert code == 0 and ignored["findings"] == [] and ignored["status"] == "pass"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--select", "RD1"], "no curve rule can report the selected codes"),
        (["--ignore", "RD"], "no curve rule can report the selected codes"),
        (["--select", "RD9"], "--select RD9: matches no code"),
        (["--ignore", "RD55"], "--ignore RD55: matches no code"),
        (["--select", "loss"], "not a code or code prefix"),
    ],
)
def test_a_selection_that_cannot_work_exits_2(two_findings: Path, options: list[str], message: str) -> None:
    result = run_curves(str(two_findings), *options)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_plots_overlay_train_and_validation(two_findings: Path, tmp_path: Path) -> None:
    _, report = curves_json(str(two_findings))
    (figure,) = report["checks"][0]["metrics"]["plots"]
    assert figure["title"] == "train and validation loss per epoch"
    assert [line["label"] for line in figure["series"]] == ["train", "validation"]
    assert figure["series"][1]["y"][-1] == 1.2 and figure["y"] == figure["series"][0]["y"]

    image = pytest.importorskip("matplotlib.image")
    result = run_curves(str(two_findings), "--plots", str(tmp_path / "plots"), "--format", "json")
    assert result.exit_code == 0 and "1 plot(s) written" in result.stderr
    (png,) = (tmp_path / "plots").glob("*.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    pixels = image.imread(png)[..., :3]
    for colour in SERIES_COLOURS[:2]:  # both lines are drawn, each in its own colour
        rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).max(axis=-1) < 0.05).sum() > 100, colour


SVG = "{http://www.w3.org/2000/svg}"


def svg_charts(page: str) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(chart) for chart in re.findall(r"<svg\b.*?</svg>", page, re.S)]


def test_the_html_report_draws_every_series_with_a_legend(two_findings: Path) -> None:
    result = run_curves(str(two_findings), "--format", "html")
    (chart,) = svg_charts(result.stdout)
    lines = chart.findall(f"{SVG}polyline")
    assert [line.get("data-label") for line in lines] == ["train", "validation"]
    assert [t.text for t in chart.findall(f"{SVG}g[@class='legend']/{SVG}text")] == ["train", "validation"]
    swatches = [line.get("stroke") for line in chart.findall(f"{SVG}g[@class='legend']/{SVG}line")]
    assert swatches == [line.get("stroke") for line in lines] and len(set(swatches)) == 2
    # One scale for both: validation ends at 1.2, the top of the chart; training at 0.4, the bottom.
    last_y = [float(line.get("points", "").split()[-1].split(",")[1]) for line in lines]
    assert last_y[1] < last_y[0]
    assert {float(t.text or "") for t in chart.findall(f"{SVG}text[@class='tick y-tick']")} >= {0.4, 1.2}


def test_the_text_report_shows_a_labelled_sparkline_per_series(two_findings: Path) -> None:
    output = [line.rstrip() for line in run_curves(str(two_findings)).stdout.splitlines()]
    at = output.index("train and validation loss per epoch (curves):")
    (train_label, train_chart, *train_range), (val_label, val_chart, *val_range) = (
        output[at + 1].split(),
        output[at + 2].split(),
    )
    assert (train_label, train_range, val_label, val_range) == (
        "train",
        ["0.4", "..", "1"],
        "validation",
        ["0.7", "..", "1.2"],
    )
    assert len(train_chart) == len(val_chart) == 8
    # Both on one scale: training ends at the bottom, validation at the top.
    assert (train_chart[-1], val_chart[-1]) == ("▁", "█")


def test_report_option_writes_several_formats(
    two_findings: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_curves(
        str(two_findings), "--report", "json=out/r.json", "--report", "html=out/r.html", "--fail-on", "warning"
    )
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "out" / "r.json").read_text(encoding="utf-8"))
    assert report["schema"] == "rnndoctor.report/1" and {f["code"] for f in report["findings"]} == {"RD502", "RD601"}
    page = (tmp_path / "out" / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "RD601" in page and len(svg_charts(page)) == 1
    assert "json report written to out/r.json" in result.stderr and "html report written to out/r.html" in result.stderr
    assert "RD601" in result.stdout  # the text report still goes to the terminal

    bad = run_curves(str(two_findings), "--report", "pdf=out/r.pdf")
    assert bad.exit_code == 2 and "unknown format 'pdf'" in bad.stderr


def test_plots_without_series_draw_their_one_line_as_before() -> None:
    single = plot("loss per lr", [1e-4, 1e-3, 1e-2], [1.0, 0.5, 2.0], log_x=True)
    assert "series" not in single and lines_of(single) == [("", [1.0, 0.5, 2.0])]
    (chart,) = svg_charts(svg(single))
    assert len(chart.findall(f"{SVG}polyline")) == 1 and chart.find(f"{SVG}g") is None
    assert sparkline([3.0, 4.0], log=False) == "▁█"  # alone, a line fills its own scale
    assert sparklines([[1.0, 2.0], [3.0, 4.0]], log=False) == ["▁▃", "▆█"]  # together, they share one


def test_a_series_with_one_point_is_a_dot_and_gaps_are_skipped() -> None:
    figure = plot(
        "loss", [0, 1, 2], [1.0, 0.8, 0.6], series=[("train", [1.0, 0.8, 0.6]), ("validation", [None, math.nan, 0.9])]
    )
    assert figure["series"][1]["y"] == [None, None, 0.9]
    (chart,) = svg_charts(svg(figure))
    (dot,) = chart.findall(f"{SVG}circle")
    assert dot.get("data-label") == "validation" and len(chart.findall(f"{SVG}polyline")) == 1


def test_the_docs_list_every_name_read() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "curves.md").read_text(encoding="utf-8")
    for metric, names in METRIC_NAMES.items():
        listed = next(line for line in page.splitlines() if line.startswith(f"| {METRIC_LABELS[metric]} |"))
        assert listed.split("|")[2].strip() == ", ".join(f"`{name}`" for name in names), metric
