"""LightningModules and LightningDataModules (contract §7): in a config, where the module's training_step,
configure_optimizers and dataloaders stand in for train_step, optimizer and train_data and the loss is the one
training_step computes; and from a real fit, through rnndoctor.lightning.DiagnosisCallback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner, Result
from torch import nn

from rnndoctor.api import diagnose
from rnndoctor.cli import cli
from rnndoctor.setup.config import load_config
from rnndoctor.setup.loaded import Loaded
from rnndoctor.setup.loading import Loader
from tests.helpers import parse_report, write_project

pl = pytest.importorskip("lightning.pytorch")

LIT_PY = """
    import lightning.pytorch as pl
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset


    def tensors(seed, n=32):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 6, 3, generator=g)
        y = (x[:, :, 0].sum(1) > 0).long()
        return x, y


    class Tagger(pl.LightningModule):
        \"\"\"A small LSTM sequence classifier, written the way Lightning's docs write modules.\"\"\"

        def __init__(self, hidden=8, lr=1e-2, softmax=False, flatten=False):
            super().__init__()
            self.lstm = nn.LSTM(3, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 2)
            self.lr, self.softmax, self.flatten = lr, softmax, flatten

        def forward(self, x):
            logits = self.head(self.lstm(x)[0][:, -1])
            return logits.softmax(-1) if self.softmax else logits

        def training_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            if self.flatten:
                logits, y = logits.reshape(-1, 2), y.reshape(-1)
            loss = F.cross_entropy(logits, y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
            return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 10)}


    class WithCriterion(Tagger):
        def __init__(self):
            super().__init__()
            self.criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return {"loss": self.criterion(self(x), y)}


    class WeightedFunctional(Tagger):
        def __init__(self):
            super().__init__()
            self.register_buffer("class_weights", torch.tensor([1.0, 4.0]))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self(x), y, weight=self.class_weights, ignore_index=-1)


    class OwnLoaders(Tagger):
        def train_dataloader(self):
            return DataLoader(TensorDataset(*tensors(0)), batch_size=8, shuffle=True)

        def val_dataloader(self):
            return [DataLoader(TensorDataset(*tensors(1)), batch_size=8), DataLoader(TensorDataset(*tensors(2)))]


    class NeedsTrainer(Tagger):
        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters())
            total = self.trainer.estimated_stepping_batches
            return [optimizer], [torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=total)]


    class Manual(Tagger):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False


    class HandMadeLoss(Tagger):
        def training_step(self, batch, batch_idx):
            x, y = batch
            log_probs = self(x).log_softmax(-1)
            return -log_probs.gather(1, y[:, None]).mean()


    class Data(pl.LightningDataModule):
        def __init__(self, batch_size=8):
            super().__init__()
            self.batch_size = batch_size
            self.prepared = False

        def prepare_data(self):
            self.prepared = True

        def setup(self, stage):
            assert self.prepared and stage == "fit"
            self.train, self.val = TensorDataset(*tensors(0)), TensorDataset(*tensors(1))

        def train_dataloader(self):
            return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

        def val_dataloader(self):
            return DataLoader(self.val, batch_size=self.batch_size)


    class PlainLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.lstm(x)[0][:, -1])
