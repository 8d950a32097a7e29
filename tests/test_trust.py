"""Trust on any input: buffers restored by value, user text escaped in every format, honest exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rnndoctor import diagnose
from rnndoctor.cli import cli
from rnndoctor.core.options import Option
from rnndoctor.core.registry import Check, CheckContext, Outcome
from tests.helpers import write_project


class NormalizedLSTM(nn.Module):
    """BatchNorm over raw features (running statistics, num_batches_tracked), LayerNorm before the head, a
    registered counter buffer and a cached hidden state: every kind of state a forward pass mutates."""

    def __init__(self, features: int = 4, hidden: int = 12, classes: int = 3) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(features, momentum=None)
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.layer_norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, classes)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.last_hidden: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls.add_(1)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        out, (h, _) = self.lstm(x)
        self.last_hidden = h.detach()
        return self.head(self.layer_norm(out[:, -1]))


def _loader(seed: int = 0) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(48, 7, 4, generator=g) * 3 + 1
    y = torch.randint(0, 3, (48,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=16)


def _warmed(training: bool) -> nn.Module:
    torch.manual_seed(0)
    model = NormalizedLSTM()
    for x, _ in _loader(1):
        model(x)
    return model.train(training)


def _state(model: nn.Module) -> dict[str, Any]:
    return {
        "tensors": {k: v.clone() for k, v in model.state_dict().items()},
        "modes": [m.training for m in model.modules()],
        "last_hidden": None if model.last_hidden is None else model.last_hidden.clone(),
    }


def _assert_same(before: dict[str, Any], model: nn.Module) -> None:
    after = _state(model)
    assert before["tensors"].keys() == after["tensors"].keys()
    changed = [k for k, v in before["tensors"].items() if not torch.equal(v, after["tensors"][k])]
    assert not changed, f"not restored: {changed}"
    assert before["modes"] == after["modes"]
    assert torch.equal(before["last_hidden"], after["last_hidden"])


@pytest.mark.parametrize("training", [True, False], ids=["train-mode", "eval-mode"])
def test_buffers_and_attributes_are_restored_through_the_api(training: bool) -> None:
    model = _warmed(training)
    before = _state(model)
    report = diagnose(model=model, train_data=_loader(), loss=nn.CrossEntropyLoss(), val_data=_loader(2))
    assert report.timing.forward_passes > 10, "the checks ran the model in train mode"
    _assert_same(before, model)


SHARED: dict[str, nn.Module] = {}


def shared_model() -> nn.Module:
    """The model factory the CLI test's config names: hands out the one instance the test inspects."""
    return SHARED["model"]


def shared_loader() -> DataLoader:
    return _loader()


