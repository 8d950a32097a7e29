"""RD215: in a next-step task, an output reads inputs after its own step (the model sees the future)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.remedies import Trial, remedy
from rnndoctor.measurements.model import FutureProbes
from rnndoctor.runtime.patches import hooked
from rnndoctor.runtime.session import Session

RULE = Rule(
    code="RD215",
    checks=("probes",),
    message=(
        "The targets are the next inputs (next-step prediction), yet the output at step {step} of sample "
        "{sample} draws {future_gradient_share:.1%} of its input gradient from later steps: the model sees "
        "the future it must predict. A causal attention mask that is transposed, inverted or missing (or a "
        "bidirectional layer) lets each position read the next token, so the training loss falls below what "
        "the data allows and generation, which has no future to read, fails."
    ),
    remedy=(
        "Mask every later position in self-attention (True or -inf above the diagonal):\n\n```python\n"
        "T = x.size(1)\nmask = nn.Transformer.generate_square_subsequent_mask(T, device=x.device)\n"
        "h = self.encoder(self.embed(x), mask=mask, is_causal=True)\n```\n\n"
        "A recurrent language model must be unidirectional (`bidirectional=False`)."
    ),
    title="an output depends on later positions in a next-step prediction task (causal mask leaks)",
    severity=Severity.ERROR,
    what=(
        "When the targets are the inputs shifted one step ahead, backpropagates the output at a middle and "
        "a late step of a few samples (in eval mode) to the inputs, or the first embedding's output, and "
        "reports when any share of the gradient lands on steps after the output's own."
    ),
    why=(
        "A next-step predictor is used where the future is unknown. If position t may attend to t+1, whose "
        "token is position t's target, the model learns to copy it: the training and validation loss look "
        "excellent while the model has learned nothing it can use to generate."
    ),
    symptoms=(
        "Loss far below the data's entropy after a few hundred steps, near-perfect validation accuracy, and "
        "garbage when sampling one token at a time."
    ),
    fix=(
        "Pass a causal mask to every self-attention layer (upper triangle masked), check its orientation "
        "against the layer's convention (True or -inf means masked in PyTorch), and keep recurrent language "
        "models unidirectional."
    ),
    before=snippet(
        """
        mask = torch.tril(torch.ones(T, T)).bool()       # True = masked in PyTorch: hides the past instead
        h = self.encoder(self.embed(x), mask=mask)
        """
    ),
    after=snippet(
        """
        mask = nn.Transformer.generate_square_subsequent_mask(T)   # -inf above the diagonal
        h = self.encoder(self.embed(x), mask=mask, is_causal=True)
        """
    ),
)


@judges(RULE, FutureProbes)
def future_leak(future: FutureProbes, options: Mapping[str, Any]) -> list[Finding]:
    """In a task whose targets are the next inputs, an output takes more than ``mixing_tolerance`` of its
    input gradient from inputs after its own step."""
    probes = future.probes
    leaking = [p for p in probes if p.share > float(options["mixing_tolerance"])]
    if not leaking:
        return []
    worst = max(leaking, key=lambda p: p.share)
    evidence = {
        "sample": worst.sample,
        "step": worst.step,
        "future_gradient_share": worst.share,
        "probed_steps": sorted({p.step for p in probes}),
        "steps": future.steps,
    }
    return [RULE.finding(evidence)]


def _causal_mask(steps: int, device: torch.device) -> torch.Tensor:
    return torch.triu(torch.ones(steps, steps, dtype=torch.bool, device=device), diagonal=1)


@remedy(RULE)
def attention_masked(session: Session, finding: Finding) -> list[Trial] | str:
    """A causal mask passed to every `nn.MultiheadAttention`."""
    attention = [m for m in session.model.modules() if isinstance(m, torch.nn.MultiheadAttention)]
    if not attention:
        return "no nn.MultiheadAttention to mask (the leak is in the model's own attention or a bidirectional layer)"

    def hook(module: torch.nn.MultiheadAttention, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        query = args[0] if args else kwargs.get("query")
        if not isinstance(query, torch.Tensor) or query.dim() != 3:
            return None
        steps = query.shape[1] if module.batch_first else query.shape[0]
        return args, {**kwargs, "attn_mask": _causal_mask(steps, query.device), "is_causal": False}

    patch = hooked(lambda session: [m.register_forward_pre_hook(hook, with_kwargs=True) for m in attention])
    return [Trial("a causal mask (upper triangle masked) passed to every self-attention", [patch], closes_leak=True)]
