"""Script mode (contract §8): a training script diagnosed by running it as it is.

The scripts are the small ones in tests/script_toys (one per way of training: a DataLoader loop, a
character RNN stepped by hand, an encoder-decoder with two optimizers, an LBFGS closure); a bug is planted by
replacing one line. The upstream corpus with validated bugs is scored in tests/test_script_corpus.py.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from rnndoctor import diagnose
from rnndoctor.cli import cli
from rnndoctor.core.findings import Severity
from rnndoctor.setup.errors import SetupError

TOYS = Path(__file__).parent / "script_toys"

pytestmark = pytest.mark.slow


def toy(tmp_path: Path, name: str, replace: tuple[str, str] | None = None) -> Path:
    """A copy of a toy script in its own folder, with one line replaced."""
    text = (TOYS / name).read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(*replace)
    folder = tmp_path / name.removesuffix(".py")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def codes(report: object, at_least: Severity = Severity.WARNING) -> set[str]:
    return {f.code for f in report.findings if f.severity >= at_least}  # type: ignore[attr-defined]


def run_in(folder: Path, script: Path, args: tuple[str, ...] = (), **kwargs: object) -> object:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return diagnose(str(script.name), script_args=args, **kwargs)  # type: ignore[arg-type]
    finally:
        os.chdir(cwd)


def test_a_healthy_dataloader_script_has_no_warning(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    report = run_in(script.parent, script)
    assert codes(report) == set()


BROKEN_CLASSIFIER: dict[str, tuple[tuple[str, str], str, set[str]]] = {
    # bug: (the line replaced, the first code, every error expected)
    "no zero_grad": (("        optimizer.zero_grad()\n", ""), "RD404", {"RD404"}),
    "rate 3000x too high": (("default=0.01", "default=30.0"), "RD502", {"RD502"}),
    "softmax before CrossEntropyLoss": (
        ("return self.head(out[:, -1])", "return torch.softmax(self.head(out[:, -1]), dim=1)"),
        "RD302",
        {"RD302"},
    ),
    "labels collapsed": (
        ("labels = (features[:, :, 0].sum(1) > 0).long()", "labels = torch.zeros(512).long()"),
        "RD101",
        {"RD101"},
    ),
    "clipping after the step": (
        (
            "        optimizer.step()\n",
            "        optimizer.step()\n        nn.utils.clip_grad_norm_(model.parameters(), 0.1)\n",
        ),
        "RD407",
        {"RD407"},
    ),
}


@pytest.mark.parametrize("bug", sorted(BROKEN_CLASSIFIER))
def test_a_planted_bug_in_the_script_is_found_first(tmp_path: Path, bug: str) -> None:
    replace, first, errors = BROKEN_CLASSIFIER[bug]
    script = toy(tmp_path, "classifier.py", replace)
    report = run_in(script.parent, script)
    assert (report.findings[0].code, codes(report, Severity.ERROR)) == (first, errors)  # type: ignore[attr-defined]


def test_the_scripts_arguments_reach_it(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    report = run_in(script.parent, script, ("--lr", "30"))
    assert "RD502" in codes(report, Severity.ERROR)


def test_the_report_records_what_ran(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    report = run_in(script.parent, script, ("--epochs", "100"), select=["RD1"])
    meta = report.meta["script"]  # type: ignore[attr-defined]
    assert (meta["args"], meta["modules"], meta["optimizer"], meta["loss"]) == (
        ["--epochs", "100"],
        {"model": "Net"},
        "Adam",
        "CrossEntropyLoss",
    )


def test_checkpoints_the_script_writes_are_redirected_and_listed(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    checkpoint = script.parent / "model.pt"
    checkpoint.write_bytes(b"the user's checkpoint")
    report = run_in(script.parent, script)
    written = report.meta["script"]["redirected_writes"]  # type: ignore[attr-defined]
    assert (checkpoint.read_bytes(), written) == (b"the user's checkpoint", [str(checkpoint)])


def test_the_redirected_writes_are_removed_after_the_diagnosis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = toy(tmp_path, "classifier.py")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    report = run_in(script.parent, script)
    assert (len(report.meta["script"]["redirected_writes"]), list(scratch.iterdir())) == (1, [])  # type: ignore[attr-defined]


def test_the_callers_process_state_is_given_back(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    random.seed(5)
    torch.manual_seed(5)
    before = (list(sys.argv), os.getcwd(), list(sys.path), random.random(), float(torch.rand(1)))
    random.seed(5)
    torch.manual_seed(5)
    diagnose(str(script), select=["RD1"])
    after = (list(sys.argv), os.getcwd(), list(sys.path), random.random(), float(torch.rand(1)))
    assert after == before


def test_a_character_rnn_stepped_by_hand_is_replayed_and_its_rate_read(tmp_path: Path) -> None:
    script = toy(tmp_path, "char_rnn.py")
    report = run_in(script.parent, script)
    meta = report.meta["script"]  # type: ignore[attr-defined]
    assert (meta["optimizer"], meta["replayable"], codes(report)) == ("hand-written update (lr=0.005)", True, set())


def test_a_small_hand_written_rate_is_read_through_float_rounding(tmp_path: Path) -> None:
    """At 5e-4 (the generation tutorial's rate) a float32 weight moves by a few units of its precision."""
    script = toy(tmp_path, "char_rnn.py", ("learning_rate = 0.005", "learning_rate = 0.0005"))
    report = run_in(script.parent, script)
    meta = report.meta["script"]  # type: ignore[attr-defined]
    assert (meta["optimizer"], {"RD502", "RD503"} & codes(report)) == ("hand-written update (lr=0.0005)", set())


@pytest.mark.parametrize("rate", [1e-5, 5e-4, 0.1])
def test_measured_rate_reads_plain_sgd_and_refuses_adam(rate: float) -> None:
    from rnndoctor.script.optimizers import measured_rate

    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(64, 32) * 0.3), torch.nn.Parameter(torch.randn(64) * 0.1)]
    grads = {id(p): torch.randn_like(p) * 0.01 for p in params}
    before = {id(p): p.detach().clone() for p in params}
    with torch.no_grad():
        for p in params:
            p.add_(grads[id(p)], alpha=-rate)
    measured = measured_rate(before, params, grads)
    assert measured is not None and abs(measured - rate) <= 0.01 * rate
    adam = torch.optim.Adam(params, lr=rate)
    before = {id(p): p.detach().clone() for p in params}
    for p in params:
        p.grad = grads[id(p)].clone()
    adam.step()
    assert measured_rate(before, params, grads) is None