"""

FILES = {"lit.py": LIT_PY}


def project(tmp_path: Path, config: dict[str, Any]) -> Path:
    return write_project(tmp_path, config, files=FILES)


def load(tmp_path: Path, config: dict[str, Any]) -> Loaded:
    loader = Loader(load_config(project(tmp_path, config)))
    try:
        return loader.load()
    finally:
        loader.release_import_path()


def check(config: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["check", str(config), "--no-progress", "--format", "json", *extra])


def setup_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr and result.stdout == ""
    err = result.stderr.strip()
    assert len(err.splitlines()) <= 2, err
    for fragment in fragments:
        assert fragment in err, err
    return err


# -- configs -----------------------------------------------------------------------------------------


def test_a_lightning_module_and_datamodule_train_through_training_step(tmp_path: Path) -> None:
    """The full diagnosis: the sweep, the one-batch fit and the short run train through training_step with
    the optimizer configure_optimizers returns; no loss, optimizer or train_data in the config."""
    result = check(project(tmp_path, {"model": "lit.py:Tagger", "datamodule": "lit.py:Data"}))
    assert result.exit_code == 0, result.output
    doc = parse_report(result.stdout, exit_code=0)
    notes = doc["meta"]["lightning"]
    assert notes["optimizer"] == "configure_optimizers(): Adam"
    assert notes["schedulers_not_stepped"] == ["StepLR"]
    assert notes["loss"] == "seen in training_step: torch.nn.functional.cross_entropy"
    assert notes["train_data"] == "datamodule.train_dataloader()"
    assert notes["val_data"] == "datamodule.val_dataloader()"
    assert notes["forward"] == "model(inputs) on the batch's inputs"
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["training_step"]["status"] == "passed"
    assert checks["training_step"]["metrics"]["steps"] >= 1
    assert checks["training_step"]["metrics"]["follows_learning_rate"] is True
    fit = checks["overfit_batch"]["metrics"]
    assert fit["final_loss"] < fit["initial_loss"]
    assert checks["lr_sweep"]["metrics"]["configured_lr"] == pytest.approx(1e-2)
    assert checks["leakage"]["status"] == "passed"  # the datamodule's validation batches were read
    assert "CrossEntropyLoss" in checks["loss"]["detail"]


def test_a_broken_lightning_module_is_diagnosed(tmp_path: Path) -> None:
    config = {"model": "lit.py:Tagger", "model_args": {"softmax": True}, "datamodule": "lit.py:Data"}
    result = check(project(tmp_path, config), "--quick")
    assert result.exit_code == 1, result.output
    assert parse_report(result.stdout, exit_code=1)["findings"][0]["code"] == "RD302"


def test_a_step_that_reshapes_is_checked_on_what_it_feeds_the_loss(tmp_path: Path) -> None:
    config = {"model": "lit.py:Tagger", "model_args": {"flatten": True}, "datamodule": "lit.py:Data"}
    loaded = load(tmp_path / "load", config)
    assert loaded.forward_fn is not None
    outputs, targets = loaded.forward_fn(loaded.model, next(iter(loaded.train_data)))
    assert outputs.shape == (8, 2) and targets.shape == (8,)
    assert loaded.lightning is not None and loaded.lightning["forward"].startswith("training_step")
    report = diagnose(project(tmp_path / "run", config), quick=True)
    assert report.exit_code == 0, [(f.code, f.message) for f in report.findings]


def test_a_loss_module_the_step_calls_is_the_loss(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"model": "lit.py:WithCriterion", "datamodule": "lit.py:Data"})
    assert loaded.loss_fn is loaded.model.criterion
    assert loaded.lightning is not None and loaded.lightning["loss"] == "seen in training_step: CrossEntropyLoss module"


def test_a_functional_loss_keeps_its_options(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"model": "lit.py:WeightedFunctional", "datamodule": "lit.py:Data"})
    assert isinstance(loaded.loss_fn, nn.CrossEntropyLoss)
    assert loaded.loss_fn.ignore_index == -1
    assert loaded.loss_fn.weight is not None and loaded.loss_fn.weight.tolist() == [1.0, 4.0]


def test_the_config_wins_over_the_module(tmp_path: Path) -> None:
    config = {
        "model": "lit.py:Tagger",
        "datamodule": "lit.py:Data",
        "loss": "NLLLoss",
        "optimizer": "SGD",
        "optimizer_args": {"lr": 0.5},
    }
    loaded = load(tmp_path, config)
    assert isinstance(loaded.loss_fn, nn.NLLLoss)
    assert isinstance(loaded.optimizer, torch.optim.SGD) and loaded.optimizer.param_groups[0]["lr"] == 0.5
    assert loaded.lightning is not None and loaded.lightning["loss"] == "given: NLLLoss"


def test_the_module_s_own_dataloaders(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"model": "lit.py:OwnLoaders"})
    assert loaded.lightning is not None
    assert loaded.lightning["train_data"] == "model.train_dataloader()"
    assert "2 loaders" in loaded.lightning["val_data_note"]
    assert len(next(iter(loaded.val_data))[0]) == 8  # the first of the two validation loaders


def test_a_datamodule_feeds_a_plain_model(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"model": "lit.py:PlainLSTM", "datamodule": "lit.py:Data", "loss": "CrossEntropyLoss"})
    assert loaded.train_step_fn is None and loaded.forward_fn is None
    inputs, targets = next(iter(loaded.train_data))
    assert inputs.shape == (8, 6, 3) and targets.shape == (8,)
    assert isinstance(loaded.optimizer, torch.optim.Adam)


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({"model": "lit.py:Tagger"}, ("train_data", "datamodule")),
        ({"model": "lit.py:PlainLSTM", "datamodule": "lit.py:Data"}, ("loss", "is required")),
        (
            {"model": "lit.py:NeedsTrainer", "datamodule": "lit.py:Data"},
            ("optimizer", "configure_optimizers", "Trainer"),
        ),
        ({"model": "lit.py:Manual", "datamodule": "lit.py:Data"}, ("model", "manual optimization", "train_step")),
        ({"model": "lit.py:HandMadeLoss", "datamodule": "lit.py:Data"}, ("loss", "HandMadeLoss")),
        ({"model": "lit.py:Tagger", "datamodule": "lit.py:PlainLSTM"}, ("datamodule", "LightningDataModule")),
    ],
    ids=["no-batches", "plain-model-no-loss", "needs-trainer", "manual", "hand-made-loss", "not-a-datamodule"],
)
def test_what_a_lightning_config_cannot_run_exits_2(
    tmp_path: Path, config: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    path = project(tmp_path, config)
    setup_error(check(path, "--quick"), str(path), *fragments)


def test_a_hand_made_loss_runs_when_the_config_names_one(tmp_path: Path) -> None:
    config = {"model": "lit.py:HandMadeLoss", "datamodule": "lit.py:Data", "loss": "CrossEntropyLoss"}
    report = diagnose(project(tmp_path, config), quick=True)
    assert report.exit_code == 0, [(f.code, f.message) for f in report.findings]
    assert report.meta["lightning"]["loss"] == "given: CrossEntropyLoss"


def test_the_core_does_not_import_lightning(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    code = textwrap.dedent(
        f"""
        import sys
        from rnndoctor import diagnose
        import rnndoctor.cli, rnndoctor.setup.lightning_adapter
        report = diagnose({str(config)!r}, quick=True, select=["RD1"])
        assert report.exit_code == 0, report.exit_code
        loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("lightning", "pytorch_lightning"))
        assert not loaded, loaded
        sys.modules["lightning"] = None  # as if it were not installed
        try:
            import rnndoctor.lightning
        except ImportError as exc:
            assert "pip install lightning" in str(exc), exc
        else:
            raise AssertionError("rnndoctor.lightning imported without lightning")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=300)


