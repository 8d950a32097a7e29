"""The script corpus is well formed: every case.yaml parses and names its upstream commit; where the upstream
files are available locally (the cache or a mirror; they are never committed), they match their SHA-256,
every planted bug applies and changes the files, and every banner names the 40-hex commit. No training."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases as corpus

NAMES = corpus.names()
CODE = re.compile(r"^RD\d{3}$")


def test_there_are_cases():
    assert len(NAMES) >= 10


@pytest.mark.parametrize("name", NAMES)
def test_case_yaml(name):
    case = corpus.load(name)
    up = case.upstream
    assert re.fullmatch(r"[0-9a-f]{40}", up["commit"])
    assert "/" in up["repository"] and up["path"]
    assert case.script in case.files
    assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) for f in case.files.values())
    assert (case.folder / "measure.py").is_file() and (case.folder / "make_data.py").is_file()
    assert case.raw["metric"]["better"] in ("lower", "higher")
    assert 1 <= len(case.bugs) <= 3
    for bug in case.bugs.values():
        assert CODE.match(bug.expected_first)
        assert all(CODE.match(c) for c in bug.also_acceptable)
        assert bug.edits or (case.folder / "bugs" / bug.slug).is_dir()
        assert all(e["file"] in case.files for e in bug.edits)


def _upstream_available(case):
    try:
        for local_name in case.files:
            corpus.upstream_bytes(case, local_name)
    except corpus.MissingUpstream as exc:
        pytest.skip(f"upstream files not available here: {exc}")


@pytest.mark.parametrize("name", NAMES)
def test_materialize_and_overlays(name, tmp_path):
    case = corpus.load(name)
    _upstream_available(case)
    healthy = corpus.materialize(case, None, tmp_path / "healthy")
    commit = case.upstream["commit"]
    for local_name in case.files:
        text = (healthy / local_name).read_text(encoding="utf-8")
        assert f"commit:     {commit}" in text.split("\n", 8)[4]
        body = text.split("\n", corpus.banner(case, local_name).count("\n"))[-1]
        assert corpus.sha256(body.encode("utf-8")) == case.files[local_name]["sha256"]
        compile(text, local_name, "exec")
    for slug in case.bugs:
        broken = corpus.materialize(case, slug, tmp_path / slug)
        diff = (broken / "bug.diff").read_text(encoding="utf-8")
        assert diff.count("\n+") + diff.count("\n-") >= 2, f"{slug} changes nothing"
        for local_name in case.files:
            compile((broken / local_name).read_text(encoding="utf-8"), local_name, "exec")
