"""A Lightning callback that diagnoses the fit's own model, optimizer and batches before the first step.

    import lightning.pytorch as pl
    from rnndoctor.lightning import DiagnosisCallback

    trainer = pl.Trainer(max_epochs=10, callbacks=[DiagnosisCallback()])
    trainer.fit(model, datamodule=data)   # raises DiagnosisFailed when the diagnosis finds an error

The diagnosis runs at ``on_fit_start``, on the Trainer's device, through the module's ``training_step`` with the
optimizer ``configure_optimizers`` gave the Trainer and the Trainer's gradient clipping. Afterwards the model,
the optimizer and the random number generators are as they were, so the fit starts exactly as it would have.

Needs Lightning (the ``lightning`` extra, or ``pip install lightning``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import lightning.pytorch as pl
    from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
except ImportError as exc:  # pragma: no cover - exercised only where lightning is missing
    raise ImportError("rnndoctor.lightning needs Lightning; install it with: pip install lightning") from exc

from rnndoctor.api import diagnose
from rnndoctor.core.findings import FailOn, Report
from rnndoctor.setup.errors import SetupError
from rnndoctor.setup.lightning_adapter import LightningSetupError

ON_FAILURE = ("raise", "stop")


class DiagnosisFailed(Exception):
    """The diagnosis before the fit found problems at or above ``fail_on`` (or could not run at all).

    ``code`` and ``fix`` are the first failing finding's (its message says where to read more:
    ``rnndoctor explain CODE``); ``report`` is the whole report (None when the setup could not be read)."""

    def __init__(self, message: str, report: Report | None = None, *, code: str | None = None, fix: str = "") -> None:
        super().__init__(message)
        self.report = report
        self.code = code
        self.fix = fix


class DiagnosisCallback(pl.Callback):
    """Runs ``rnndoctor`` on the fit's model at ``on_fit_start`` and stops the fit when it fails.

    ``quick`` (default) runs the seconds-long checks; ``quick=False`` the full diagnosis with the learning-rate
    sweep and the short training runs. ``fail_on`` is ``"error"``, ``"warning"`` or ``"never"``; a failing
    diagnosis raises `DiagnosisFailed` (``on_failure="raise"``) or sets ``trainer.should_stop``
    (``on_failure="stop"``), so the fit ends before its first step. ``loss``, ``forward``, ``batch_keys``,
    ``hidden`` and ``layout`` are the config keys of the same names, for steps rnndoctor cannot read by itself.
    ``report_path`` writes the report in ``report_format`` (json, markdown, html, junit, text). The report is
    kept in ``self.report`` and written to the Trainer's loggers (`log_report`): the counts as metrics, the
    report as text where the logger takes text (TensorBoard, Weights & Biases), and ``rnndoctor.json`` in the
    logger's ``log_dir`` (CSVLogger, TensorBoardLogger).
    """

    def __init__(
        self,
        *,
        quick: bool = True,
        fail_on: str = "error",
        on_failure: str = "raise",
        select: Sequence[str] = (),
        ignore: Sequence[str] = (),
        checks: dict[str, Any] | None = None,
        loss: Any = None,
        forward: Any = None,
        batch_keys: dict[str, str] | None = None,
        hidden: str | None = None,
        layout: str | None = None,
        seed: int = 0,
        max_batches: int | None = None,
        report_path: str | Path | None = None,
        report_format: str = "json",
    ) -> None:
        try:
            self.fail_on = FailOn(str(fail_on).lower())
        except ValueError:
            raise ValueError(f"fail_on={fail_on!r}: expected error, warning or never") from None
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure={on_failure!r}: expected raise or stop")
        self.quick = quick
        self.on_failure = on_failure
        self.select = tuple(select)
        self.ignore = tuple(ignore)
        self.checks = checks
        self.loss = loss
        self.forward = forward
        self.batch_keys = batch_keys
        self.hidden = hidden
        self.layout = layout
        self.seed = seed
        self.max_batches = max_batches
        self.report_path = Path(report_path) if report_path is not None else None
        self.report_format = report_format
        self.report: Report | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:
            rank_zero_warn("rnndoctor: the diagnosis runs in single-process fits only; skipped in this one")
            return
        try:
            report = self._diagnose(trainer, pl_module)
        except (SetupError, LightningSetupError) as exc:
            self._fail(trainer, f"rnndoctor could not diagnose this fit: {exc}", None, fix=str(exc))
            return
        self.report = report
        log_report(trainer, report)
        if self.report_path is not None:
            from rnndoctor.render import render

            self.report_path.parent.mkdir(parents=True, exist_ok=True)
            self.report_path.write_text(render(report, self.report_format), encoding="utf-8")
        for finding in report.findings:
            rank_zero_info(f"rnndoctor: {finding.code} {finding.severity.name.lower()}: {finding.title}")
        rank_zero_info(f"rnndoctor: {report.verdict}: {report.summary()}")
        if report.exit_code != 0 and self.fail_on is not FailOn.NEVER:
            first = report.failing_findings[0] if report.failing_findings else None
            if first is None:
                self._fail(trainer, f"rnndoctor: {report.verdict} before training: {report.summary()}", report)
                return
            message = (
                f"rnndoctor: {report.verdict} before training: {first.code} {first.title}: {first.message}\n\n"
                f"Fix: {first.fix}\n\nDetails: `rnndoctor explain {first.code}`; the whole report is the "
                "exception's .report (or the callback's .report)."
            )
            self._fail(trainer, message, report, code=first.code, fix=first.fix)

    def _diagnose(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Report:
        fit_loop = trainer.fit_loop
        train_data = _loop_data(fit_loop)
        val_data = _loop_data(getattr(fit_loop.epoch_loop, "val_loop", None))
        optimizer = trainer.optimizers[0] if trainer.optimizers else None
        report = diagnose(
            model=pl_module,
            train_data=train_data,
            val_data=val_data,
            loss=self.loss,
            optimizer=optimizer,
            forward=self.forward,
            device=_device_name(pl_module.device),
            seed=self.seed,
            fail_on=self.fail_on.value,
            select=self.select,
            ignore=self.ignore,
            quick=self.quick,
            checks=self.checks,
            max_batches=self.max_batches,
            hidden=self.hidden,
            layout=self.layout,
            batch_keys=self.batch_keys,
        )
        notes = report.meta.setdefault("lightning", {})
        notes["optimizer"] = f"the Trainer's: {type(optimizer).__name__}" if optimizer is not None else "none"
        if len(trainer.optimizers) > 1:
            notes["optimizers_not_diagnosed"] = len(trainer.optimizers) - 1
        schedulers = [type(config.scheduler).__name__ for config in trainer.lr_scheduler_configs]
        if schedulers:
            notes["schedulers_not_stepped"] = schedulers
        if trainer.gradient_clip_val:
            notes["gradient_clipping"] = f"{trainer.gradient_clip_algorithm or 'norm'} {trainer.gradient_clip_val}"
        return report

    def _fail(
        self, trainer: pl.Trainer, message: str, report: Report | None, *, code: str | None = None, fix: str = ""
    ) -> None:
        if self.fail_on is FailOn.NEVER:
            rank_zero_warn(message)
            return
        if self.on_failure == "raise":
            raise DiagnosisFailed(message, report, code=code, fix=fix)
        rank_zero_warn(f"{message} (stopping the fit)")
        trainer.should_stop = True


def log_report(trainer: pl.Trainer, report: Report) -> None:
    """Write the report to each of the Trainer's loggers, beside the fit's own curves: the number of errors,
    warnings and info findings and the exit code as metrics (``rnndoctor/errors``, ...), the markdown report
    as text where the logger takes text (TensorBoard's ``add_text``, Weights & Biases' ``log_text``), and the
    JSON report as ``rnndoctor.json`` in the logger's ``log_dir``. A logger that refuses is warned about; the
    fit goes on."""
    from rnndoctor.render import render

    counts = report.counts()
    metrics = {f"rnndoctor/{label}s" if label != "info" else "rnndoctor/info": float(n) for label, n in counts.items()}
    metrics["rnndoctor/exit_code"] = float(report.exit_code)
    for logger in trainer.loggers:
        try:
            logger.log_metrics(metrics, step=trainer.global_step)
            add_text = getattr(getattr(logger, "experiment", None), "add_text", None)
            log_text = getattr(logger, "log_text", None)
            if callable(add_text):
                add_text("rnndoctor", render(report, "markdown"), trainer.global_step)
            elif callable(log_text):
                rows = [[f.code, f.severity.label, f.title, f.message, f.fix] for f in report.findings]
                log_text(key="rnndoctor", columns=["code", "severity", "title", "message", "fix"], data=rows)
            log_dir = getattr(logger, "log_dir", None)
            if log_dir:
                Path(log_dir).mkdir(parents=True, exist_ok=True)
                (Path(log_dir) / "rnndoctor.json").write_text(report.to_json(), encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - a logger's failure must not end the fit the report is about
            rank_zero_warn(f"rnndoctor: could not write the report to {type(logger).__name__}: {exc}")


def _loop_data(loop: Any) -> Any:
    """The batches a fit loop will read (its module's, datamodule's or the loaders given to ``fit``), or None.

    At ``on_fit_start`` the loops have not loaded them yet; their source says where they will come from."""
    from rnndoctor.setup.lightning_adapter import first_loader

    source = getattr(loop, "_data_source", None)
    if source is None or source.instance is None or not source.is_defined():
        return None
    return first_loader(source.dataloader(), "the fit's dataloaders").data


def _device_name(device: Any) -> str:
    if device.type in ("cpu", "mps") or device.index is None:
        return str(device.type)
    return f"{device.type}:{device.index}"