# -- the callback ------------------------------------------------------------------------------------


def _lit(tmp_path: Path) -> Any:
    """lit.py imported as a module of its own (what a user's training script holds)."""
    import importlib.util

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "lit.py"
    path.write_text(textwrap.dedent(LIT_PY), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"lit_{abs(hash(str(tmp_path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_diagnose_takes_a_live_lightning_module(tmp_path: Path) -> None:
    lit = _lit(tmp_path)
    model = lit.OwnLoaders()
    report = diagnose(model=model, quick=True)
    assert report.exit_code == 0, [(f.code, f.message) for f in report.findings]
    assert report.meta["lightning"]["train_data"] == "model.train_dataloader()"
    plain = diagnose(model=lit.PlainLSTM(), datamodule=lit.Data(), loss="CrossEntropyLoss", quick=True)
    assert plain.meta["lightning"]["train_data"] == "datamodule.train_dataloader()"


def _fit(
    tmp_path: Path, model_name: str, callbacks: list[Any], steps: int = 3, logger: Any = False, **model_args: Any
) -> tuple[Any, Any]:
    module = _lit(tmp_path)
    pl.seed_everything(0, verbose=False)
    model = getattr(module, model_name)(**model_args)
    trainer = pl.Trainer(
        max_steps=steps,
        callbacks=callbacks,
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        accelerator="cpu",
        default_root_dir=str(tmp_path),
    )
    trainer.fit(model, datamodule=module.Data())
    return model, trainer


def test_the_callback_diagnoses_the_fit_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    from rnndoctor.lightning import DiagnosisCallback

    callback = DiagnosisCallback(report_path=tmp_path / "report.json")
    diagnosed, trainer = _fit(tmp_path / "a", "Tagger", [callback])
    plain, _ = _fit(tmp_path / "b", "Tagger", [])
    assert trainer.global_step == 3
    assert callback.report is not None and callback.report.exit_code == 0
    notes = callback.report.meta["lightning"]
    assert notes["optimizer"] == "the Trainer's: Adam" and notes["gradient_clipping"] == "norm 1.0"
    assert notes["schedulers_not_stepped"] == ["StepLR"]
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "pass"
    for name, value in plain.state_dict().items():
        assert torch.equal(value, diagnosed.state_dict()[name]), f"{name}: the fit after the diagnosis differs"


def test_the_callback_raises_before_the_first_step_on_an_error(tmp_path: Path) -> None:
    from rnndoctor.lightning import DiagnosisCallback, DiagnosisFailed

    with pytest.raises(DiagnosisFailed, match="RD302") as raised:
        _fit(tmp_path, "Tagger", [DiagnosisCallback()], softmax=True)
    assert raised.value.report is not None and raised.value.report.findings[0].code == "RD302"
    # Issue 28 §7: the exception says what to change and where to read more.
    assert raised.value.code == "RD302" and raised.value.fix == raised.value.report.findings[0].fix
    assert "Fix: " in str(raised.value) and "rnndoctor explain RD302" in str(raised.value)


def test_the_callback_writes_its_findings_to_the_trainer_s_loggers(tmp_path: Path) -> None:
    """Issue 28: the counts beside the fit's own metrics, the report as TensorBoard text, rnndoctor.json in
    each logger's folder."""
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rnndoctor.lightning import DiagnosisCallback

    loggers = [CSVLogger(str(tmp_path / "csv")), TensorBoardLogger(str(tmp_path / "tb"))]
    callback = DiagnosisCallback(fail_on="never")
    _fit(tmp_path, "Tagger", [callback], logger=loggers, softmax=True)
    assert callback.report is not None
    errors = callback.report.counts()["error"]
    assert errors >= 1
    for logger in loggers:
        saved = json.loads((Path(logger.log_dir) / "rnndoctor.json").read_text())
        assert saved["findings"][0]["code"] == "RD302"
    metrics = (Path(loggers[0].log_dir) / "metrics.csv").read_text().splitlines()
    header = metrics[0].split(",")
    row = next(line.split(",") for line in metrics[1:] if line.split(",")[header.index("rnndoctor/errors")])
    assert float(row[header.index("rnndoctor/errors")]) == errors
    events = EventAccumulator(loggers[1].log_dir, size_guidance={"tensors": 0})
    events.Reload()
    assert "rnndoctor/errors" in events.Tags()["scalars"]
    assert any("rnndoctor" in tag for tag in events.Tags()["tensors"])  # the text plugin's tag


def test_the_callback_can_stop_the_fit_instead(tmp_path: Path) -> None:
    from rnndoctor.lightning import DiagnosisCallback

    with pytest.warns(UserWarning, match="stopping the fit"):
        _, trainer = _fit(tmp_path, "Tagger", [DiagnosisCallback(on_failure="stop")], softmax=True)
    assert trainer.global_step == 0


def test_the_callback_with_fail_on_never_lets_the_fit_run(tmp_path: Path) -> None:
    from rnndoctor.lightning import DiagnosisCallback

    callback = DiagnosisCallback(fail_on="never")
    _, trainer = _fit(tmp_path, "Tagger", [callback], softmax=True)
    assert trainer.global_step == 3
    assert callback.report is not None and [f.code for f in callback.report.findings][:1] == ["RD302"]


def test_the_callback_rejects_unknown_options() -> None:
    from rnndoctor.lightning import DiagnosisCallback

    with pytest.raises(ValueError, match="fail_on"):
        DiagnosisCallback(fail_on="sometimes")
    with pytest.raises(ValueError, match="on_failure"):
        DiagnosisCallback(on_failure="explode")


def test_every_form_configure_optimizers_returns() -> None:
    from rnndoctor.setup.lightning_adapter import split_optimizers

    weights = [nn.Parameter(torch.zeros(2))]
    adam, sgd = torch.optim.Adam(weights), torch.optim.SGD(weights, lr=0.1)
    step = torch.optim.lr_scheduler.StepLR(adam, 5)
    cases: list[tuple[Any, list[Any], list[str]]] = [
        (adam, [adam], []),
        ([adam, sgd], [adam, sgd], []),
        ((adam,), [adam], []),
        ({"optimizer": adam, "lr_scheduler": step}, [adam], ["StepLR"]),
        ({"optimizer": adam, "lr_scheduler": {"scheduler": step, "interval": "step"}}, [adam], ["StepLR"]),
        ([{"optimizer": adam, "lr_scheduler": step}, {"optimizer": sgd}], [adam, sgd], ["StepLR"]),
        (([adam, sgd], [step]), [adam, sgd], ["StepLR"]),
        (None, [], []),
    ]
    for returned, optimizers, schedulers in cases:
        split = split_optimizers(returned)
        assert split.optimizers == optimizers, returned
        assert split.scheduler_names() == schedulers, returned
