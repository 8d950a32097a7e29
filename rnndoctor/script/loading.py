"""Script mode's counterpart of loading a config's references: run the script's capture and hand the
diagnosis the `Loaded` objects, for as long as the script's environment is held."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rnndoctor.core.findings import Finding
from rnndoctor.script.adapter import build_setup
from rnndoctor.script.capture import Capture, CaptureFailed, LightningFit, capture
from rnndoctor.script.runner import ScriptEnvironment, ScriptRun, ScriptTimeout
from rnndoctor.script.spec import ScriptSpec
from rnndoctor.setup.errors import SetupError
from rnndoctor.setup.loaded import Loaded

OUTPUT_LINES_ON_FAILURE = 15


@dataclass
class LoadedScript:
    loaded: Loaded | None
    """None when the script crashed inside its model or loss before one step finished (the finding says why)."""
    capture: Capture | None
    """None when the script trains through Lightning (its module and data are diagnosed the Lightning way)."""
    environment: ScriptEnvironment
    run: ScriptRun
    startup_seconds: float
    findings: list[Finding] = field(default_factory=list)
    """What the capture itself showed (a crash inside the model or loss during the script's first steps)."""

    def meta(self) -> dict[str, Any]:
        spec = self.environment.spec
        seen = self.run.observer.seen
        meta: dict[str, Any] = {
            "path": str(spec.path),
            "args": list(spec.args),
            "cwd": str(spec.folder),
            "startup_s": round(self.startup_seconds, 3),
            "runs": int(getattr(self.loaded.train_step_fn if self.loaded else None, "runs", 1)),
            "redirected_writes": self.environment.sandbox.written(),
            "dataloaders": seen.dataloaders,
            "dataloader_workers": seen.dataloader_workers,
            "schedulers": sorted(set(seen.schedulers)),
        }
        capture = self.capture
        if capture is None:
            return {**meta, "lightning": True}
        step = self.loaded.train_step_fn if self.loaded is not None else None
        return {
            **meta,
            "capture_s": round(capture.capture_seconds, 3),
            "restarts_s": round(float(getattr(step, "restart_seconds", 0.0)), 3),
            "steps_observed": len(capture.records),
            "steps_run": len(capture.records) + int(getattr(step, "steps", 0)),
            "modules": _module_names(capture),
            "optimizer": _optimizer_name(self.loaded.optimizer if self.loaded is not None else None),
            "loss": capture.loss.__class__.__name__ if hasattr(capture.loss, "parameters") else repr(capture.loss),
            "replayable": capture.replayable,
            **({"not_replayable": capture.replay_problem} if capture.replay_problem else {}),
            "ended_early": capture.ended or not capture.run.alive,
        }


def _optimizer_name(optimizer: Any) -> str | None:
    from rnndoctor.script.optimizers import HandWrittenSGD, JointOptimizer

    if optimizer is None:
        return None
    return repr(optimizer) if isinstance(optimizer, (HandWrittenSGD, JointOptimizer)) else type(optimizer).__name__


def _module_names(capture: Capture) -> dict[str, str]:
    return {capture.names.get(id(m)) or f"module{i}": type(m).__name__ for i, m in enumerate(capture.modules)}


@contextmanager
def loaded_script(spec: ScriptSpec, *, steps: int, display: str) -> Iterator[LoadedScript]:
    """Run the script's first steps and yield the setup they show; the script is stopped, its folder,
    arguments and streams given back when the block ends."""
    environment = ScriptEnvironment(spec)
    with environment.entered():
        try:
            captured = capture(environment, steps)
        except ScriptTimeout:
            raise SetupError(
                f"the script did not finish its first training step within {spec.timeout:g} s (script_timeout); "
                "raise script_timeout if its start-up (data loading) is slow" + _tail(environment.output_tail()),
                file=display,
            ) from None
        except CaptureFailed as exc:
            raise SetupError(str(exc) + _tail(exc.output), file=display) from None
        except LightningFit as fit:
            try:
                yield LoadedScript(_lightning(fit, display), None, environment, fit.run, fit.startup)
            finally:
                fit.run.stop()
            return
        try:
            result = LoadedScript(None, captured, environment, captured.run, captured.startup_seconds)
            if captured.crash is not None:
                result.findings.append(_crash_finding(captured))
            if captured.records:
                result.loaded = _loaded(captured)
            yield result
        finally:
            captured.run.stop()


def _loaded(captured: Capture) -> Loaded:
    setup = build_setup(captured)
    return Loaded(
        model=setup.model,
        train_data=setup.batches,
        loss_fn=setup.loss_fn,
        optimizer=setup.optimizer,
        forward_fn=setup.forward_fn,
        train_step_fn=setup.train_step_fn,
        forward_unavailable=setup.forward_unavailable,
        reference=setup.reference,
        targets_exact=True,
        script_mode=True,
        layout_hint=setup.layout_hint,
        on_new_phase=getattr(setup.train_step_fn, "new_phase", None),
    )


def _lightning(fit: LightningFit, display: str) -> Loaded:
    """The module and data the script handed to ``Trainer.fit``, as the Lightning support loads them."""
    from rnndoctor.setup.lightning_adapter import LightningSetupError, prepare
    from rnndoctor.setup.loaded import assemble

    arguments = fit.arguments
    datamodule = arguments.get("datamodule")
    try:
        if datamodule is not None and arguments.get("train_dataloaders") is None:
            prepare(datamodule, "datamodule")
        loaded: Loaded = assemble(
            arguments["model"],
            train_data=arguments.get("train_dataloaders"),
            val_data=arguments.get("val_dataloaders"),
            loss_fn=None,
            optimizer=None,
            datamodule=datamodule,
        )
    except LightningSetupError as exc:
        raise SetupError(f"the script's Trainer.fit: {exc.cause}", file=display) from None
    return loaded


def _crash_finding(captured: Capture) -> Finding:
    from rnndoctor.core.crashes import diagnose_crash

    assert captured.crash is not None
    return diagnose_crash(captured.crash.stage, captured.crash.error, "script")


def _tail(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()][-OUTPUT_LINES_ON_FAILURE:]
    if not lines:
        return ""
    return "\nthe script's last output:\n" + "\n".join(f"  | {line}" for line in lines)
