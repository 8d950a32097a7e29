"""Broken configs exit 2 with a short, precise message (contract §1, §2); valid ones load as §2 says."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner, Result
from torch import nn
from torch.utils.data import DataLoader

from rnndoctor.api import diagnose
from rnndoctor.cli import cli
from rnndoctor.setup.config import Config, load_config
from rnndoctor.setup.errors import SetupError
from rnndoctor.setup.loaded import Loaded
from rnndoctor.setup.loading import Loader
from tests.helpers import DATA_PY, MODELS_PY, write_project

REFS = "train_data: data.py:train_loader\nloss: CrossEntropyLoss\n"
"""The valid rest of a config whose ``model:`` line a case supplies."""
VALID = "model: models.py:TinyClassifier\n" + REFS


def run_check(config: Path | str, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["check", str(config), *extra])


def assert_setup_error(result: Result, config: Path | str, *fragments: str) -> str:
    """Exit 2; stderr names the config file and every fragment, in at most two lines, without a traceback."""
    err = result.stderr.strip()
    detail = f"exit {result.exit_code}\n--- stderr ---\n{result.stderr}\n--- stdout ---\n{result.stdout}"
    assert result.exception is None or isinstance(result.exception, SystemExit), detail
    assert result.exit_code == 2, detail
    assert "Traceback" not in result.stderr, detail
    assert err, "an error message on stderr"
    assert len(err.splitlines()) <= 2, detail
    assert str(config) in err, f"the message does not name the config file {config}\n{detail}"
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} missing from the message\n{detail}"
    assert result.stdout == "", "nothing on stdout when the run cannot be set up"
    return err


# -- the battery -----------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    config: str
    fragments: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)


INSTANCE_PY = """
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.lstm(x)[0][:, -1])


    model = Net()
