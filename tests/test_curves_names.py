"""`rnndoctor curves` reads the series by the names logs give them, lets the user name them (`--train`,
`--val`), and lists every numeric series it did not read (issue 28 §1, contract §8): a report never says
"No problems found" about a log whose other loss it passed over in silence."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rnndoctor.cli import cli
from rnndoctor.logs.names import by_words, normalized, pick_series
from rnndoctor.logs.training_logs import read_history
from rnndoctor.setup.errors import SetupError

FORMATS = ("text", "json", "markdown", "github", "junit", "html")


def curves(*args: str) -> Result:
    return CliRunner().invoke(cli, ["curves", *args])


def curves_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = curves(*args, "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def falling(steps: int) -> list[float]:
    return [1.0 / (1 + step) for step in range(steps)]


def rising_after(steps: int, best: int = 3, start: float = 0.5, rise: float = 0.06) -> list[float]:
    """A held-out loss that bottoms out at ``best`` and climbs, ending more than 200% above its minimum."""
    return [start + rise * abs(step - best) if step > best else start + 0.01 * (best - step) for step in range(steps)]


@pytest.fixture
def summary_writer() -> Any:
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter


def _write_tags(writer_class: Any, folder: Path, tags: dict[str, list[float]], every: int = 1) -> Path:
    writer = writer_class(str(folder))
    for tag, values in tags.items():
        for step, value in enumerate(values):
            writer.add_scalar(tag, value, step * every)
    writer.close()
    return folder


def test_pytorch_docs_tags_loss_train_and_loss_test(summary_writer: Any, tmp_path: Path) -> None:
    """The naming of PyTorch's TensorBoard docs: the test loss rises 215% and is judged, not passed over."""
    test = rising_after(30, best=3, start=0.5, rise=0.045)
    assert test[-1] / min(test) > 3.1
    folder = _write_tags(summary_writer, tmp_path / "runs", {"Loss/train": falling(30), "Loss/test": test})
    code, report = curves_json(str(folder))
    assert code == 0 and [f["code"] for f in report["findings"]] == ["RD601"]  # a warning
    metrics = report["checks"][0]["metrics"]
    assert metrics["read"] == {"train_loss": "Loss/train", "val_loss": "Loss/test"}
    assert metrics["series_read"] == ["Loss/train", "Loss/test"] and metrics["series_not_read"] == []


def test_pytorch_tutorial_tags_with_spaces(summary_writer: Any, tmp_path: Path) -> None:
    """PyTorch's TensorBoard tutorial logs `training loss` every 1000 batches, `validation loss` beside it."""
    folder = _write_tags(
        summary_writer,
        tmp_path / "runs" / "fashion_mnist_experiment_1",
        {"training loss": falling(20), "validation loss": rising_after(20)},
        every=1000,
    )
    history = read_history(folder)
    assert history.read == {"train_loss": "training loss", "val_loss": "validation loss"}
    assert history.axis == "step" and len(history.epochs) == 20


def test_weights_and_biases_csv_export(tmp_path: Path) -> None:
    """A W&B chart export: `Step`, then `RUN - metric` with its `__MIN`/`__MAX` band columns."""
    header = '"Step","bright-sun-3 - train/loss","bright-sun-3 - train/loss__MIN","bright-sun-3 - train/loss__MAX",'
    header += '"bright-sun-3 - val/loss"'
    rows = [header] + [
        f"{step * 50},{t},{t - 0.01},{t + 0.01},{v}"
        for step, (t, v) in enumerate(zip(falling(20), rising_after(20), strict=True))
    ]
    log = tmp_path / "wandb_export_2024-05-01.csv"
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, report = curves_json(str(log))
    assert code == 0
    metrics = report["checks"][0]["metrics"]
    assert metrics["read"] == {"train_loss": "bright-sun-3 - train/loss", "val_loss": "bright-sun-3 - val/loss"}
    assert metrics["series_not_read"] == ["bright-sun-3 - train/loss__MIN", "bright-sun-3 - train/loss__MAX"]
    assert [f["code"] for f in report["findings"]] == ["RD601"]


def test_two_runs_in_one_export_read_the_first_and_say_so(tmp_path: Path) -> None:
    log = tmp_path / "export.csv"
    rows = ["Step,a - train/loss,b - train/loss"] + [f"{s},{v},{v * 2}" for s, v in enumerate(falling(10))]
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    history = read_history(log)
    assert history.read == {"train_loss": "a - train/loss"} and history.unread == ["b - train/loss"]
    assert any("2 series are called train/loss" in note and "--train" in note for note in history.notes)
    assert read_history(log, train="b - train/loss").train_loss[0] == pytest.approx(2.0)


def _trainer_state(epochs: int = 10) -> dict[str, Any]:
    """What transformers' Trainer writes: a training entry every half epoch, an evaluation per epoch, and the
    closing summary whose train_loss is the mean over the whole run."""
    history: list[dict[str, Any]] = []
    for epoch in range(1, epochs + 1):
        for half in (0.5, 1.0):
            step = int((epoch - 1 + half) * 20)
            history.append(
                {"epoch": epoch - 1 + half, "grad_norm": 1.3, "learning_rate": 5e-5, "loss": 1 / epoch, "step": step}
            )
        history.append(
            {
                "epoch": float(epoch),
                "eval_loss": 0.4 + 0.05 * max(0, epoch - 3),
                "eval_accuracy": 0.8,
                "eval_runtime": 1.5,
                "step": epoch * 20,
            }
        )
    history.append(
        {
            "epoch": float(epochs),
            "step": epochs * 20,
            "total_flos": 1e12,
            "train_loss": 0.3,
            "train_runtime": 60.0,
            "train_samples_per_second": 90.0,
        }
    )
    return {"best_metric": None, "global_step": epochs * 20, "log_history": history}


