"""Mechanical versions of the fixes rnndoctor recommends, applied to the session inside a sandbox.

A remedy turns a finding into `Trial`s: the same model, batch and step budget with one change made the way
the user would make it (a learning rate, a loss, an input transform, an optimizer hook, a module flag), built
from the patches of `rnndoctor.runtime.patches`. Each rule registers its own remedy beside its judge
(``@remedy(RULE)``); the ``verify_fixes`` check tries them. A remedy that cannot be applied to this setup
returns the reason instead, and the finding says it was not tried.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rnndoctor.core.catalogue import Rule, all_rules
from rnndoctor.core.findings import Finding
from rnndoctor.runtime.patches import BatchEdit, Patch
from rnndoctor.runtime.session import Session


@dataclass
class Trial:
    """One fix, ready to try: what it changes, in the user's words, and how."""

    change: str
    patches: list[Patch] = field(default_factory=list)
    lr: float | None = None
    """Train at this learning rate instead of the configured one."""
    batch_edit: BatchEdit | None = None
    balanced: bool = False
    """Judge the fix by balanced accuracy on a held-out sampled batch (class imbalance) instead of the fit."""
    partial: bool = False
    """The trial covers one of several causes the finding names: no effect then says nothing against it."""
    closes_leak: bool = False
    """The fix takes away an answer the model could read (targets equal to its inputs): confirmed when the
    too-easy fit without the fix becomes a harder one with it, so the loss ends higher."""

    @contextlib.contextmanager
    def applied(self, session: Session) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for patch in self.patches:
                stack.enter_context(patch(session))
            yield


Remedy = Callable[[Session, Finding], "list[Trial] | str"]
"""A finding's fix as trials (the best one counts), or why it cannot be applied mechanically here."""

_REMEDIES: dict[str, Remedy] = {}


def remedy(rule: Rule) -> Callable[[Remedy], Remedy]:
    """Register the mechanical fix for findings of ``rule``."""

    def register(function: Remedy) -> Remedy:
        _REMEDIES[rule.code] = function
        return function

    return register


def remedy_for(code: str) -> Remedy | None:
    all_rules()  # importing the rule modules registers their remedies
    return _REMEDIES.get(code)


def automated_codes() -> list[str]:
    all_rules()
    return sorted(_REMEDIES)