@pytest.mark.parametrize("training", [True, False], ids=["train-mode", "eval-mode"])
def test_buffers_are_restored_through_the_cli(tmp_path: Path, training: bool) -> None:
    SHARED["model"] = model = _warmed(training)
    before = _state(model)
    config = write_project(
        tmp_path,
        {
            "model": "tests.test_trust:shared_model",
            "train_data": "tests.test_trust:shared_loader",
            "loss": "CrossEntropyLoss",
        },
    )
    result = CliRunner().invoke(cli, ["check", str(config), "--format", "json", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["timing"]["forward_passes"] > 10
    _assert_same(before, model)


class RaisesMarkup(nn.Module):
    """A forward whose error message looks like rich markup, HTML and XML at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("[/model] token <pad> & [bold]x[/bold] not in vocab ]]> --")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "junit", "github", "json"])
def test_user_text_is_data_in_every_format(fmt: str) -> None:
    from rnndoctor.render import render

    report = diagnose(model=RaisesMarkup(), train_data=_loader(), loss=nn.CrossEntropyLoss(), quick=True)
    assert any("<pad>" in f.message for f in report.findings), [f.message for f in report.findings]
    out = render(report, fmt)
    if fmt == "text":
        assert "[/model] token <pad> & [bold]x[/bold]" in out
    elif fmt == "markdown":
        assert "&lt;pad&gt;" in out and "<pad>" not in out, "a bare <pad> is an HTML tag to a markdown viewer"
        assert "\\[/model\\]" in out or "[/model]" in out
    elif fmt == "html":
        assert "&lt;pad&gt;" in out and "<pad>" not in out
    elif fmt == "junit":
        import xml.etree.ElementTree as ET

        texts = " ".join(e.text or "" for e in ET.fromstring(out).iter())
        assert "<pad>" in texts, "the XML parses and gives back the user's text"
    elif fmt == "json":
        assert any("<pad>" in f["message"] for f in json.loads(out)["findings"])
    else:
        assert "<pad>" in out


class Stream:
    """A one-shot iterable that is not its own iterator: every `iter()` continues the same stream."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.read = 0
        self._source = iter(batches)

    def __iter__(self) -> Any:
        for batch in self._source:
            self.read += 1
            yield batch


def test_one_shot_data_is_read_once() -> None:
    x, y = torch.randn(400, 6, 4), torch.randint(0, 3, (400,))
    train = Stream([(x[i : i + 4], y[i : i + 4]) for i in range(0, 400, 4)])
    val = Stream([(x[i : i + 4], y[i : i + 4]) for i in range(0, 40, 4)])
    torch.manual_seed(0)
    report = diagnose(model=NormalizedLSTM(), train_data=train, val_data=val, loss=nn.CrossEntropyLoss(), max_batches=8)
    leakage = next(c for c in report.checks if c.name == "leakage")
    assert leakage.status.value in ("passed", "found"), leakage.detail
    assert train.read <= 9, f"{train.read} training batches read: the stream was re-drawn after sampling"
    assert val.read <= 9


def _check(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["check", str(config), "--no-progress", *args])


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_a_code_option_matching_nothing_is_a_setup_error(tmp_path: Path, option: str) -> None:
    result = _check(write_project(tmp_path), option, "RD9")
    assert result.exit_code == 2
    assert f"{option} RD9" in result.stderr and "matches no code" in result.stderr
    assert "Traceback" not in result.output


def test_a_config_select_matching_nothing_names_the_file_and_key(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        {
            "model": "models.py:TinyClassifier",
            "train_data": "data.py:train_loader",
            "loss": "CrossEntropyLoss",
            "select": ["RD89"],
        },
    )
    result = _check(config)
    assert result.exit_code == 2
    assert "config.yaml" in result.stderr and "select" in result.stderr and "RD89" in result.stderr


def test_the_api_rejects_a_selection_matching_nothing() -> None:
    from rnndoctor.setup.errors import SetupError

    with pytest.raises(SetupError, match="matches no code"):
        diagnose(model=NormalizedLSTM(), train_data=_loader(), loss=nn.CrossEntropyLoss(), select=["RD7"])


def test_a_run_where_no_check_completed_exits_2(tmp_path: Path) -> None:
    result = _check(write_project(tmp_path), "--select", "RD111", "--format", "json")
    doc = json.loads(result.stdout)
    assert [c["status"] for c in doc["checks"]] == ["skipped"], doc["checks"]
    assert result.exit_code == 2 and doc["status"] == "fail" and doc["incomplete"] is True
    text = _check(write_project(tmp_path), "--select", "RD111").stdout
    assert "INCOMPLETE" in text and "no check completed" in text and "PASS" not in text


def test_fail_on_never_says_the_errors_do_not_fail() -> None:
    from rnndoctor.core.findings import CheckResult, CheckStatus, FailOn, Finding, Report, Severity
    from rnndoctor.render import render

    report = Report(
        config="c.yaml",
        device="cpu",
        findings=[Finding("RD302", Severity.ERROR, "t", "m", "f", check="loss")],
        checks=[CheckResult("loss", CheckStatus.FOUND)],
        fail_on=FailOn.NEVER,
    )
    assert report.exit_code == 0
    assert report.summary() == "1 error · 0 warnings · 0 info (not failing: --fail-on never)"
    assert report.verdict == "REPORT ONLY" and report.status == "pass"
    for fmt in ("text", "markdown", "html", "github"):
        rendered = re.sub(r"<style>.*?</style>|<[^>]+>", " ", render(report, fmt), flags=re.S)
        assert "not failing: --fail-on never" in rendered, fmt
        # Issue 28 §7: no PASS (green in the terminal) beside "1 error".
        assert not re.search(r"\bpass\b", rendered, re.IGNORECASE), fmt
    report.findings[0].severity = Severity.INFO
    assert report.verdict == "PASS"
    report.findings[0].severity = Severity.ERROR
    report.fail_on = FailOn.ERROR
    assert report.exit_code == 1 and "not failing" not in report.summary()


def test_an_unfinished_check_marks_the_run_incomplete() -> None:
    from rnndoctor.core.findings import CheckResult, CheckStatus, Report

    report = Report(
        config=None,
        device="cpu",
        checks=[CheckResult("labels", CheckStatus.PASSED), CheckResult("lr_sweep", CheckStatus.ERRORED, detail="x")],
    )
    assert report.exit_code == 0, "what completed found nothing"
    assert "1 check did not finish (lr_sweep)" in report.summary()
    assert report.to_dict()["incomplete"] is True


def test_a_finding_left_out_is_named_in_its_check_row() -> None:
    from tests import setups

    report = diagnose(**setups.BROKEN_MODEL_AND_LOSS["RD302"](), ignore=["RD302"], quick=True)
    loss = next(c for c in report.checks if c.name == "loss")
    assert "RD302 not reported" in loss.detail, loss.detail


def test_thread_choice_one_for_narrow_models_and_the_callers_setting_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnndoctor.runtime import resources

    assert resources.choose_threads(NormalizedLSTM()) == 1
    wide = nn.LSTM(1024, 1024)
    monkeypatch.setattr(resources, "usable_cores", lambda: 8)
    monkeypatch.setattr(resources, "idle_cores", lambda cores: 8)
    assert resources.choose_threads(wide) == resources.MAX_THREADS
    monkeypatch.setattr(resources, "idle_cores", lambda cores: 1)
    assert resources.choose_threads(wide) == 1, "busy cores: a second thread only adds contention"
    assert resources.choose_threads(wide, requested=3) == 3

    torch.set_num_threads(2)
    try:
        report = diagnose(model=NormalizedLSTM(), train_data=_loader(), loss=nn.CrossEntropyLoss(), quick=True)
        assert report.meta["threads"] == 1
        assert torch.get_num_threads() == 2, "the caller's thread count is given back"
    finally:
        torch.set_num_threads(1)


def test_threads_option_is_recorded_and_does_not_change_the_verdict(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    docs = {}
    for threads in ("1", "2"):
        result = _check(config, "--format", "json", "--threads", threads)
        docs[threads] = json.loads(result.stdout)
        assert docs[threads]["meta"]["threads"] == int(threads)
        assert docs[threads]["meta"]["exit_code"] == result.exit_code
    assert [f["code"] for f in docs["1"]["findings"]] == [f["code"] for f in docs["2"]["findings"]]
    meta = docs["1"]["meta"]
    assert {"rnndoctor", "torch", "python", "device", "seed", "threads", "fail_on", "exit_code", "started"} <= set(meta)
    assert docs["1"]["timing"]["peak_memory_mb"] > 0
    assert _check(config, "--threads", "0").exit_code == 2


def test_a_wide_step_is_cut_to_the_step_budget_and_says_so(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        {
            "model": "models.py:TinyClassifier",
            "train_data": "data.py:train_loader",
            "train_data_args": {"batch_size": 8},
            "loss": "CrossEntropyLoss",
            "max_step_work": 1000,
        },
    )
    report = diagnose(config)
    cut = report.meta["step_samples"]
    assert cut["batch_samples"] == 8 and cut["used_samples"] == 2, cut
    assert "trained on 2 of each batch's 8 samples" in str(report)
    assert "step_samples" not in diagnose(write_project(tmp_path / "default")).meta


@pytest.mark.parametrize("code", ["RD501", "RD502"])
def test_select_does_not_change_what_a_check_measures(code: str) -> None:
    """The one-batch fit retries at the sweep's suggestion: selecting only its codes must not change that."""
    from tests import setups

    whole = diagnose(**setups.BROKEN_DYNAMICS[code]())
    alone = diagnose(**setups.BROKEN_DYNAMICS[code](), select=["RD503", "RD504", "RD505", "RD506"])

    def fit(report: Any) -> dict[str, Any]:
        metrics = next(c for c in report.checks if c.name == "overfit_batch").metrics
        return {k: metrics.get(k) for k in ("retry_lr", "final_loss", "steps", "fitted", "retry_fitted")}

    assert fit(whole)["retry_lr"] is not None, "the configured rate does not fit: the fit retried"
    assert fit(alone) == fit(whole)
    assert sorted(f.code for f in alone.findings) == sorted(
        f.code for f in whole.findings if f.check == "overfit_batch"
    )


class PluginCheck(Check):
    """A third-party check, found through the entry-point group."""

    name = "plugin_label_count"
    codes = ("RD102",)
    cost = 0
    description = "a plugin"

    def run(self, ctx: CheckContext) -> Outcome:
        return Outcome(f"{len(ctx.session.sample().batches)} batches seen by a plugin")


def test_checks_register_through_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from rnndoctor.core import registry

    points = [
        metadata.EntryPoint("plugin", "tests.test_trust:PluginCheck", registry.ENTRY_POINT_GROUP),
        metadata.EntryPoint("broken", "tests.no_such_module:Nothing", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [p for p in points if p.group == group])
    monkeypatch.setattr(registry, "_loaded", False)
    try:
        with pytest.warns(UserWarning, match="cannot load check plugin 'broken'"):
            full = diagnose(model=NormalizedLSTM(), train_data=_loader(), loss=nn.CrossEntropyLoss(), select=["RD102"])
        assert "batches seen by a plugin" in next(c for c in full.checks if c.name == PluginCheck.name).detail
        quick = diagnose(
            model=NormalizedLSTM(), train_data=_loader(), loss=nn.CrossEntropyLoss(), select=["RD102"], quick=True
        )
        assert PluginCheck.name not in {c.name for c in quick.checks}, "a check joins --quick only by opting in"
    finally:
        registry._REGISTRY.pop(PluginCheck.name, None)


class PluginWithOption(Check):
    name = "plugin_with_option"
    codes = ("RD102",)
    cost = 0
    options = (Option("min_batches", 1, "batches the plugin wants"),)

    def run(self, ctx: CheckContext) -> Outcome:
        return Outcome(f"plugin option min_batches={ctx.options['min_batches']}")


def test_a_plugin_checks_options_are_set_under_checks(tmp_path: Path) -> None:
    from rnndoctor.core import registry
    from rnndoctor.setup.config import ConfigError

    registry.register(PluginWithOption)
    try:
        report = diagnose(
            model=NormalizedLSTM(),
            train_data=_loader(),
            loss=nn.CrossEntropyLoss(),
            select=["RD102"],
            checks={"plugin_with_option": {"min_batches": 3}},
        )
        assert "min_batches=3" in next(c for c in report.checks if c.name == PluginWithOption.name).detail
        with pytest.raises(ConfigError, match="unknown option"):
            diagnose(
                model=NormalizedLSTM(),
                train_data=_loader(),
                loss=nn.CrossEntropyLoss(),
                checks={"plugin_with_option": {"min_batchez": 3}},
            )
    finally:
        registry._REGISTRY.pop(PluginWithOption.name, None)


def test_a_selection_no_check_can_run_is_a_setup_error(tmp_path: Path) -> None:
    result = _check(write_project(tmp_path), "--quick", "--select", "RD501")
    assert result.exit_code == 2 and "nothing to run" in result.stderr and "--quick" in result.stderr


def test_an_empty_validation_split_leaves_a_verdict() -> None:
    report = diagnose(model=NormalizedLSTM(), train_data=_loader(), val_data=[], loss=nn.CrossEntropyLoss(), quick=True)
    unusable = [f for f in report.findings if f.code == "RD002"]
    assert unusable and unusable[0].evidence["split"] == "val"
    assert report.exit_code == 1, "the training checks completed: findings, not 'no verdict'"


def test_one_padded_row_with_a_run_of_padding_still_shows_the_time_axis() -> None:
    from rnndoctor.runtime.layout import BATCH_FIRST, infer_layout

    generator = torch.Generator().manual_seed(1)
    x = torch.randint(1, 50, (4, 6), generator=generator)
    x[3, 4:] = 0
    layout = infer_layout(x, targets=torch.randint(1, 50, (4, 6), generator=generator), pad_id=0)
    assert layout is not None and layout.kind == BATCH_FIRST and layout.samples == 4


def test_tied_output_weights_count_as_multiplied() -> None:
    from rnndoctor.runtime.session import Session

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(1000, 16)
            self.lstm = nn.LSTM(16, 16, batch_first=True)
            self.decode = nn.Linear(16, 1000)
            self.decode.weight = self.embed.weight

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.decode(self.lstm(self.embed(x))[0])

    from rnndoctor.setup.loaded import Loaded

    model = Tied()
    session = Session(
        Loaded(model, [], nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1)),
        device=torch.device("cpu"),
    )
    lstm = sum(p.numel() for p in model.lstm.parameters())
    assert session.dense_parameters() == lstm + 1000 * 16 + 1000


def test_out_of_table_token_ids_are_known_whichever_check_runs() -> None:
    """Without the inputs check (not selected), a model-running check still skips instead of crashing."""

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(20, 8)
            self.lstm = nn.LSTM(8, 8, batch_first=True)
            self.head = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.lstm(self.embed(x))[0][:, -1])

    x = torch.randint(0, 30, (16, 5), generator=torch.Generator().manual_seed(0))
    data = [(x, torch.randint(0, 3, (16,)))]
    report = diagnose(model=Tagger(), train_data=data, loss=nn.CrossEntropyLoss(), select=["RD3"], quick=True)
    loss = next(c for c in report.checks if c.name == "loss")
    assert loss.status.value == "skipped" and "embedding table" in loss.detail, loss.detail


def test_a_judge_registered_for_a_published_measurement_runs_without_touching_the_check() -> None:
    from rnndoctor.core import judging
    from rnndoctor.core.catalogue import get_rule
    from rnndoctor.measurements.data import LabelStats

    seen: list[Any] = []

    def judge_many_classes(stats: Any, options: Any) -> list[Any]:
        seen.append(stats)
        return []

    judging.judges(get_rule("RD102"), LabelStats)(judge_many_classes)
    try:
        diagnose(model=NormalizedLSTM(), train_data=_loader(), loss=nn.CrossEntropyLoss(), select=["RD1"])
        assert len(seen) == 1 and seen[0].counts, "the labels check's published counts reached the new judge"
    finally:
        judging._JUDGES[:] = [e for e in judging._JUDGES if e.function is not judge_many_classes]


class LazyCache(nn.Module):
    """Keeps its last input on an attribute that exists only once forward has run."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_input = x
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def test_an_attribute_the_forward_sets_lazily_is_gone_afterwards() -> None:
    model = LazyCache()
    assert "seen_input" not in vars(model)
    diagnose(model=model, train_data=_loader(), loss=nn.CrossEntropyLoss(), select=["RD2"])
    assert "seen_input" not in vars(model), "the diagnosis left an attribute the user's model never had"
