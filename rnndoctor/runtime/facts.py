"""Shared measurements as facts: computed on first use by whichever check needs one, then cached for the run.

A fact is a function of the session. It runs seeded, from the user's setup as it was before the run, and
the model, optimizer and RNGs are put back afterwards, so its value is the same whichever check asks first:
`--select` and `--ignore` choose which checks report, never what a shared measurement finds. A fact that
raises raises the same way for every check that asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rnndoctor.core.errors import CheckTimeout
from rnndoctor.runtime.session import Session
from rnndoctor.runtime.state import ModelState, RngState, seed_everything

T = TypeVar("T")


class _Failure:
    """A fact whose provider raised: asking again raises the same error."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def fact(session: Session, provider: Callable[[Session], T]) -> T:
    """The value of ``provider`` for this run, computed once."""
    cache = session.facts
    if provider not in cache:
        state, rng = ModelState(session.model, session.optimizer), RngState.capture()
        if session.baseline is not None:
            session.baseline.restore()  # from the user's setup, not from what the asking check trained
        seed_everything(session.seed)
        session.new_phase()
        try:
            cache[provider] = provider(session)
        except CheckTimeout:
            raise
        except Exception as exc:
            cache[provider] = _Failure(exc)
            raise
        finally:
            state.restore()
            rng.restore()
            session.new_phase()
    value = cache[provider]
    if isinstance(value, _Failure):
        raise value.error
    result: T = value
    return result


def known(session: Session, provider: Callable[[Session], Any]) -> Any | None:
    """The fact's value when some check already computed it, else None (for the report; computes nothing)."""
    value = session.facts.get(provider)
    return None if isinstance(value, _Failure) else value
