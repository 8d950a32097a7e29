"""rnndoctor on code written the way public PyTorch projects write it (tests/realworld/, and the held-out
setups of tests/holdout/ written after calibration): every healthy setup reports nothing at warning or above,
every broken twin its cause first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import CORPUS, HOLDOUT, Case, cases, run

PENDING: dict[str, str] = {}
"""Codes whose detectors are still being built, with the reason (their corpus cases are expected to fail)."""


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(reason=PENDING[case.expect], strict=True)] if case.expect in PENDING else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize(("corpus", "least"), [(CORPUS, 20), (HOLDOUT, 10)], ids=["realworld", "holdout"])
def test_the_corpus_is_large_and_twinned(corpus: Path, least: int) -> None:
    found = cases(corpus)
    folders = {case.config.parent.name for case in found}
    assert len(folders) >= least
    for folder in folders:
        kinds = sorted(case.config.stem for case in found if case.config.parent.name == folder)
        assert kinds == ["broken", "healthy"], (folder, kinds)
    assert all(case.healthy == (case.config.stem == "healthy") for case in found)


@pytest.mark.slow
@pytest.mark.parametrize("case", [_param(case) for case in cases(CORPUS) + cases(HOLDOUT)])
def test_corpus_setup(case: Case) -> None:
    outcome = run(case)
    if case.healthy:
        assert not outcome.loud, f"false alarms on a healthy setup: {outcome.codes}"
    else:
        assert outcome.top is not None, "nothing found on a broken setup"
        assert case.accepts(outcome.top), f"expected {case.expect} first, got {outcome.codes}"
        assert outcome.errors == case.errors, f"errors {sorted(outcome.errors)}, expected {sorted(case.errors)}"
