"""Batches, outputs and names as the wider ecosystem writes them: dict batches with their own keys, models that
return dicts or output objects, tensor-valued arguments written as YAML lists, ``nn.``/``torch.optim.`` names,
case-only typos, and ``device: mps``."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from click.testing import CliRunner, Result
from torch import nn

from rnndoctor.api import diagnose, resolve_device
from rnndoctor.cli import cli
from rnndoctor.runtime.batches import first_output
from rnndoctor.setup.config import load_config
from rnndoctor.setup.errors import SetupError
from rnndoctor.setup.loaded import Loaded
from rnndoctor.setup.loading import Loader
from tests.helpers import parse_report, write_project

TOKENS_PY = """
    import torch
    from torch import nn


    class Output:
        def __init__(self, logits):
            self.logits = logits
            self.hidden_states = None


    class TokenClassifier(nn.Module):
        def __init__(self, vocab=20, hidden=8, classes=3, returns="tensor"):
            super().__init__()
            self.emb = nn.Embedding(vocab, hidden)
            self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
            self.head = nn.Linear(hidden, classes)
            self.returns = returns

        def forward(self, input_ids):
            out, _ = self.lstm(self.emb(input_ids))
            logits = self.head(out[:, -1])
            if self.returns == "dict":
                return {"logits": logits, "last_hidden": out}
            if self.returns == "object":
                return Output(logits)
            return logits


    def dict_batches(count=4, classes=3):
        g = torch.Generator().manual_seed(0)
        return [
            {
                "input_ids": torch.randint(0, 20, (8, 6), generator=g),
                "labels": torch.arange(8) % classes,
                "attention_mask": torch.ones(8, 6, dtype=torch.long),
            }
            for _ in range(count)
        ]


    def binary_batches(count=4):
        g = torch.Generator().manual_seed(0)
        return [(torch.randint(0, 20, (8, 6), generator=g), (torch.arange(8) % 2).float().unsqueeze(1))
                for _ in range(count)]
