"""RD210: trainable parameters without gradient, frozen ones given to the optimizer, trainable ones it lacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.gradients import GradientStats
from rnndoctor.runtime.patches import held_by_optimizer, trained_too
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD210",
    checks=("gradients",),
    message=(
        "{tensors} trainable parameter tensor(s) in {where} ({values} values, {share_of_model:.0%} of the model) "
        "get no gradient from the loss. They are detached (.detach(), .data, torch.no_grad, a numpy round-trip) "
        "or never used in forward, so they never learn."
    ),
    remedy=(
        "Find where the graph is cut between these modules and the loss:\n\n```python\n"
        "features = self.encoder(x)            # not self.encoder(x).detach()\n"
        "for name, p in model.named_parameters():\n    print(name, p.grad is None)\n```"
    ),
    variants={
        "unused": Wording(
            message=(
                "{tensors} trainable parameter tensor(s) in {where} ({values} values, {share_of_model:.0%} of the "
                "model) belong to modules that never run in forward, so they get no gradient from this loss. Fine "
                "for a head of a task switched off; a bug if the module was meant to be part of the model."
            ),
            remedy=(
                "Call the module in forward, or leave its parameters out of the optimizer while it is unused:"
                "\n\n```python\noptimizer = torch.optim.Adam(\n    (p for n, p in model.named_parameters() "
                "if not n.startswith('{first_module}.')), lr=1e-3)\n```"
            ),
        ),
        "frozen": Wording(
            message=(
                "{tensors} parameter tensor(s) have requires_grad=False but were given to the optimizer "
                "({named}...): frozen, probably by mistake, since the optimizer was meant to train them."
            ),
            remedy=(
                "Unfreeze them, or leave them out of the optimizer if freezing is intended:\n\n```python\n"
                "for p in model.encoder.parameters():\n    p.requires_grad_(True)\n```"
            ),
        ),
        "not_in_optimizer": Wording(
            message=(
                "{tensors} trainable parameter tensor(s) ({values} values) are not in the optimizer, e.g. "
                "{named}: they get gradients but are never updated. The optimizer was built before these modules "
                "were added or replaced."
            ),
            remedy=(
                "Build the optimizer after the model is complete:\n\n```python\nmodel.head = nn.Linear(h, c)\n"
                "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n```"
            ),
        ),
    },
    title="parameters receive no gradient (detached, frozen, unused)",
    severity=Severity.ERROR,
    what=(
        "Runs backward passes on two training batches and lists trainable parameters whose .grad stays None "
        "or exactly zero; it also reports parameters frozen with requires_grad=False that were given to the "
        "optimizer, and trainable parameters the optimizer does not hold."
    ),
    why=(
        "A parameter without a gradient never changes. When it sits on the main path, because the output "
        "was detached, round-tripped through NumPy or .item(), or the layer was frozen by mistake, the "
        "part of the model before it never trains; a layer that is defined but never called is dead "
        "weight."
    ),
    symptoms=(
        "Loss plateaus high or does not fall; some layers' weights are identical to their initial "
        'values; errors such as "element 0 of tensors does not require grad and does not have a '
        'grad_fn".'
    ),
    fix=(
        "Remove .detach(), .numpy() and torch.tensor(...) round-trips from the forward pass, re-enable "
        "requires_grad where it was switched off, and call or delete layers that are never used."
    ),
    before=snippet(
        """
        def forward(self, x):
            out, _ = self.rnn(x)
            feats = torch.tensor(out[:, -1].detach().numpy())   # cuts the graph
            return self.head(feats)
        """
    ),
    after=snippet(
        """
        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])
        """
    ),
    explains=("RD402", "RD503", "RD505", "RD506"),
)


@judges(RULE, GradientStats)
def no_gradient(stats: GradientStats, options: Mapping[str, Any]) -> list[Finding]:
    """trainable parameters with no gradient, frozen ones handed to the optimizer, and trainable
    ones missing from it."""
    findings = []
    total = sum(stats.parameter_counts.values()) or 1
    if stats.no_grad:
        evidence = _by_module(stats.no_grad, stats.parameter_counts, total)
        words = {"tensors": len(stats.no_grad), "where": ", ".join(evidence["modules"][:6])}
        findings.append(RULE.finding(evidence, words))
    if stats.unused:
        evidence = _by_module(stats.unused, stats.parameter_counts, total)
        modules = evidence["modules"]
        words = {"tensors": len(stats.unused), "where": ", ".join(modules[:6]), "first_module": modules[0]}
        findings.append(RULE.finding(evidence, words, variant="unused", severity=Severity.WARNING, confidence=0.5))
    deliberate = bool(stats.frozen_in_optimizer) and set(stats.frozen_in_optimizer) <= set(stats.frozen_embeddings)
    if stats.frozen_in_optimizer and not deliberate:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.frozen_in_optimizer)
        evidence = {"parameters": stats.frozen_in_optimizer[:20], "values": count}
        words = {"tensors": len(stats.frozen_in_optimizer), "named": ", ".join(stats.frozen_in_optimizer[:4])}
        findings.append(RULE.finding(evidence, words, variant="frozen", severity=Severity.WARNING))
    if stats.not_in_optimizer:
        count = sum(stats.parameter_counts.get(n, 0) for n in stats.not_in_optimizer)
        evidence = {"parameters": stats.not_in_optimizer[:20], "values": count}
        words = {"tensors": len(stats.not_in_optimizer), "named": ", ".join(stats.not_in_optimizer[:4])}
        findings.append(RULE.finding(evidence, words, variant="not_in_optimizer"))
    return findings


def _by_module(names: list[str], counts: Mapping[str, int], total: int) -> dict[str, Any]:
    """The evidence of a list of parameter names: the first 20, the modules holding them, how many values."""
    count = sum(counts.get(n, 0) for n in names)
    return {
        "parameters": names[:20],
        "modules": sorted({n.rsplit(".", 1)[0] if "." in n else n for n in names}),
        "values": count,
        "share_of_model": count / total,
    }


@remedy(RULE)
def parameters_trained(session: Session, finding: Finding) -> list[Trial] | str:
    """Frozen parameters trained again, or those missing from the optimizer added to it."""
    named = dict(session.model.named_parameters())
    wanted = [named[name] for name in finding.evidence.get("parameters", ()) if name in named]
    held = held_by_optimizer(session)
    fixable = [p for p in wanted if not p.requires_grad or id(p) not in held]
    if not fixable:
        return "the gradient is cut inside forward (a .detach(), an unused branch): no mechanical fix"
    return [
        Trial(
            "the frozen or left-out parameters trained (requires_grad=True, in the optimizer)", [trained_too(fixable)]
        )
    ]