def test_a_character_rnn_with_a_rate_far_too_high_is_rd502(tmp_path: Path) -> None:
    script = toy(tmp_path, "char_rnn.py", ("learning_rate = 0.005", "learning_rate = 50.0"))
    report = run_in(script.parent, script)
    assert report.findings[0].code == "RD502"  # type: ignore[attr-defined]


def test_a_healthy_seq2seq_with_teacher_forcing_is_clean(tmp_path: Path) -> None:
    script = toy(tmp_path, "seq2seq.py")
    report = run_in(script.parent, script)
    assert codes(report) == set()


LEAK = (
    "            decoder_output, decoder_hidden = decoder(decoder_input, decoder_hidden)\n"
    "            loss += criterion(decoder_output, target_tensor[di])\n"
    "            decoder_input = target_tensor[di]  # Teacher forcing\n",
    "            decoder_input = target_tensor[di]  # Teacher forcing\n"
    "            decoder_output, decoder_hidden = decoder(decoder_input, decoder_hidden)\n"
    "            loss += criterion(decoder_output, target_tensor[di])\n",
)


def test_a_decoder_fed_its_own_target_is_rd214(tmp_path: Path) -> None:
    script = toy(tmp_path, "seq2seq.py", LEAK)
    report = run_in(script.parent, script)
    assert report.findings[0].code == "RD214"  # type: ignore[attr-defined]


def test_two_optimizers_are_seen_as_one(tmp_path: Path) -> None:
    script = toy(tmp_path, "seq2seq.py")
    report = run_in(script.parent, script, select=["RD1"])
    meta = report.meta["script"]  # type: ignore[attr-defined]
    assert (meta["optimizer"], meta["modules"]) == ("SGD + SGD", {"encoder": "EncoderRNN", "decoder": "DecoderRNN"})