"""

FILES = {"tokens.py": TOKENS_PY}
DICT_CONFIG = {
    "model": "tokens.py:TokenClassifier",
    "train_data": "tokens.py:dict_batches",
    "loss": "CrossEntropyLoss",
    "batch_keys": {"inputs": "input_ids", "targets": "labels"},
}


def check(config: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["check", str(config), "--quick", "--no-progress", *extra])


def load(tmp_path: Path, config: dict[str, Any], files: dict[str, str] | None = None) -> Loaded:
    path = write_project(tmp_path, config, files={**FILES, **(files or {})})
    loader = Loader(load_config(path))
    try:
        return loader.load()
    finally:
        loader.release_import_path()


def setup_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


# -- dict batches: batch_keys ----------------------------------------------------------------------


def test_dict_batches_without_batch_keys_exit_2_with_rd002_naming_batch_keys(tmp_path: Path) -> None:
    config = {k: v for k, v in DICT_CONFIG.items() if k != "batch_keys"}
    result = check(write_project(tmp_path, config, files=FILES), "--format", "json")
    assert result.exit_code == 2, result.output
    doc = parse_report(result.stdout, exit_code=2)
    rd002 = [f for f in doc["findings"] if f["code"] == "RD002"]
    assert rd002, doc["findings"]
    assert "batch_keys" in rd002[0]["message"] and "input_ids" in rd002[0]["message"]


def test_dict_batches_with_batch_keys_run(tmp_path: Path) -> None:
    result = check(write_project(tmp_path, DICT_CONFIG, files=FILES), "--format", "json", "--select", "RD3")
    assert result.exit_code == 0, result.output
    loss = next(c for c in parse_report(result.stdout, exit_code=0)["checks"] if c["name"] == "loss")
    assert loss["status"] == "passed"
    assert "outputs [8, 3] and targets [8]" in loss["detail"]


# -- outputs: dicts and objects with .logits ------------------------------------------------------


@pytest.mark.parametrize("returns", ["dict", "object"])
def test_models_returning_a_dict_or_an_output_object_are_read_by_their_logits(tmp_path: Path, returns: str) -> None:
    config = {**DICT_CONFIG, "model_args": {"returns": returns}}
    report = diagnose(write_project(tmp_path, config, files=FILES), quick=True, select=["RD3", "RD4"])
    loss = next(c for c in report.checks if c.name == "loss")
    assert loss.status.value == "passed", loss.detail
    assert "outputs [8, 3]" in loss.detail
    assert report.exit_code == 0, [f.code for f in report.findings]


def test_first_output_picks_the_logits() -> None:
    logits = torch.zeros(2, 3)
    assert first_output((logits, "hidden")) is logits
    assert first_output({"logits": logits, "hidden": torch.ones(1)}) is logits
    assert first_output(OrderedDict(loss=torch.ones(()), logits=logits)) is logits  # Hugging Face ModelOutput
    assert first_output({"out": logits}) is logits
    assert first_output(SimpleNamespace(logits=logits, loss=None)) is logits
    assert first_output(logits) is logits
    several = {"a": logits, "b": logits + 1}
    assert first_output(several) is several


# -- tensor-valued arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "args", "attribute", "expected"),
    [
        ("CrossEntropyLoss", {"weight": [1.0, 3.0, 1.0]}, "weight", [1.0, 3.0, 1.0]),
        ("CrossEntropyLoss", {"weight": [1, 3, 1]}, "weight", [1.0, 3.0, 1.0]),
        ("BCEWithLogitsLoss", {"pos_weight": [2.0]}, "pos_weight", [2.0]),
        ("BCEWithLogitsLoss", {"pos_weight": 2.0}, "pos_weight", 2.0),
    ],
)
def test_yaml_lists_become_tensors_where_the_loss_takes_one(
    tmp_path: Path, loss: str, args: dict[str, Any], attribute: str, expected: Any
) -> None:
    loaded = load(tmp_path, {**DICT_CONFIG, "loss": loss, "loss_args": {**args, "reduction": "mean"}})
    value = getattr(loaded.loss_fn, attribute)
    assert isinstance(value, torch.Tensor) and value.is_floating_point()
    assert value.tolist() == expected
    assert loaded.loss_fn.reduction == "mean"  # type: ignore[attr-defined]


def test_a_weighted_loss_from_yaml_runs_a_diagnosis(tmp_path: Path) -> None:
    config = {
        "model": "tokens.py:TokenClassifier",
        "model_args": {"classes": 1},
        "train_data": "tokens.py:binary_batches",
        "loss": "nn.BCEWithLogitsLoss",
        "loss_args": {"pos_weight": [2.0]},
    }
    result = check(write_project(tmp_path, config, files=FILES), "--format", "json", "--select", "RD3")
    assert result.exit_code == 0, result.output
    loss = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "loss")
    assert loss["status"] == "passed" and "BCEWithLogitsLoss" in loss["detail"]


def test_tensor_annotated_model_arguments_become_tensors(tmp_path: Path) -> None:
    factory = """
        from __future__ import annotations

        import torch
        from torch import nn


        class Scaled(nn.Module):
            def __init__(self, scale: torch.Tensor, sizes: list = None):
                super().__init__()
                self.register_buffer("scale", scale)
                self.sizes = sizes
                self.lstm = nn.LSTM(3, 4, batch_first=True)

            def forward(self, x):
                return self.lstm(x * self.scale)[0][:, -1]
    """
    config = {
        "model": "scaled.py:Scaled",
        "model_args": {"scale": [1.0, 2.0, 0.5], "sizes": [1, 2]},
        "train_data": "data.py:train_loader",
        "loss": "CrossEntropyLoss",
    }
    loaded = load(tmp_path, config, {"scaled.py": factory})
    assert torch.equal(loaded.model.scale, torch.tensor([1.0, 2.0, 0.5]))
    assert loaded.model.sizes == [1, 2]  # not annotated as a tensor: left as the list it is


def test_a_ragged_list_for_a_tensor_is_a_setup_error(tmp_path: Path) -> None:
    config = {**DICT_CONFIG, "loss_args": {"weight": [[1.0, 2.0], [3.0]]}}
    err = setup_error(check(write_project(tmp_path, config, files=FILES)))
    assert "loss_args" in err and "weight" in err


# -- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "optimizer", "loss_type", "optimizer_type"),
    [
        ("nn.BCEWithLogitsLoss", "torch.optim.AdamW", nn.BCEWithLogitsLoss, torch.optim.AdamW),
        ("torch.nn.CrossEntropyLoss", "optim.AdamW", nn.CrossEntropyLoss, torch.optim.AdamW),
        ("CrossEntropyLoss", "AdamW", nn.CrossEntropyLoss, torch.optim.AdamW),
    ],
)
def test_dotted_torch_names(tmp_path: Path, loss: str, optimizer: str, loss_type: type, optimizer_type: type) -> None:
    loaded = load(tmp_path, {**DICT_CONFIG, "loss": loss, "optimizer": optimizer})
    assert type(loaded.loss_fn) is loss_type
    assert type(loaded.optimizer) is optimizer_type


def test_a_project_module_named_nn_wins_over_the_alias(tmp_path: Path) -> None:
    own = "from torch import nn as torch_nn\n\n\nclass MyLoss(torch_nn.CrossEntropyLoss):\n    pass\n"
    loaded = load(tmp_path, {**DICT_CONFIG, "loss": "nn.MyLoss"}, {"nn.py": own})
    assert type(loaded.loss_fn).__name__ == "MyLoss"


@pytest.mark.parametrize(
    ("key", "value", "meant"),
    [
        ("optimizer", "adamw", "AdamW"),
        ("optimizer", "Adamw", "AdamW"),
        ("optimizer", "adam", "Adam"),
        ("optimizer", "torch.optim.adamw", "AdamW"),
        ("loss", "crossentropyloss", "CrossEntropyLoss"),
        ("loss", "bcewithlogitsloss", "BCEWithLogitsLoss"),
    ],
)
def test_a_case_typo_suggests_the_same_name_in_its_case(tmp_path: Path, key: str, value: str, meant: str) -> None:
    err = setup_error(check(write_project(tmp_path, {**DICT_CONFIG, key: value}, files=FILES)))
    assert f"did you mean '{meant}'?" in err, err


# -- device: mps -----------------------------------------------------------------------------------


def test_mps_is_a_valid_device_value(tmp_path: Path) -> None:
    assert load_config(write_project(tmp_path, {**DICT_CONFIG, "device": "MPS"}, files=FILES)).device == "mps"


def test_mps_where_it_is_missing_is_a_setup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    path = write_project(tmp_path, {**DICT_CONFIG, "device": "mps"}, files=FILES)
    err = setup_error(check(path))
    assert "device" in err and "MPS" in err and str(path) in err
    with pytest.raises(SetupError, match="MPS"):
        diagnose(path, quick=True)


def test_mps_where_it_is_available_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("mps", "config.yaml") == torch.device("mps")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_yaml_class_weights_follow_the_model_to_the_gpu(tmp_path: Path) -> None:
    """The same verdict on the GPU as on the CPU: the weights given in YAML move with the model."""
    reports = {}
    for device in ("cpu", "cuda"):
        config = {**DICT_CONFIG, "loss_args": {"weight": [1.0, 3.0, 1.0]}, "device": device}
        reports[device] = diagnose(write_project(tmp_path / device, config, files=FILES), quick=True)
    cpu, gpu = reports["cpu"], reports["cuda"]
    assert [f.code for f in gpu.findings] == [f.code for f in cpu.findings]
    assert gpu.exit_code == cpu.exit_code
    assert not [c.name for c in gpu.checks if c.status.value == "errored"]
