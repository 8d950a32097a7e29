"""The Python API as editors and notebooks see it (issue 28 §8): `rnndoctor.diagnose` with its real
signature, a progress bar in notebooks, and the config's JSON Schema shipped with the package and valid for
the template it describes."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import nn

import rnndoctor
import rnndoctor.api
from rnndoctor.render import progress as progress_module
from tests.helpers import write_project

ROOT = Path(__file__).resolve().parents[1]


def test_diagnose_has_its_real_signature() -> None:
    assert rnndoctor.diagnose is rnndoctor.api.diagnose
    parameters = inspect.signature(rnndoctor.diagnose).parameters
    assert {"config", "model", "train_data", "loss", "optimizer", "val_data", "progress"} <= set(parameters)
    assert not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters.values())
    assert "Diagnose a training setup" in (rnndoctor.diagnose.__doc__ or "")
    with pytest.raises(AttributeError, match="no attribute 'diagnos'"):
        rnndoctor.diagnos  # noqa: B018 - the typo must fail as attributes do


def test_importing_the_package_stays_light() -> None:
    """The signature costs nothing at import: torch is loaded by the first call of diagnose, not before."""
    code = "import sys, rnndoctor; assert 'torch' not in sys.modules, 'torch imported'; print(rnndoctor.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _tiny_setup() -> dict[str, Any]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    x = torch.randn(32, 4, 3)
    data = [(x[i : i + 8], (x[i : i + 8, 0, 0] > 0).long()) for i in range(0, 32, 8)]
    return {"model": model, "train_data": data, "loss": nn.CrossEntropyLoss(), "quick": True}


class RecordingBar:
    """Stands in for tqdm: what a bar was told, without tqdm's refresh-rate limits."""

    made: ClassVar[list[RecordingBar]] = []

    def __init__(self, total: int, **kwargs: Any) -> None:
        self.total, self.done, self.postfixes, self.closed = total, 0, [], False
        RecordingBar.made.append(self)

    def update(self, n: int) -> None:
        self.done += n

    def set_postfix_str(self, text: str) -> None:
        self.postfixes.append(text)

    def close(self) -> None:
        self.closed = True


def test_a_notebook_shows_a_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=RecordingBar))
    RecordingBar.made.clear()
    report = rnndoctor.diagnose(**_tiny_setup())
    (bar,) = RecordingBar.made
    assert bar.total == bar.done == len(report.checks) and bar.closed
    assert bar.postfixes == [check.name for check in report.checks]


def test_no_bar_outside_notebooks_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    rnndoctor.diagnose(**_tiny_setup())
    assert "rnndoctor" not in capsys.readouterr().err
    rnndoctor.diagnose(**_tiny_setup(), progress=True)
    assert "rnndoctor" in capsys.readouterr().err


def test_without_tqdm_there_is_no_bar_and_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    assert progress_module.api_progress(None) is None and progress_module.api_progress(True) is None
    assert progress_module.api_progress(False) is None


def test_in_notebook_needs_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    class Shell:
        kernel = object()

    class FakeIPython:
        shell: Any = None

        @classmethod
        def get_ipython(cls) -> Any:
            return cls.shell

    monkeypatch.setitem(sys.modules, "IPython", FakeIPython)
    assert not progress_module.in_notebook()  # no shell: a plain interpreter that imported IPython
    FakeIPython.shell = object()
    assert not progress_module.in_notebook()  # a terminal IPython
    FakeIPython.shell = Shell()
    assert progress_module.in_notebook()


# -- the JSON Schema ------------------------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    packaged = Path(rnndoctor.__file__).parent / "rnndoctor.schema.json"
    return json.loads(packaged.read_text(encoding="utf-8"))


def test_the_schema_is_package_data() -> None:
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    package_data = project.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert '"rnndoctor.schema.json"' in package_data
    assert (ROOT / "configs" / "rnndoctor.schema.json").resolve() == (ROOT / "rnndoctor" / "rnndoctor.schema.json")


def test_the_template_and_a_written_config_are_valid_against_the_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from rnndoctor.setup.config import read_yaml

    validator = jsonschema.Draft202012Validator(_schema())
    template = read_yaml(ROOT / "configs" / "template.yaml", "template.yaml")
    assert template["checks"] is None  # every check's options commented out
    assert [error.message for error in validator.iter_errors(template)] == []
    written = read_yaml(write_project(tmp_path), "config.yaml")
    assert [error.message for error in validator.iter_errors(written)] == []
    wrong = {**template, "checks": {"lr_sweep": {"max_lr": "ten"}}}
    assert list(validator.iter_errors(wrong))


def test_a_script_config_is_valid_against_the_schema_and_a_config_with_neither_is_not() -> None:
    jsonschema = pytest.importorskip("jsonschema")

    validator = jsonschema.Draft202012Validator(_schema())
    script = {"script": "train.py", "script_args": ["--lr", "0.1"], "cwd": ".", "env": {"A": "1"}, "script_timeout": 60}
    assert [error.message for error in validator.iter_errors(script)] == []
    assert list(validator.iter_errors({"seed": 1}))
    assert list(validator.iter_errors({**script, "script_timeout": 0}))
