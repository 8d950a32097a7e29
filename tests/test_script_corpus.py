"""Script mode on upstream training scripts (tests/scripts/): a fast subset of the corpus diagnosed as users
run it, healthy twins clean, planted bugs found first. The upstream files are never committed (they come from
a local cache that tests/scripts/cases.py fills from fetched snapshots), so these tests skip where the cache
is absent, as on CI; bench/script_corpus.py scores the whole corpus."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from rnndoctor import diagnose
from rnndoctor.core.findings import Severity

sys.path.insert(0, str(Path(__file__).resolve().parent / "scripts"))
import cases as corpus

pytestmark = pytest.mark.slow

FAST = {
    "tutorials_char_rnn_classification": (None, "one_class", "lr_too_high"),
    "examples_word_language_model": (None, "no_detach", "targets_unshifted", "clip_after_update"),
    "makemore_gru": (None, "targets_unshifted"),
    "graykode_textlstm": (None, "lr_too_low"),
}
"""Cases whose diagnosis takes seconds (the LBFGS forecaster and the translation tutorial take minutes)."""


def available(name: str) -> bool:
    try:
        case = corpus.load(name)
        for local_name in case.files:
            corpus.upstream_bytes(case, local_name)
    except (corpus.MissingUpstream, FileNotFoundError, OSError):
        return False
    return True


VARIANTS = [(name, bug) for name, bugs in FAST.items() for bug in bugs]


@pytest.mark.parametrize(("name", "bug"), VARIANTS, ids=[f"{n}-{b or 'healthy'}" for n, b in VARIANTS])
def test_upstream_script(tmp_path: Path, name: str, bug: str | None) -> None:
    if not available(name):
        pytest.skip(f"the upstream files of {name} are not in the local cache (python tests/scripts/cases.py fill)")
    case = corpus.load(name)
    folder = corpus.materialize(case, bug, tmp_path / "run", write_diff=False)
    cwd, environment = os.getcwd(), dict(os.environ)
    os.chdir(folder)
    os.environ.update(case.env)
    try:
        report = diagnose(case.script, script_args=case.args)
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environment)
    if bug is None:
        assert [f.code for f in report.findings if f.severity >= Severity.WARNING] == []
    else:
        assert report.findings[0].code == case.bugs[bug].expected_first