def test_hugging_face_trainer_state(tmp_path: Path) -> None:
    state = tmp_path / "out" / "checkpoint-200" / "trainer_state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps(_trainer_state()), encoding="utf-8")
    (tmp_path / "out" / "checkpoint-20").mkdir()
    (tmp_path / "out" / "checkpoint-20" / "trainer_state.json").write_text(json.dumps(_trainer_state(1)))

    history = read_history(state)
    assert history.read == {"train_loss": "loss", "val_loss": "eval_loss", "val_acc": "eval_accuracy"}
    assert history.axis == "epoch" and history.epochs == [float(e) for e in range(1, 11)]
    assert history.train_loss[0] == pytest.approx(1.0)  # the run's summary train_loss (0.3) is not the curve
    assert "grad_norm" in history.unread and "train_loss (the run's summary)" in history.unread

    code, report = curves_json(str(tmp_path / "out"))  # the output folder: its latest checkpoint-N
    assert code == 0 and report["checks"][0]["metrics"]["points"] == 10
    assert "checkpoint-200" in report["checks"][0]["detail"]
    assert [f["code"] for f in report["findings"]] == ["RD601"]


def test_train_and_val_name_the_series(tmp_path: Path) -> None:
    log = tmp_path / "history.csv"
    rows = ["epoch,fit,holdout,lr"] + [
        f"{e},{t},{v},0.001" for e, (t, v) in enumerate(zip(falling(12), rising_after(12), strict=True))
    ]
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = curves(str(log))
    assert result.exit_code == 2 and "--train NAME" in result.stderr and "'holdout'" in result.stderr
    code, report = curves_json(str(log), "--train", "fit", "--val", "HOLDOUT")
    assert code == 0 and report["checks"][0]["metrics"]["read"] == {"train_loss": "fit", "val_loss": "holdout"}
    assert report["checks"][0]["metrics"]["series_not_read"] == ["lr"]
    assert [f["code"] for f in report["findings"]] == ["RD601"]

    wrong = curves(str(log), "--val", "holdot")
    assert wrong.exit_code == 2 and "did you mean 'holdout'" in wrong.stderr and "Traceback" not in wrong.output


@pytest.fixture
def unread_loss(tmp_path: Path) -> Path:
    """A log whose train and validation loss are healthy and whose test loss climbs: read by name, the
    validation loss wins, so the test loss is the series left out."""
    log = tmp_path / "metrics.csv"
    rows = ["epoch,train_loss,val_loss,test_loss,lr-Adam"] + [
        f"{e},{t},{0.5},{v},0.001" for e, (t, v) in enumerate(zip(falling(12), rising_after(12), strict=True))
    ]
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return log


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_series_not_read_is_named_in_every_format(unread_loss: Path, fmt: str) -> None:
    result = curves(str(unread_loss), "--format", fmt)
    assert result.exit_code == 0, result.output
    flat = re.sub(r"\s+", " ", result.stdout)
    assert "test_loss" in flat and "lr-Adam" in flat, fmt
    assert "No problems found by the checks that ran" not in flat
    if fmt != "json":
        # The note beside the verdict: a loss was left out, and how to judge it.
        assert "--train NAME and --val NAME" in flat, fmt


def test_the_text_report_of_a_log_names_no_device_and_no_passes(unread_loss: Path) -> None:
    text = curves(str(unread_loss)).stdout
    assert "· none" not in text and "forward" not in text and "backward passes" not in text
    assert "No problems found in the series read." in text


def test_github_annotations_never_point_at_a_folder(summary_writer: Any, tmp_path: Path) -> None:
    folder = _write_tags(summary_writer, tmp_path / "runs", {"Loss/train": falling(30), "Loss/test": rising_after(30)})
    annotations = [
        line for line in curves(str(folder), "--format", "github").stdout.splitlines() if line.startswith("::")
    ]
    assert annotations and not any("file=" in line for line in annotations), annotations


def test_names_are_compared_as_people_write_them() -> None:
    assert normalized("Training Loss") == "training_loss"
    assert normalized("my-run - val/loss") == "val/loss"
    assert by_words("val_loss", ["lr", "Loss (held-out test)", "loss/test__MAX"]) == "Loss (held-out test)"
    assert by_words("train_loss", ["mean train loss", "train_val_loss_gap"]) == "mean train loss"
    choice = pick_series(["Loss/train", "Loss/test", "Accuracy/test", "lr"])
    assert choice.read == {"train_loss": "Loss/train", "val_loss": "Loss/test", "val_acc": "Accuracy/test"}
    assert choice.unread == ["lr"]
    with pytest.raises(SetupError, match="did you mean 'Loss/test'"):
        pick_series(["Loss/train", "Loss/test"], val="loss/tset")
