"""RD213: submodules or parameters held in a plain list or dict (not registered, so never trained)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.model import UnregisteredScan
from rnndoctor.runtime.patches import trained_too
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD213",
    checks=("structure",),
    message=(
        "'{attribute}' is a plain Python {container} holding {modules} module(s) with {unregistered_parameters} "
        "parameters ({share_of_model:.0%} of the model). PyTorch does not register them: they are missing "
        "from model.parameters(), so the optimizer never updates them, .to(device) does not move them, and "
        "state_dict() does not save them."
    ),
    remedy=("Wrap the container so its modules are registered:\n\n```python\nself.{attr} = {wrapper}(...)\n```"),
    title="submodules held in a plain list or dict (parameters unregistered)",
    severity=Severity.ERROR,
    what=(
        "Walks the model's attributes for Python lists, tuples and dicts holding nn.Module or "
        "nn.Parameter objects and reports the parameters inside them that model.parameters() does not "
        "return."
    ),
    why=(
        "nn.Module registers a submodule only when it is assigned as an attribute directly or held in a "
        "ModuleList, ModuleDict or ParameterList. Anything inside a plain container is invisible to "
        "model.parameters(), so the optimizer never updates it, .to(device) does not move it and "
        "state_dict() does not save it."
    ),
    symptoms=(
        'Those layers never change during training; "Expected all tensors to be on the same device" '
        "after model.to('cuda'); weights missing after reloading a checkpoint."
    ),
    fix=(
        "Hold submodules in nn.ModuleList or nn.ModuleDict, and loose parameters in nn.ParameterList or "
        "nn.ParameterDict."
    ),
    before=snippet(
        """
        self.layers = [nn.GRU(64, 64, batch_first=True) for _ in range(3)]
        self.heads = {"tag": nn.Linear(64, 17), "chunk": nn.Linear(64, 9)}
        """
    ),
    after=snippet(
        """
        self.layers = nn.ModuleList(nn.GRU(64, 64, batch_first=True) for _ in range(3))
        self.heads = nn.ModuleDict({"tag": nn.Linear(64, 17), "chunk": nn.Linear(64, 9)})
        """
    ),
    explains=("RD210", "RD503", "RD505"),
)


@judges(RULE, UnregisteredScan)
def unregistered(scan: UnregisteredScan, options: Mapping[str, Any]) -> list[Finding]:
    """Submodules or parameters held in plain Python containers."""
    found, total_parameters = scan.found, scan.total_parameters
    findings = []
    for item in found:
        missing = item.parameters - item.registered_parameters
        if missing <= 0:
            continue
        evidence = {
            "attribute": item.attribute,
            "container": item.container,
            "modules": item.modules,
            "unregistered_parameters": missing,
            "share_of_model": missing / max(total_parameters + missing, 1),
        }
        words = {
            "attr": item.attribute.split(".")[-1],
            "wrapper": "nn.ModuleList" if item.container in ("list", "tuple") else "nn.ModuleDict",
        }
        findings.append(RULE.finding(evidence, words))
    return findings


@remedy(RULE)
def containers_registered(session: Session, finding: Finding) -> list[Trial] | str:
    """The parameters of modules held in a plain list or dict registered with the optimizer."""
    holder: Any = session.model
    for part in str(finding.evidence.get("attribute", "")).split("."):
        holder = getattr(holder, part, None) if part else holder
    items = holder.values() if isinstance(holder, dict) else holder if isinstance(holder, (list, tuple)) else ()
    parameters: list[torch.nn.Parameter] = []
    for item in items:
        if isinstance(item, torch.nn.Module):
            parameters.extend(item.parameters())
        elif isinstance(item, torch.nn.Parameter):
            parameters.append(item)
    registered = {id(p) for p in session.model.parameters()}
    parameters = [p for p in parameters if id(p) not in registered]
    if not parameters:
        return "the container's parameters could not be found"
    return [
        Trial("the container's parameters registered and trained (nn.ModuleList/ModuleDict)", [trained_too(parameters)])
    ]
