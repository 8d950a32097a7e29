"""The targets as the loss sees them, and the task they imply (classification, regression, tagging,
language modelling): measured once per run, shared by every check that needs them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnndoctor.core.errors import SkipCheck, UserCodeError
from rnndoctor.runtime.layout import embedding_rows, embedding_tables
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.task import Task, infer_task, loss_ignore_index

MAX_TARGET_BATCHES_VIA_FORWARD = 4
"""With a custom ``forward``, targets cost a forward pass each, so fewer batches are read."""


def targets_of(session: Session, split: str) -> list[torch.Tensor]:
    """The sampled targets of a split, on the CPU, as the loss would see them.

    With a custom ``forward`` the targets are what it returns (it may flatten or cast them), which
    costs a forward pass per batch, so fewer batches are read.
    """
    if session.forward_fn is None or session.targets_exact:
        return [t.detach().cpu() for t in (b.targets for b in session.batches(split)) if isinstance(t, torch.Tensor)]
    targets = []
    for raw in session.sample(split).batches[:MAX_TARGET_BATCHES_VIA_FORWARD]:
        result = session.forward(raw)
        if isinstance(result.targets, torch.Tensor):
            targets.append(result.targets.detach().cpu())
    return targets


@dataclass(frozen=True)
class TaskFacts:
    task: Task
    output_shape: tuple[int, ...] | None
    """The shape of the model's output on the first training batch (None when the forward pass fails)."""


def task_facts(session: Session) -> TaskFacts:
    """The task, inferred from the loss, the first batch's targets and the reference outputs (a fact)."""
    targets = targets_of(session, "train")
    if not targets:
        raise SkipCheck("the sampled batches hold no target tensors")
    reference = None
    if not session.unsafe_token_ids():
        try:
            reference = session.reference()
        except UserCodeError:
            reference = None
    outputs = reference.outputs if reference is not None else None
    if isinstance(outputs, torch.Tensor):
        outputs = outputs.detach().cpu()
    reference_targets = (
        reference.targets.detach().cpu()
        if reference is not None and isinstance(reference.targets, torch.Tensor)
        else targets[0]
    )
    per_step, inputs, step_targets = None, None, reference_targets
    layout = session.layout() if reference is not None else None
    if reference is not None and layout is not None:
        targets_view, _ = session.views(reference)
        if targets_view is not None:
            per_step = targets_view.steps is not None
            model_input = reference.model_input
            if per_step and isinstance(model_input, torch.Tensor) and not model_input.is_floating_point():
                inputs = layout.resized(model_input).batch_first(model_input).detach().cpu()
                step_targets = targets_view.canonical(reference_targets)
    vocabularies = frozenset(embedding_rows(table) for _, table in embedding_tables(session.model))
    task = infer_task(
        session.loss_name,
        reference_targets,
        outputs,
        inputs if inputs is not None and inputs.shape == step_targets.shape else None,
        loss_ignore_index(session.loss_fn),
        per_step=per_step,
        vocabularies=vocabularies,
    )
    return TaskFacts(task, tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else None)
