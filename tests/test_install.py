"""Installing rnndoctor the way the docs say (issue 28 §2): from its git repository at a release tag or from a
path, never from a package index under a name anyone could register; and the GitHub Actions example's
install and diagnose steps, run in a scratch repository with pip pointed at a checkout of rnndoctor."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rnndoctor import __version__
from tests.helpers import write_project

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "examples" / "github-actions.yml"
INSTRUCTIONS = [ROOT / "README.md", ROOT / "docs" / "ci.md", ROOT / "docs" / "config.md", ROOT / "docs" / "curves.md"]
FROM_AN_INDEX = re.compile(r"pip install (-U |--upgrade )?['\"]?rnndoctor(\[[a-z,]+\])?(?!\s*@)['\"]?(\s|$|`)")
"""``pip install rnndoctor`` or ``pip install 'rnndoctor[lightning]'``: the name looked up on a package index."""


def _workflow_steps() -> dict[str, str]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return {step.get("name", ""): step.get("run", "") for step in workflow["jobs"]["diagnose"]["steps"]}


def test_no_instruction_installs_rnndoctor_from_an_index() -> None:
    sources = [*INSTRUCTIONS, WORKFLOW, ROOT / ".pre-commit-hooks.yaml", *sorted((ROOT / "rnndoctor").rglob("*.py"))]
    for path in sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            warning = re.search(r"\b(not|never)\b[^.]*pip install", line, re.IGNORECASE)  # "Not `pip install ...`"
            assert warning or not FROM_AN_INDEX.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


def test_the_docs_name_the_release_tag_of_this_version() -> None:
    tag = f"v{__version__}"
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert workflow["env"]["RNNDOCTOR"].endswith(f"@{tag}")
    assert f"rev: {tag}" in (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    assert f"@{tag}" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"@{tag}" in (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")


def test_the_workflow_refuses_the_placeholder_source(tmp_path: Path) -> None:
    """Left as `OWNER`, the install step stops before pip can fetch a repository someone else may own."""
    install = next(run for name, run in _workflow_steps().items() if name.startswith("Install"))
    env = {**os.environ, "RNNDOCTOR": yaml.safe_load(WORKFLOW.read_text())["env"]["RNNDOCTOR"]}
    done = subprocess.run(["bash", "-e", "-c", install], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "::error::set RNNDOCTOR" in done.stdout


def _checkout(destination: Path) -> Path:
    """The working tree as a clone of it would hold it: tracked and new, not ignored, files (links kept)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return destination


@pytest.mark.slow
def test_the_actions_example_installs_from_a_checkout_and_diagnoses(tmp_path: Path) -> None:
    if shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("needs git and bash")
    steps = _workflow_steps()
    install = next(run for name, run in steps.items() if name.startswith("Install"))
    diagnose = steps["Diagnose"]

    # A fresh environment that sees the installed torch (no download); an rnndoctor the base interpreter may
    # have comes after the one the install puts into the environment (checked below).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    probe = "import importlib.util as u, setuptools as s; assert u.find_spec('torch') and u.find_spec('pip'); "
    probe += "v = tuple(int(p) for p in s.__version__.split('.')[:2]); assert v >= (70, 1) or u.find_spec('wheel')"
    if subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True).returncode != 0:
        pytest.skip("the base interpreter lacks torch, pip or a setuptools that builds wheels offline")

    project = tmp_path / "project"
    write_project(project / "configs", config_name="rnndoctor.yaml")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    summary = tmp_path / "summary.md"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        RNNDOCTOR=str(_checkout(tmp_path / "rnndoctor")),
        PIP_NO_INDEX="1",  # offline: what is installed already is all pip may use
        PIP_NO_BUILD_ISOLATION="0",  # build with the setuptools at hand rather than a downloaded one
        GITHUB_STEP_SUMMARY=str(summary),
        NO_COLOR="1",
    )

    installed = subprocess.run(
        ["bash", "-e", "-c", install], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = subprocess.run(
        [str(python), "-c", "import rnndoctor, pathlib; print(pathlib.Path(rnndoctor.__file__).parent)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    package = Path(where)
    assert package.is_relative_to(venv), where  # installed into the environment, not run from the checkout
    assert json.loads((package / "rnndoctor.schema.json").read_text())["title"] == "rnndoctor config"

    diagnosed = subprocess.run(
        ["bash", "-e", "-c", diagnose], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert diagnosed.returncode == 0, diagnosed.stdout + diagnosed.stderr
    assert "rnndoctor: pass" in diagnosed.stdout
    assert json.loads((project / "reports" / "rnndoctor.json").read_text())["status"] == "pass"
    assert "## rnndoctor diagnosis" in summary.read_text()