"""

CASES = [
    Case(
        "invalid-yaml",
        "model: models.py:TinyClassifier\ntrain_data: [data.py:train_loader\nloss: CrossEntropyLoss\n",
        ("line 3", "YAML"),
    ),
    Case("invalid-yaml-indent", "model: models.py:TinyClassifier\n  train_data: x\nloss: y\n", ("line 2",)),
    Case("top-level-list", "- model: models.py:TinyClassifier\n- loss: CrossEntropyLoss\n", ("list",)),
    Case("top-level-scalar", "just some text\n", ("mapping",)),
    Case("unknown-key", "modle: models.py:TinyClassifier\n" + REFS, ("modle", "did you mean 'model'")),
    Case("unknown-key-args", VALID + "optimiser_args: {lr: 0.1}\n", ("optimiser_args", "'optimizer_args'")),
    Case("missing-required", "model: models.py:TinyClassifier\nloss: CrossEntropyLoss\n", ("train_data",)),
    Case("missing-loss", "model: models.py:TinyClassifier\ntrain_data: data.py:train_loader\n", ("loss",)),
    Case("model-file-missing", "model: nomodels.py:TinyClassifier\n" + REFS, ("model", "nomodels.py")),
    Case(
        "attribute-missing",
        "model: models.py:TinyClassifer\n" + REFS,
        ("model", "TinyClassifer", "did you mean 'TinyClassifier'"),
    ),
    Case("not-a-reference", "model: models.py\n" + REFS, ("model", "models.py")),
    Case("reference-not-text", "model: 3\n" + REFS, ("model",)),
    Case(
        "import-fails-in-user-file",
        "model: broken.py:Model\n" + REFS,
        ("model", "broken.py", "ModuleNotFoundError", "no_such_module_rnndoctor_test"),
        {"broken.py": "import no_such_module_rnndoctor_test\n\nModel = None\n"},
    ),
    Case(
        "syntax-error-in-user-file",
        "model: syntax.py:Model\n" + REFS,
        ("model", "syntax.py", "SyntaxError", "line 2"),
        {"syntax.py": "x = 1\ndef Model(:\n    pass\n"},
    ),
    Case(
        "package-module-missing",
        "model: no_such_pkg_rnndoctor.nets:Model\n" + REFS,
        ("model", "no_such_pkg_rnndoctor"),
    ),
    Case(
        "factory-raises",
        "model: factory.py:build\nmodel_args: {hidden_size: 7}\n" + REFS,
        ("model", "ValueError", "hidden_size must be even"),
        {"factory.py": "def build(hidden_size):\n    raise ValueError('hidden_size must be even')\n"},
    ),
    Case(
        "factory-wrong-argument",
        "model: models.py:TinyClassifier\nmodel_args: {hiden_size: 4}\n" + REFS,
        ("model", "TypeError", "hiden_size"),
    ),
    Case(
        "data-factory-raises",
        "model: models.py:TinyClassifier\ntrain_data: bad_data.py:loader\nloss: CrossEntropyLoss\n",
        ("train_data", "FileNotFoundError", "train.csv"),
        {"bad_data.py": "def loader():\n    return open('/nonexistent/train.csv')\n"},
    ),
    Case(
        "optimizer-raises",
        VALID + "optimizer_args: {lr: -1.0}\n",
        ("optimizer", "ValueError"),
    ),
    Case("lr-not-a-number", VALID + "optimizer_args: {lr: fast}\n", ("optimizer_args", "lr", "fast")),
    Case("args-not-a-mapping", VALID + "model_args: [1, 2]\n", ("model_args",)),
    Case("device-gpu", VALID + "device: gpu\n", ("device", "gpu")),
    Case("fail-on-sometimes", VALID + "fail_on: sometimes\n", ("fail_on", "sometimes")),
    Case("seed-abc", VALID + "seed: abc\n", ("seed", "abc")),
    Case("ignore-not-a-code", VALID + "ignore: [E501]\n", ("ignore", "E501")),
    Case("unknown-check", VALID + "checks: {lr_sweeep: {}}\n", ("lr_sweeep", "did you mean 'lr_sweep'")),
    Case(
        "check-option-not-a-number",
        VALID + "checks: {labels: {imbalance_ratio: high}}\n",
        ("labels", "imbalance_ratio", "high"),
    ),
    Case("unknown-check-option", VALID + "checks: {labels: {imbalance_ratoi: 5}}\n", ("imbalance_ratoi",)),
    Case("loss-name-typo", VALID.replace("CrossEntropyLoss", "CrossEntropyLos"), ("loss", "CrossEntropyLos")),
    Case("optimizer-name-typo", VALID + "optimizer: Adamm\n", ("optimizer", "Adamm")),
    Case(
        "model-args-on-an-instance",
        "model: instance.py:model\nmodel_args: {hidden_size: 4}\n" + REFS,
        ("model_args",),
        {"instance.py": INSTANCE_PY},
    ),
    Case(
        "train-data-args-on-a-list",
        "model: models.py:TinyClassifier\ntrain_data: listdata.py:batches\ntrain_data_args: {batch_size: 2}\n"
        "loss: CrossEntropyLoss\n",
        ("train_data_args",),
        {"listdata.py": "import torch\n\nbatches = [(torch.randn(4, 5, 3), torch.tensor([0, 1, 0, 1]))]\n"},
    ),
    Case(
        "val-data-attribute-missing",
        VALID + "val_data: data.py:val_loadr\n",
        ("val_data", "val_loadr", "did you mean 'val_loader'"),
    ),
    Case(
        "forward-not-callable",
        VALID + "forward: steps.py:FORWARD\n",
        ("forward", "steps.py:FORWARD"),
        {"steps.py": "FORWARD = 3\n"},
    ),
    Case("args-without-reference", VALID + "val_data_args: {batch_size: 2}\n", ("val_data_args",)),
    Case(
        "model-not-a-module",
        "model: notmodule.py:build\n" + REFS,
        ("model", "Module"),
        {"notmodule.py": "def build():\n    return 42\n"},
    ),
    Case(
        "train-data-not-iterable",
        "model: models.py:TinyClassifier\ntrain_data: numberdata.py:loader\nloss: CrossEntropyLoss\n",
        ("train_data",),
        {"numberdata.py": "loader = 3\n"},
    ),
    Case(
        "train-data-factory-returns-none",
        "model: models.py:TinyClassifier\ntrain_data: nonedata.py:loader\nloss: CrossEntropyLoss\n",
        ("train_data", "None"),
        {"nonedata.py": "def loader():\n    return None\n"},
    ),
    Case(
        "hidden-method-missing",
        VALID + "hidden: no_such_method\n",
        ("hidden", "no_such_method", "zeros"),
    ),
    Case("hidden-not-a-name", VALID + "hidden: [init_hidden]\n", ("hidden", "init_hidden")),
    Case(
        "hidden-zeros-without-recurrence",
        "model: flat.py:Flat\n" + REFS + "hidden: zeros\n",
        ("hidden", "no recurrent"),
        {
            "flat.py": "from torch import nn\n\n\nclass Flat(nn.Linear):\n"
            "    def __init__(self):\n        super().__init__(3, 2)\n"
        },
    ),
    Case("layout-sideways", VALID + "layout: sideways\n", ("layout", "sideways", "time_first")),
    Case("batch-keys-unknown-role", VALID + "batch_keys: {input: x}\n", ("batch_keys.input", "did you mean 'inputs'")),
    Case("batch-keys-not-a-mapping", VALID + "batch_keys: input_ids\n", ("batch_keys",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_config_exits_2_with_a_short_message(tmp_path: Path, case: Case) -> None:
    config = write_project(tmp_path, case.config, files=case.files)
    assert_setup_error(run_check(config), config, *case.fragments)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_config_raises_setup_error_from_the_api(tmp_path: Path, case: Case) -> None:
    config = write_project(tmp_path, case.config, files=case.files)
    with pytest.raises(SetupError) as info:
        diagnose(config)
    assert str(config) in str(info.value)


def test_nonexistent_config_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config.yaml"
    assert_setup_error(run_check(missing), missing)


def test_empty_config_file(tmp_path: Path) -> None:
    config = write_project(tmp_path, "")
    err = assert_setup_error(run_check(config), config)
    assert "model" in err or "empty" in err


def test_comment_only_config_file(tmp_path: Path) -> None:
    config = write_project(tmp_path, "# nothing here yet\n")
    assert_setup_error(run_check(config), config)


def test_config_not_utf8(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(b"model: \xff\xfe models.py:TinyClassifier\n")
    assert_setup_error(run_check(config), config)


def test_config_path_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    assert_setup_error(run_check(folder), folder)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_a_device(tmp_path: Path) -> None:
    config = write_project(tmp_path, VALID + "device: cuda\n")
    assert_setup_error(run_check(config), config, "device", "CUDA")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        "model: factory.py:build\n" + REFS,
        files={"factory.py": "def build():\n    raise ValueError('hidden_size must be even')\n"},
    )
    result = run_check(config, "--debug")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "factory.py" in result.stderr
    assert "hidden_size must be even" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("rnndoctor: error:")


def test_cli_overrides_are_validated_like_the_file(tmp_path: Path) -> None:
    config = write_project(tmp_path, VALID)
    assert_setup_error(run_check(config, "--device", "tpu"), config, "device", "tpu")


# -- positive loading ------------------------------------------------------------------------------


LoadFn = Callable[[Path | str], Loaded]


@pytest.fixture
def load() -> Iterator[LoadFn]:
    """Load a config into live objects the way `diagnose` does, restoring the import path afterwards."""
    loaders: list[Loader] = []

    def _load(path: Path | str) -> Loaded:
        loader = Loader(load_config(path))
        loaders.append(loader)
        return loader.load()

    yield _load
    for loader in loaders:
        loader.release_import_path()


def config_text(**entries: str) -> str:
    """The default tiny config with some top-level entries replaced or added (values are raw YAML)."""
    lines = {
        "model": "models.py:TinyClassifier",
        "model_args": "{input_size: 3, hidden_size: 8, num_classes: 2}",
        "train_data": "data.py:train_loader",
        "loss": "CrossEntropyLoss",
    }
    lines.update(entries)
    return "".join(f"{key}: {value}\n" for key, value in lines.items() if value != "")


@pytest.mark.parametrize(
    ("written", "value"),
    [("1e-3", 1e-3), ("3E-4", 3e-4), ("3e-4", 3e-4), ("1.5e-2", 1.5e-2), ("2e+1", 20.0), ("0.01", 0.01)],
)
def test_scientific_numbers_are_floats(tmp_path: Path, written: str, value: float) -> None:
    config = write_project(tmp_path, config_text(optimizer_args=f"{{lr: {written}}}"))
    cfg = load_config(config)
    lr = cfg.optimizer.args["lr"] if cfg.optimizer.args else None
    assert isinstance(lr, float)
    assert lr == pytest.approx(value)


def test_scientific_numbers_in_check_options_and_args(tmp_path: Path) -> None:
    text = config_text(
        model_args="{input_size: 3, hidden_size: 8, num_classes: 2}",
        loss_args="{label_smoothing: 1e-1}",
        checks="{lr_sweep: {min_lr: 1e-6, max_lr: 1E+1}}",
    )
    cfg = load_config(write_project(tmp_path, text))
    assert cfg.loss.args == {"label_smoothing": 0.1}
    sweep = cfg.checks["lr_sweep"]
    assert sweep is not None
    assert isinstance(sweep["min_lr"], float) and sweep["min_lr"] == pytest.approx(1e-6)
    assert isinstance(sweep["max_lr"], float) and sweep["max_lr"] == pytest.approx(10.0)
    assert cfg.model.args == {"input_size": 3, "hidden_size": 8, "num_classes": 2}
    assert all(type(v) is int for v in cfg.model.args.values())


def test_optimizer_lr_from_scientific_notation_reaches_the_optimizer(tmp_path: Path, load: LoadFn) -> None:
    loaded = load(write_project(tmp_path, config_text(optimizer="SGD", optimizer_args="{lr: 3E-4}")))
    assert isinstance(loaded.optimizer, torch.optim.SGD)
    assert loaded.optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)


def test_check_switched_off_with_false(tmp_path: Path) -> None:
    cfg = load_config(write_project(tmp_path, config_text(checks="{leakage: false}")))
    assert cfg.checks["leakage"] is None
    report = diagnose(cfg.path)
    assert "leakage" not in {c.name for c in report.checks}


def test_file_reference_is_relative_to_the_config_folder_whatever_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load: LoadFn
) -> None:
    config = write_project(tmp_path / "project", config_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load(config)
    assert type(loaded.model).__name__ == "TinyClassifier"
    monkeypatch.chdir(tmp_path)
    loaded = load("project/config.yaml")
    assert type(loaded.model).__name__ == "TinyClassifier"
    cfg = load_config("project/config.yaml")
    monkeypatch.chdir(elsewhere)  # the folder was fixed when the config was read
    assert cfg.base_dir == (tmp_path / "project").resolve()


def test_file_reference_into_a_subfolder(tmp_path: Path, load: LoadFn) -> None:
    config = write_project(tmp_path, config_text(model="nets/rnn.py:TinyClassifier"), files={"nets/rnn.py": MODELS_PY})
    loaded = load(config)
    assert type(loaded.model).__name__ == "TinyClassifier"


def test_package_module_reference_with_the_config_folder_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load: LoadFn
) -> None:
    package = f"rdtest_pkg_{uuid.uuid4().hex[:8]}"
    config = write_project(
        tmp_path / "project",
        config_text(model=f"{package}.nets:TinyClassifier", train_data=f"{package}.feed:train_loader"),
        files={
            f"{package}/__init__.py": "",
            f"{package}/nets.py": MODELS_PY,
            f"{package}/feed.py": DATA_PY,
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load(config)
    assert type(loaded.model).__module__ == f"{package}.nets"
    assert isinstance(loaded.train_data, DataLoader)
    report = diagnose(config)
    assert report.exit_code == 0, [f.code for f in report.findings]


def test_package_module_reference_is_resolved_per_config_folder(tmp_path: Path, load: LoadFn) -> None:
    name = f"rdtest_nets_{uuid.uuid4().hex[:8]}"
    body = "from torch import nn\n\n\ndef build():\n    return nn.LSTM(3, {hidden}, batch_first=True)\n"
    first = write_project(
        tmp_path / "first",
        config_text(model=f"{name}:build", model_args=""),
        files={f"{name}.py": body.format(hidden=4)},
    )
    second = write_project(
        tmp_path / "second",
        config_text(model=f"{name}:build", model_args=""),
        files={f"{name}.py": body.format(hidden=6)},
    )
    assert load(first).model.hidden_size == 4
    assert load(second).model.hidden_size == 6


def test_bare_and_dotted_torch_names(tmp_path: Path, load: LoadFn) -> None:
    loaded = load(write_project(tmp_path / "a", config_text(loss="CrossEntropyLoss", optimizer="SGD")))
    assert isinstance(loaded.loss_fn, nn.CrossEntropyLoss)
    assert isinstance(loaded.optimizer, torch.optim.SGD)
    loaded = load(write_project(tmp_path / "b", config_text(loss="torch.nn.MSELoss", optimizer="torch.optim.RMSprop")))
    assert isinstance(loaded.loss_fn, nn.MSELoss)
    assert isinstance(loaded.optimizer, torch.optim.RMSprop)


def test_loss_from_the_users_file_instance_and_function(tmp_path: Path, load: LoadFn) -> None:
    losses = """
        import torch.nn.functional as F
        from torch import nn

        weighted = nn.CrossEntropyLoss(weight=None, label_smoothing=0.2)


        def my_loss(outputs, targets):
            return F.cross_entropy(outputs, targets)
    """
    loaded = load(write_project(tmp_path / "a", config_text(loss="losses.py:weighted"), files={"losses.py": losses}))
    assert isinstance(loaded.loss_fn, nn.CrossEntropyLoss) and loaded.loss_fn.label_smoothing == 0.2
    loaded = load(write_project(tmp_path / "b", config_text(loss="losses.py:my_loss"), files={"losses.py": losses}))
    assert loaded.loss_fn.__name__ == "my_loss"


def test_k_args_are_passed_through(tmp_path: Path, load: LoadFn) -> None:
    steps = """
        def forward_batch(model, batch, scale=1.0):
            inputs, targets = batch
            return model(inputs * scale), targets
    """
    text = config_text(
        model_args="{input_size: 3, hidden_size: 5, num_classes: 2}",
        train_data_args="{batch_size: 2}",
        val_data="data.py:val_loader",
        val_data_args="{batch_size: 3}",
        loss_args="{ignore_index: -1, label_smoothing: 0.05}",
        optimizer="SGD",
        optimizer_args="{lr: 0.05, momentum: 0.9, weight_decay: 1e-4}",
        forward="steps.py:forward_batch",
        forward_args="{scale: 0.5}",
    )
    loaded = load(write_project(tmp_path, text, files={"steps.py": steps}))
    assert loaded.model.lstm.hidden_size == 5
    assert loaded.train_data.batch_size == 2
    assert loaded.val_data.batch_size == 3
    assert loaded.loss_fn.ignore_index == -1
    assert loaded.loss_fn.label_smoothing == pytest.approx(0.05)
    group = loaded.optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == pytest.approx((0.05, 0.9, 1e-4))
    assert loaded.forward_fn is not None
    x, y = next(iter(loaded.train_data))
    outputs, targets = loaded.forward_fn(loaded.model, (x, y))
    assert outputs.shape == (2, 2) and targets is y
    assert loaded.forward_fn.keywords == {"scale": 0.5}


def test_optimizer_defaults_to_adam_with_lr_1e_3(tmp_path: Path, load: LoadFn) -> None:
    loaded = load(write_project(tmp_path / "a", config_text()))
    assert isinstance(loaded.optimizer, torch.optim.Adam)
    assert loaded.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    loaded = load(write_project(tmp_path / "b", config_text(optimizer_args="{weight_decay: 0.1}")))
    assert isinstance(loaded.optimizer, torch.optim.Adam)
    assert loaded.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert loaded.optimizer.param_groups[0]["weight_decay"] == pytest.approx(0.1)


def test_default_lr_1e_3_for_an_optimizer_whose_own_default_differs(tmp_path: Path, load: LoadFn) -> None:
    # torch's RMSprop and Adagrad default to lr=1e-2: the contract's default lr is 1e-3 whatever the optimizer.
    for name in ("RMSprop", "Adagrad"):
        loaded = load(write_project(tmp_path / name, config_text(optimizer=name)))
        assert type(loaded.optimizer).__name__ == name
        assert loaded.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3), name


def test_optimizer_parameters_are_the_models(tmp_path: Path, load: LoadFn) -> None:
    loaded = load(write_project(tmp_path, config_text()))
    in_optimizer = {id(p) for group in loaded.optimizer.param_groups for p in group["params"]}
    assert in_optimizer == {id(p) for p in loaded.model.parameters()}


# -- instances versus factories --------------------------------------------------------------------

OBJECTS_PY = """
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset


    class Net(nn.Module):
        def __init__(self, hidden_size=8):
            super().__init__()
            self.lstm = nn.LSTM(3, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, 2)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])


    model = Net()

    _g = torch.Generator().manual_seed(0)
    X = torch.randn(8, 5, 3, generator=_g)
    Y = torch.arange(8) % 2

    loader = DataLoader(TensorDataset(X, Y), batch_size=4)
    batches = [(X[:4], Y[:4]), (X[4:], Y[4:])]
    one_class_batches = [(X[:4], torch.zeros(4, dtype=torch.long)), (X[4:], torch.zeros(4, dtype=torch.long))]
    dict_batches = [{"inputs": X[:4], "targets": Y[:4]}, {"inputs": X[4:], "targets": Y[4:]}]


    def generate(batch_size=4):
        for start in range(0, 8, batch_size):
            yield X[start : start + batch_size], Y[start : start + batch_size]


    def build(hidden_size=8):
        return Net(hidden_size)