def test_an_lbfgs_closure_loop_is_driven_step_by_step(tmp_path: Path) -> None:
    script = toy(tmp_path, "lbfgs_sine.py", ("    optimizer.step(closure)\n", "    optimizer.step(closure)\n"))
    report = run_in(script.parent, script, select=["RD404"])
    statuses = {c.name: c.status.value for c in report.checks}  # type: ignore[attr-defined]
    assert statuses["training_step"] == "passed"


def test_an_lbfgs_closure_without_zero_grad_is_rd404(tmp_path: Path) -> None:
    script = toy(tmp_path, "lbfgs_sine.py", ("        optimizer.zero_grad()\n", ""))
    report = run_in(script.parent, script, select=["RD404"])
    assert codes(report, Severity.ERROR) == {"RD404"}


def test_a_crash_inside_the_model_during_the_first_step_is_a_finding(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py", ("nn.LSTM(3, 16, batch_first=True)", "nn.LSTM(5, 16, batch_first=True)"))
    report = run_in(script.parent, script)
    assert (report.exit_code, report.findings[0].code) == (1, "RD201")  # type: ignore[attr-defined]


# -- scripts that cannot be diagnosed: exit 2 with the reason -------------------------------------------


def failing(tmp_path: Path, source: str) -> str:
    """The setup error of a script run from a config that gives it 3 s to reach its first step."""
    (tmp_path / "bad.py").write_text(source, encoding="utf-8")
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"script": "bad.py", "script_timeout": 3}), encoding="utf-8")
    with pytest.raises(SetupError) as caught:
        diagnose(str(config))
    return str(caught.value)


def test_a_syntax_error_is_a_setup_error_naming_the_line(tmp_path: Path) -> None:
    message = failing(tmp_path, "import torch\nx = (\n")
    assert "bad.py" in message and "line 2" in message


def test_an_exception_before_training_shows_the_users_own_frames(tmp_path: Path) -> None:
    message = failing(tmp_path, "def load():\n    return open('missing.csv').read()\n\nload()\n")
    assert ("missing.csv" in message, "runpy" in message, "rnndoctor/" in message) == (True, False, False)


def test_sys_exit_before_training_is_a_setup_error(tmp_path: Path) -> None:
    message = failing(tmp_path, "import sys\nsys.exit(3)\n")
    assert "sys.exit(3)" in message


def test_a_script_that_never_trains_is_a_setup_error(tmp_path: Path) -> None:
    message = failing(tmp_path, "import torch\nprint(torch.zeros(3).sum())\n")
    assert "ended before its first training step" in message


def test_a_script_slower_than_script_timeout_is_a_setup_error(tmp_path: Path) -> None:
    message = failing(tmp_path, "import time\ntime.sleep(30)\n")
    assert "script_timeout" in message


def test_a_script_that_needs_cuda_says_so(tmp_path: Path) -> None:
    message = failing(tmp_path, "import torch\nmodel = torch.nn.Linear(2, 2).cuda()\n")
    assert "needs CUDA" in message


# -- command line and config ---------------------------------------------------------------------------


def test_the_command_line_takes_the_scripts_arguments_after_a_double_dash(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnndoctor",
            "check",
            script.name,
            "--format",
            "json",
            "--select",
            "RD1",
            "--",
            "--lr",
            "0.02",
        ],
        cwd=script.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    assert (result.returncode, report["meta"]["script"]["args"], report["config"]) == (
        0,
        ["--lr", "0.02"],
        "classifier.py",
    )


