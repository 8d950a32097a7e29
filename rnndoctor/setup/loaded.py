"""`Loaded`: the user's objects ready for a run, and `assemble`, the one function that builds it.

A config's references (`rnndoctor.setup.loading`) and live objects (``diagnose(model=...)``, the Lightning
callback) both end here: plain objects are taken as given; a LightningModule or a LightningDataModule fills
what is missing from its dataloaders, ``configure_optimizers``, ``training_step`` and the loss it computes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnndoctor.setup.lightning_adapter import LightningSetupError, adapt, dataloader, is_lightning_module


@dataclass
class Loaded:
    model: Any
    train_data: Any
    loss_fn: Callable[..., Any]
    optimizer: Any
    val_data: Any = None
    forward_fn: Callable[..., Any] | None = None
    train_step_fn: Callable[..., Any] | None = None
    lightning: dict[str, Any] | None = None
    """For a LightningModule or a datamodule: where each part came from (the report's ``meta.lightning``)."""
    forward_unavailable: str | None = None
    """Why the model cannot be run on a batch outside the user's own loop (a script whose model is called
    piecewise): checks that need a forward pass are skipped with this reason."""
    reference: tuple[Any, Any] | None = None
    """(outputs, targets) as the loss saw them on the first batch, where no forward pass can produce them."""
    layout_hint: str | None = None
    """The layout the setup itself implies (a script that stacks per-step inputs on a new time axis), used
    unless the config sets ``layout``."""
    on_new_phase: Callable[[], None] | None = None
    """Called when a check or a shared measurement begins (a script is then run afresh for its steps)."""
    targets_exact: bool = False
    """The batches' targets are exactly what the loss receives (observed there), even with a forward_fn."""
    script_mode: bool = False
    """The objects come from a run of the user's training script (checks marked script_only run)."""


def _as_found(data: Any, key: str, origin: str) -> Any:
    return data


def assemble(
    model: Any,
    *,
    train_data: Any,
    val_data: Any,
    loss_fn: Any,
    optimizer: Any,
    forward_fn: Callable[..., Any] | None = None,
    train_step_fn: Callable[..., Any] | None = None,
    datamodule: Any = None,
    batch_keys: dict[str, str] | None = None,
    usable: Callable[[Any, str, str], Any] = _as_found,
    no_training_batches: str = "no training batches: give train_data=, a datamodule, or a module with "
    "train_dataloader()",
    no_loss: str = "diagnose() needs loss= for a model that is not a LightningModule",
) -> Loaded:
    """The objects of one run. Batches not given come from the datamodule, else from the module's own
    dataloaders (``usable`` checks what they return: data, its config key, where it came from); a
    LightningModule's training_step, optimizer and loss fill the rest. The datamodule and the module must be
    set up for the fit already (`rnndoctor.setup.lightning_adapter.prepare`). Raises LightningSetupError
    (``no_training_batches``, ``no_loss``: the causes to give when those are missing)."""
    lightning = is_lightning_module(model)
    if datamodule is None and not lightning:
        return Loaded(model, train_data, loss_fn, optimizer, val_data, forward_fn, train_step_fn)
    notes: dict[str, Any] = {}
    data = {"train": train_data, "val": val_data}
    for split in ("train", "val"):
        if data[split] is not None:
            continue
        for owner, label in ((datamodule, "datamodule"), (model if lightning else None, "model")):
            found = dataloader(owner, split, label, label)
            if found is not None:
                data[split] = usable(found.data, f"{split}_data", found.origin)
                notes[f"{split}_data"] = found.origin
                if found.note:
                    notes[f"{split}_data_note"] = found.note
                break
    if data["train"] is None:
        raise LightningSetupError("train_data", no_training_batches)
    if loss_fn is None and not lightning:
        raise LightningSetupError("loss", no_loss)
    if lightning:
        adapted = adapt(
            model,
            train_data=data["train"],
            loss_fn=loss_fn,
            optimizer=optimizer,
            forward_fn=forward_fn,
            train_step_fn=train_step_fn,
            batch_keys=batch_keys,
        )
        notes = {**adapted.notes, **notes}
        loss_fn, optimizer = adapted.loss_fn, adapted.optimizer
        forward_fn, train_step_fn = adapted.forward_fn, adapted.train_step_fn
    return Loaded(model, data["train"], loss_fn, optimizer, data["val"], forward_fn, train_step_fn, notes)