"""


def objects_project(folder: Path, **entries: str) -> Path:
    defaults = {"model": "objects.py:model", "model_args": "", "train_data": "objects.py:loader"}
    defaults.update(entries)
    return write_project(folder, config_text(**defaults), files={"objects.py": OBJECTS_PY})


def test_module_level_instance_is_used_as_is(tmp_path: Path, load: LoadFn) -> None:
    config = objects_project(tmp_path)
    loaded = load(config)
    assert isinstance(loaded.model, nn.Module) and type(loaded.model).__name__ == "Net"
    module = type(loaded.model).__module__
    assert loaded.model is sys.modules[module].model
    assert isinstance(loaded.train_data, DataLoader)
    assert loaded.train_data is sys.modules[module].loader


def test_class_and_function_factories_are_called_with_their_args(tmp_path: Path, load: LoadFn) -> None:
    loaded = load(objects_project(tmp_path / "a", model="objects.py:Net", model_args="{hidden_size: 6}"))
    assert loaded.model.lstm.hidden_size == 6
    loaded = load(objects_project(tmp_path / "b", model="objects.py:build", model_args="{hidden_size: 7}"))
    assert loaded.model.lstm.hidden_size == 7
    loaded = load(objects_project(tmp_path / "c", model="objects.py:build"))
    assert loaded.model.lstm.hidden_size == 8


@pytest.mark.parametrize(
    ("train_data", "train_data_args"),
    [
        ("objects.py:loader", ""),
        ("objects.py:batches", ""),
        ("objects.py:dict_batches", ""),
        ("objects.py:generate", ""),
        ("objects.py:generate", "{batch_size: 2}"),
    ],
    ids=["dataloader-instance", "list-of-batches", "list-of-dicts", "generator-function", "generator-with-args"],
)
def test_train_data_forms_diagnose_end_to_end(tmp_path: Path, train_data: str, train_data_args: str) -> None:
    config = objects_project(tmp_path, train_data=train_data, train_data_args=train_data_args)
    report = diagnose(config)
    assert report.exit_code == 0, [(f.code, f.message) for f in report.findings]
    statuses = {c.name: c.status.value for c in report.checks}
    assert statuses.get("labels") == "passed", statuses
    assert statuses.get("inputs") == "passed", statuses
    assert report.timing.forward_passes >= 1


def test_generator_function_yields_batches(tmp_path: Path, load: LoadFn) -> None:
    loaded = load(objects_project(tmp_path, train_data="objects.py:generate", train_data_args="{batch_size: 2}"))
    batches = list(loaded.train_data)
    assert len(batches) == 4
    assert batches[0][0].shape == (2, 5, 3)


def test_one_class_list_of_batches_is_rd101(tmp_path: Path) -> None:
    report = diagnose(objects_project(tmp_path, train_data="objects.py:one_class_batches"))
    assert report.exit_code == 1
    assert report.findings[0].code == "RD101"


def test_diagnose_a_tiny_project_from_another_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_project(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    report = diagnose(config)
    assert report.exit_code == 0, [(f.code, f.message) for f in report.findings]
    assert report.config == str(config)
    assert report.device == "cpu"


def test_load_config_returns_a_config_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(write_project(tmp_path))
    assert isinstance(cfg, Config)
    assert cfg.device == "auto"
    assert cfg.seed == 0
    assert cfg.fail_on.value == "error"
    assert cfg.optimizer.target == "Adam"
    assert cfg.val_data is None and cfg.forward is None and cfg.train_step is None
    assert cfg.model.target == "models.py:TinyClassifier"
