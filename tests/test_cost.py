"""Cost at scale, and honesty about it: an incomplete run is never a pass (exit 3, INCOMPLETE in every format,
--allow-incomplete), progress lines for CI logs, the output layer scored at a subset of the positions, and
runs that blow up end at once. Every assertion counts steps, passes or positions, never seconds."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from rnndoctor import diagnose
from rnndoctor.cli import cli
from rnndoctor.core.findings import CheckResult, CheckStatus, Report
from rnndoctor.core.levels import EXIT_INCOMPLETE
from rnndoctor.render import render
from rnndoctor.runtime.scoring import PositionSubset, ScoringPlan
from tests.helpers import parse_report, write_project

SLOW_MODEL = '''
import time
from torch import nn


class SlowClassifier(nn.Module):
    """Sleeps in every forward pass: the learning-rate sweep (hundreds of passes) cannot finish in 2 s."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        time.sleep(0.05)
        out, _ = self.lstm(x)
        return self.head(out[:, -1])
'''

SLOW_CONFIG = {
    "model": "slow.py:SlowClassifier",
    "train_data": "data.py:train_loader",
    "loss": "CrossEntropyLoss",
    "check_timeout": 2,
    "select": ["RD101", "RD501"],
}


def _slow_project(tmp_path: Path, **extra: Any) -> Path:
    return write_project(tmp_path, {**SLOW_CONFIG, **extra}, files={"slow.py": SLOW_MODEL})


def _check(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["check", str(config), "--no-progress", *args])


# --- never a silent pass ----------------------------------------------------------------------------------


def test_a_check_stopped_by_the_safety_net_exits_3_and_names_its_remedy(tmp_path: Path) -> None:
    result = _check(_slow_project(tmp_path), "--format", "json")
    assert result.exit_code == EXIT_INCOMPLETE, result.output
    doc = parse_report(result.stdout, exit_code=EXIT_INCOMPLETE)
    assert doc["verdict"] == "incomplete" and doc["incomplete"] is True and doc["meta"]["exit_code"] == 3
    status = {c["name"]: c for c in doc["checks"]}
    assert status["labels"]["status"] == "passed", "what completed is still reported"
    sweep = status["lr_sweep"]
    assert sweep["status"] == "errored" and sweep["timed_out"] is True
    assert "check_timeout (now 2 s)" in sweep["remedy"] and "checks.lr_sweep.steps (now 100)" in sweep["remedy"]
    assert "steps taken" in sweep["remedy"], "the pace so far says how long the check needs"


def test_incomplete_is_the_verdict_word_of_every_format(tmp_path: Path) -> None:
    config = _slow_project(tmp_path)
    for fmt in ("text", "markdown", "github", "junit", "html"):
        result = _check(config, "--format", fmt)
        assert result.exit_code == 3, (fmt, result.output)
        assert "INCOMPLETE" in result.stdout or "incomplete" in result.stdout, fmt
        assert "PASS" not in result.stdout and "✅" not in result.stdout, fmt
        assert "lr_sweep" in result.stdout and "check_timeout" in result.stdout, fmt


def test_allow_incomplete_returns_the_findings_code(tmp_path: Path) -> None:
    result = _check(_slow_project(tmp_path), "--format", "json", "--allow-incomplete")
    assert result.exit_code == 0, result.output
    doc = parse_report(result.stdout, exit_code=0)
    assert doc["verdict"] == "pass" and doc["incomplete"] is True, "the report still says what did not finish"
    text = _check(_slow_project(tmp_path), "--allow-incomplete").stdout
    assert "allowed by --allow-incomplete" in text and "lr_sweep" in text


def test_allow_incomplete_in_the_config(tmp_path: Path) -> None:
    result = _check(_slow_project(tmp_path, allow_incomplete=True), "--format", "json")
    assert result.exit_code == 0, result.output
    bad = _check(_slow_project(tmp_path / "bad", allow_incomplete="yes"))
    assert bad.exit_code == 2 and "allow_incomplete" in bad.stderr


def test_write_config_keeps_allow_incomplete(tmp_path: Path) -> None:
    import yaml

    from rnndoctor.setup.config_writer import reproducing_config

    config = _slow_project(tmp_path)
    text = reproducing_config(str(config), (), tmp_path / "ci" / "rnndoctor.yaml", {"allow_incomplete": True})
    assert yaml.safe_load(text)["allow_incomplete"] is True


def _timed_out(allow: bool = False, findings: bool = False) -> Report:
    from rnndoctor.core.findings import Finding, Severity

    return Report(
        config=None,
        device="cpu",
        findings=[Finding("RD302", Severity.ERROR, "t", "m", "f", check="loss")] if findings else [],
        checks=[
            CheckResult("loss", CheckStatus.FOUND if findings else CheckStatus.PASSED),
            CheckResult("lr_sweep", CheckStatus.ERRORED, detail="stopped", timed_out=True, remedy="more time"),
        ],
        allow_incomplete=allow,
    )


@pytest.mark.parametrize(
    ("allow", "findings", "code", "verdict"),
    [
        (False, False, 3, "INCOMPLETE"),
        (False, True, 3, "INCOMPLETE"),
        (True, False, 0, "PASS"),
        (True, True, 1, "FAIL"),
    ],
)
def test_exit_code_of_an_incomplete_run(allow: bool, findings: bool, code: int, verdict: str) -> None:
    report = _timed_out(allow, findings)
    assert (report.exit_code, report.verdict) == (code, verdict)
    assert report.to_dict()["verdict"] == verdict.lower()


def test_a_check_that_crashed_is_not_a_timeout() -> None:
    """Exit 3 is the safety net's: an internal error in a check stays in the summary (contract §8)."""
    report = Report(
        config=None,
        device="cpu",
        checks=[CheckResult("loss", CheckStatus.PASSED), CheckResult("lr_sweep", CheckStatus.ERRORED, detail="bug")],
    )
    assert report.exit_code == 0 and report.incomplete_note() is None


def test_interrupt_and_no_verdict_outrank_incomplete() -> None:
    report = _timed_out()
    report.interrupted = True
    assert report.exit_code == 130
    nothing = Report(
        config=None,
        device="cpu",
        checks=[CheckResult("lr_sweep", CheckStatus.ERRORED, detail="x", timed_out=True, remedy="r")],
    )
    assert nothing.exit_code == 2, "no check completed: no verdict at all"


def test_junit_carries_the_verdict_and_the_remedy() -> None:
    xml = render(_timed_out(), "junit")
    assert '<property name="verdict" value="INCOMPLETE" />' in xml and 'type="INCOMPLETE"' in xml
    assert "To let it finish: more time" in xml


def test_the_remedy_names_the_checks_own_work_option() -> None:
    from rnndoctor.core.engine import timeout_remedy
    from rnndoctor.core.registry import registered_checks

    checks = {c.name: c for c in registered_checks()}
    sweep = timeout_remedy(checks["lr_sweep"](), {"steps": 100}, 300, 25, 100)
    assert sweep == (
        "raise check_timeout (now 300 s) to about 1320 s (25 of 100 steps taken), "
        "or lower checks.lr_sweep.steps (now 100)"
    )
    assert timeout_remedy(checks["labels"](), {}, 60, 0, 0) == "raise check_timeout (now 60 s), or lower max_batches"
    assert "checks.overfitting.epochs" in timeout_remedy(checks["overfitting"](), {"epochs": 5}, 60, 0, 0)


# --- progress that tells the truth --------------------------------------------------------------------------


def test_without_a_terminal_each_check_writes_a_start_and_an_end_line(tmp_path: Path) -> None:
    config = write_project(tmp_path, {**SLOW_CONFIG, "model": "models.py:TinyClassifier", "check_timeout": 600})
    result = CliRunner().invoke(cli, ["check", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    parse_report(result.stdout, exit_code=0)  # stdout holds the JSON document alone
    lines = [line for line in result.stderr.splitlines() if line.startswith("rnndoctor: [")]
    assert [line.split()[2] for line in lines] == ["labels", "labels", "lr_sweep", "lr_sweep"], lines
    # The planned total counts verify_fixes too, which runs only when there is a fix to try.
    assert re.fullmatch(r"rnndoctor: \[1/3\] labels started: label distribution.*", lines[0]), lines
    assert re.fullmatch(r"rnndoctor: \[1/3\] labels passed in \d+\.\d s", lines[1]), lines
    assert re.fullmatch(r"rnndoctor: \[2/3\] lr_sweep passed in \d+\.\d s, \d+ training steps", lines[3]), lines


def test_no_progress_silences_the_lines(tmp_path: Path) -> None:
    config = write_project(tmp_path, {**SLOW_CONFIG, "model": "models.py:TinyClassifier", "check_timeout": 600})
    result = _check(config, "--format", "json")
    assert "started" not in result.stderr


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def started(self, total: int) -> None:
        self.events.append(("started", total))

    def check_started(self, name: str, description: str) -> None:
        self.events.append(("check", name))

    def check_progress(self, name: str, done: int, planned: int) -> None:
        self.events.append(("progress", name, done, planned))

    def check_finished(self, result: CheckResult) -> None:
        self.events.append(("finished", result.name))

    def finished(self) -> None:
        self.events.append(("end",))


def test_progress_reports_steps_taken_and_planned() -> None:
    from tests import setups

    recorder = Recorder()
    report = diagnose(**setups.healthy_classifier(), select=["RD501"], progress=recorder)
    sweep = [e for e in recorder.events if e[0] == "progress" and e[1] == "lr_sweep"]
    steps = next(c for c in report.checks if c.name == "lr_sweep").metrics["steps"]
    assert sweep[0][2:] == (0, 100), "the plan is announced before the first step"
    assert sweep[-1][2:] == (steps, steps), "a sweep that stops early takes its untaken steps out of the plan"
    assert all(done <= planned for _, _, done, planned in sweep)


def test_a_loop_that_stops_early_takes_its_untaken_steps_out_of_the_plan() -> None:
    from rnndoctor.runtime.work import WorkMeter

    meter, seen = WorkMeter(), []
    meter.reset(lambda done, planned: seen.append((done, planned)))
    with meter.phase(100):
        for _ in range(30):
            meter.step()
    assert (seen[0], seen[-1]) == ((0, 100), (30, 30)), "a sweep that diverged at step 30 is done"
    with pytest.raises(RuntimeError), meter.phase(50):
        meter.step()
        raise RuntimeError("stopped by the safety net")
    assert (meter.done, meter.planned) == (31, 80), "a loop cut short keeps its plan: the report says how far"


# --- the output layer at a subset of the positions -----------------------------------------------------------


class WordLM(nn.Module):
    """Embedding, LSTM and an output layer over a vocabulary far wider than the hidden state."""

    def __init__(self, vocab: int = 2000, hidden: int = 16, batch_first: bool = True, flat: bool = True) -> None:
        super().__init__()
        self.vocab, self.flat = vocab, flat
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=batch_first)
        self.decode = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        logits = self.decode(out)
        return logits.reshape(-1, self.vocab) if self.flat else logits.transpose(1, 2)


def _lm_batches(vocab: int = 2000, batch_first: bool = True, flat: bool = True, seed: int = 0) -> list[Any]:
    g = torch.Generator().manual_seed(seed)
    stream = torch.randint(0, vocab, (6, 16, 41), generator=g)
    batches = []
    for chunk in stream:
        x, y = chunk[:, :-1], chunk[:, 1:]
        if not batch_first:
            x, y = x.t().contiguous(), y.t().contiguous()
        batches.append((x, y.reshape(-1) if flat else y))
    return batches


def _lm(**kwargs: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    layout = {k: kwargs[k] for k in ("batch_first", "flat") if k in kwargs}
    model = WordLM(**layout)
    return {
        "model": model,
        "train_data": _lm_batches(**layout),
        "loss": nn.CrossEntropyLoss(),
        "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3),
    }


@pytest.mark.parametrize(
    "layout",
    [{}, {"batch_first": False}, {"flat": False}],
    ids=["batch-first, flat targets", "time-major", "class axis 1, (N, T) targets"],
)
def test_a_wide_output_layer_is_scored_at_a_subset_of_the_positions(layout: dict[str, Any]) -> None:
    report = diagnose(**_lm(**layout), select=["RD501"])
    assert report.meta["scored_positions"] == {"head": "decode", "positions": 64, "batch_positions": 640}
    assert "64 of each batch's 640 target positions" in (report.step_note() or "")
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    assert sweep.status is CheckStatus.PASSED and sweep.metrics["steps"] > 10


def test_scored_positions_0_scores_every_position() -> None:
    options = {"lr_sweep": {"steps": 20, "warmup_steps": 5}}
    plain = diagnose(**_lm(), select=["RD501"], checks=options, scored_positions=0)
    assert "scored_positions" not in plain.meta
    assert "scored_positions" in diagnose(**_lm(), select=["RD501"], checks=options).meta


def test_a_narrow_output_layer_scores_every_position() -> None:
    from tests import setups

    report = diagnose(**setups.healthy_classifier(), select=["RD501"])
    assert "scored_positions" not in report.meta


def test_the_subset_reads_the_targets_at_the_positions_the_layer_computed() -> None:
    model = WordLM(vocab=50, hidden=4, batch_first=False)
    plan = ScoringPlan(model.decode, "decode", axis=0, positions=6, batch_positions=40, classes=50)
    subset = PositionSubset(plan, model, seed=3)
    try:
        tokens = torch.randint(0, 50, (10, 4))
        targets = torch.arange(40).reshape(10, 4)
        outputs = model(tokens)
        assert outputs.shape == (8, 50), "ceil(6 / 4) = 2 time steps of 10, every sample at each"
        index = subset.indices(10, 2)
        chosen = subset.select(outputs, targets.reshape(-1))
        assert torch.equal(chosen, targets[index].reshape(-1))
        assert torch.equal(subset.select(outputs, targets), targets[index])
    finally:
        subset.remove()
    assert model.decode(torch.zeros(10, 4, 4)).shape == (10, 4, 50), "detached: every position again"


def test_a_step_whose_outputs_do_not_line_up_scores_every_position() -> None:
    """A model that mixes positions after the output layer (here: a sum over time) gives a subset loss that
    is not the full loss at those positions: the check on the first batch refuses the subset."""

    class Pooled(WordLM):
        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(self.embed(tokens))
            return self.decode(out).mean(dim=1)

    torch.manual_seed(0)
    model = Pooled()
    batches = [(x.reshape(16, 40), y.reshape(16, 40)[:, -1]) for x, y in _lm_batches()]
    report = diagnose(model=model, train_data=batches, loss=nn.CrossEntropyLoss(), select=["RD501"])
    assert "scored_positions" not in report.meta


def test_the_step_budget_counts_the_output_layer_at_the_scored_positions() -> None:
    from rnndoctor.runtime.budget import step_work, within_step_budget
    from rnndoctor.runtime.session import Session
    from rnndoctor.setup.loaded import Loaded

    parts = _lm()
    loaded = Loaded(parts["model"], parts["train_data"], parts["loss"], parts["optimizer"])
    session = Session(loaded, device=torch.device("cpu"), scored_positions=64)
    dense = session.dense_parameters()
    head = parts["model"].decode.weight.numel()
    assert step_work(session, 16, 40) == dense * 16 * 40
    plan = ScoringPlan(parts["model"].decode, "decode", axis=1, positions=64, batch_positions=640, classes=2000)
    session.scoring = PositionSubset(plan, parts["model"], seed=0)
    try:
        assert step_work(session, 16, 40) == (dense - head) * 16 * 40 + head * 64
        session.max_step_work = (dense - head) * 8 * 40 + head * 64
        cut = within_step_budget(session, parts["train_data"][0])
        assert cut[0].shape[0] == 8 and session.step_cut is not None
    finally:
        session.scoring.remove()


def test_an_evaluation_pass_reads_only_the_samples_the_scored_positions_need() -> None:
    from rnndoctor.runtime.session import Session
    from rnndoctor.runtime.subsets import evaluation_batch
    from rnndoctor.setup.loaded import Loaded

    parts = _lm()
    loaded = Loaded(parts["model"], parts["train_data"], parts["loss"], parts["optimizer"])
    session = Session(loaded, device=torch.device("cpu"), scored_positions=64)
    raw = session.sample("train").batches[0]
    assert evaluation_batch(session, raw) is raw, "every position scored: the whole batch"
    for positions, samples in ((64, 2), (400, 10), (640, 16)):
        plan = ScoringPlan(
            parts["model"].decode, "decode", axis=1, positions=positions, batch_positions=640, classes=2000
        )
        session.scoring = PositionSubset(plan, parts["model"], seed=0)
        try:
            cut = evaluation_batch(session, raw)
            assert (cut[0].shape[0], cut[1].shape[0]) == (samples, samples * 40), positions
        finally:
            session.scoring.remove()


def test_the_check_work_budget_shortens_the_loops_and_says_so() -> None:
    from tests import setups

    full = diagnose(**setups.healthy_classifier(), select=["RD501", "RD503"])
    assert "work_cuts" not in full.meta, "a small model is never cut"
    report = diagnose(**setups.healthy_classifier(), select=["RD501", "RD503"], max_check_work=1.0)
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    assert sweep.metrics["steps"] == 20, "the warm-up and ten steps: the least a sweep can be read from"
    assert sweep.metrics["work_cuts"] == [{"loop": "learning-rate sweep", "asked": 100, "given": 20}]
    fit = next(c for c in report.checks if c.name == "overfit_batch")
    assert fit.metrics["steps"] <= 20 and report.meta["work_cuts"]["overfit_batch"][0]["given"] == 20
    assert "Fewer steps than configured, to stay within max_check_work" in (report.step_note() or "")


def test_closure_evaluations_are_paid_for() -> None:
    from rnndoctor.runtime.session import Session
    from rnndoctor.runtime.stepping import train_on
    from rnndoctor.setup.loaded import Loaded
    from tests import setups

    setup = setups.healthy_classifier()
    model = setup["model"]
    spent = []
    for optimizer in (torch.optim.SGD(model.parameters(), lr=0.1), torch.optim.LBFGS(model.parameters(), max_iter=5)):
        loaded = Loaded(model, setup["train_data"], nn.CrossEntropyLoss(), optimizer)
        session = Session(loaded, device=torch.device("cpu"))
        raw = session.sample("train").batches[0]
        passes = session.forward_passes
        train_on(session, raw)
        spent.append((session.work.spent, session.forward_passes - passes))
    (plain, one), (lbfgs, evaluations) = spent
    assert one == 1 and evaluations > 1
    assert lbfgs == pytest.approx(plain * evaluations), "every closure evaluation counts as a step's work"


# --- runs that blow up end at once --------------------------------------------------------------------------


def test_a_loss_a_million_times_its_start_ends_the_run() -> None:
    from rnndoctor.runtime.stepping import exploded

    assert not exploded([]) and not exploded([2.0, 1e6]) and exploded([2.0, 2.1e6]) and exploded([1.0, math.nan])


def test_an_exploding_fit_stops_at_the_step_that_blew_up() -> None:
    from tests import setups

    setup = setups.healthy_classifier()
    setup["optimizer"] = torch.optim.SGD(setup["model"].parameters(), lr=1e6)
    report = diagnose(**setup, select=["RD503"], checks={"overfit_batch": {"steps": 200}})
    fit = next(c for c in report.checks if c.name == "overfit_batch")
    assert fit.metrics["steps"] < 200, fit.metrics
    assert report.timing.backward_passes < 3 * 200


def test_json_reports_training_steps_per_check() -> None:
    from tests import setups

    report = diagnose(**setups.healthy_classifier(), select=["RD501"])
    doc = json.loads(report.to_json())
    sweep = next(c for c in doc["checks"] if c["name"] == "lr_sweep")
    assert sweep["metrics"]["training_steps"] == sweep["metrics"]["steps"]