def test_arguments_after_a_config_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("model: m.py:M\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(config), "--", "--lr", "1"])
    assert (result.exit_code, "only a training script" in result.output) == (2, True)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"script": "train.py", "model": "m.py:M"}, ("'model'", "'script'")),
        ({"script": "train.py", "loss": "CrossEntropyLoss"}, ("'loss'", "'script'")),
        ({"script": "train.py", "optimizer_args": {"lr": 0.1}}, ("'optimizer_args'", "'script'")),
        ({"script_args": ["--lr", "1"], "model": "m.py:M"}, ("'script_args'", "'script' is not")),
        ({"script": "missing.py"}, ("'script'", "no such file")),
        ({"script": "train.py", "cwd": "nowhere"}, ("'cwd'", "no such folder")),
        ({"script": "train.py", "script_args": "--lr 1"}, ("'script_args'", "list")),
        ({"script": "train.py", "script_timeout": -1}, ("'script_timeout'", "positive")),
    ],
)
def test_script_keys_are_validated(tmp_path: Path, data: dict[str, object], words: tuple[str, str]) -> None:
    (tmp_path / "train.py").write_text("print('hi')\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(config)])
    assert (result.exit_code, all(w in result.output for w in words)) == (2, True), result.output


def test_cwd_and_env_reach_the_script(tmp_path: Path) -> None:
    rate = 'float(os.environ["RATE"]) * float(open("scale.txt").read())'
    script = toy(tmp_path, "classifier.py", ("default=0.01", f"default={rate}"))
    script.write_text("import os\n" + script.read_text(encoding="utf-8"), encoding="utf-8")
    data_folder = tmp_path / "data"
    data_folder.mkdir()
    (data_folder / "scale.txt").write_text("10", encoding="utf-8")
    config = tmp_path / "ci.yaml"
    settings = {"script": "classifier/classifier.py", "cwd": "data", "env": {"RATE": 3.0}}
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    report = diagnose(str(config))
    assert "RD502" in codes(report, Severity.ERROR)


def test_write_config_reproduces_the_run(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    written = tmp_path / "ci" / "rnndoctor.yaml"
    runner_cwd = os.getcwd()
    os.chdir(script.parent)
    try:
        first = CliRunner().invoke(
            cli,
            [
                "check",
                "classifier.py",
                "--write-config",
                str(written),
                "--format",
                "json",
                "--select",
                "RD5",
                "--",
                "--lr",
                "30",
            ],
        )
    finally:
        os.chdir(runner_cwd)
    second = CliRunner().invoke(cli, ["check", str(written), "--format", "json"])
    first_codes = [f["code"] for f in json.loads(first.stdout)["findings"]]
    second_codes = [f["code"] for f in json.loads(second.stdout)["findings"]]
    assert (second.exit_code, second_codes) == (first.exit_code, first_codes)


def test_the_scripts_output_stays_out_of_a_json_report(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    result = subprocess.run(
        [sys.executable, "-m", "rnndoctor", "check", script.name, "--format", "json", "--select", "RD1"],
        cwd=script.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(result.stdout)["status"] == "pass"


def test_dataloader_worker_processes_work(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    report = run_in(script.parent, script, ("--workers", "2", "--epochs", "40"), select=["RD1", "RD3"])
    assert report.meta["script"]["dataloader_workers"] == 2  # type: ignore[attr-defined]


def test_ctrl_c_during_the_scripts_start_up_exits_130(tmp_path: Path) -> None:
    import signal
    import time

    (tmp_path / "slow.py").write_text("import time\nprint('loading', flush=True)\ntime.sleep(60)\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "rnndoctor", "check", "slow.py", "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell that starts its jobs in the background hands them SIGINT ignored; the user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, "interrupted" in err) == (130, True)


def test_verbose_shows_what_the_script_printed(tmp_path: Path) -> None:
    script = toy(tmp_path, "classifier.py")
    result = subprocess.run(
        [sys.executable, "-m", "rnndoctor", "check", script.name, "--verbose", "--select", "RD1", "--no-progress"],
        cwd=script.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ("epoch 0 loss" in result.stderr, "epoch 0 loss" in result.stdout) == (True, False)


def test_write_config_from_a_config_keeps_naming_the_same_files(tmp_path: Path) -> None:
    from rnndoctor.setup.config import load_config
    from rnndoctor.setup.config_writer import reproducing_config

    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "train.py").write_text("print('training')\n", encoding="utf-8")
    source = tmp_path / "project" / "rnndoctor.yaml"
    source.write_text("script: train.py\nscript_args: [--lr, '1']\n", encoding="utf-8")
    written = tmp_path / "ci" / "copy.yaml"
    written.parent.mkdir()
    written.write_text(reproducing_config(str(source), (), written, {"seed": 3}), encoding="utf-8")
    config = load_config(written)
    assert (config.script.path, config.script.folder, config.script.args, config.seed) == (  # type: ignore[union-attr]
        (tmp_path / "project" / "train.py").resolve(),
        (tmp_path / "project").resolve(),
        ("--lr", "1"),
        3,
    )
