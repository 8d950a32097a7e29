"""Break the code on purpose and check that the tests notice.

    python tests/mutations.py            # every mutation; exit 1 unless at least 95 % are killed and all apply
    python tests/mutations.py RD402 lr   # only mutations whose name contains one of these words

Each mutation replaces one snippet of a source file in a private copy of the repository, runs the tests that
guard it there, and puts the file back. A mutation the tests do not catch ("survived") means a threshold, a rule
or a promise that nothing checks. CI runs this after the test suite.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIMUM = 30
WORKERS = min(2, os.cpu_count() or 1)
"""Mutations tested side by side, each in its own copy of the repository (CI has two cores)."""
"""Mutations the full run must hold (judges, ranking, restore, verification, layout inference, exit codes)."""


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation(
        "buffers not restored (BatchNorm running statistics)",
        "rnndoctor/runtime/state.py",
        "if name in self.buffers and not _same(b, self.buffers[name]):",
        "if False:",
        ("tests/test_trust.py", "-k", "buffers"),
    ),
    Mutation(
        "lr rule replaced by plain steepest",
        "rnndoctor/runtime/lr_heuristics.py",
        "    x, y = _usable(lrs, losses)\n    if len(y) <= SKIP_START + 2:\n        return None\n    lowest = ",
        "    return steepest(lrs, losses)\n    x, y = _usable(lrs, losses)\n    if len(y) <= SKIP_START + 2:\n"
        "        return None\n    lowest = ",
        ("tests/test_boundaries.py",),
    ),
    Mutation(
        "RD402 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "vanishing_ratio: 1.0e-3",
        "vanishing_ratio: 1.0e-5",
        ("tests/test_boundaries.py",),
    ),
    Mutation(
        "RD208 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "max_spectral_radius: 1.5 ",
        "max_spectral_radius: 150 ",
        ("tests/test_boundaries.py",),
    ),
    Mutation(
        "RD403 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "memory_orders: 3.0 ",
        "memory_orders: 300 ",
        ("tests/test_boundaries.py",),
    ),
    Mutation(
        "RD305 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "class_axis_balance: 1.0e-3 ",
        "class_axis_balance: 1.0e-1 ",
        ("tests/test_boundaries.py",),
    ),
    Mutation(
        "RD401 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "exploding_norm: 1000.0 ",
        "exploding_norm: 100000.0 ",
        ("tests/test_boundaries.py",),
    ),
    Mutation(
        "cause graph cycle RD401 <-> RD502",
        "rnndoctor/rules/dynamics/rd502_learning_rate_too_high.py",
        'explains=("RD405", "RD503", "RD504", "RD507"),',
        'explains=("RD401", "RD405", "RD503", "RD504", "RD507"),',
        ("tests/test_causes.py",),
    ),
    Mutation(
        "user text read as rich markup",
        "rnndoctor/render/text.py",
        "            Text(check.detail),",
        "            check.detail,",
        ("tests/test_trust.py", "-k", "user_text"),
    ),
    Mutation(
        "one-shot data read twice",
        "rnndoctor/checks/leakage.py",
        "if not rereadable(session.train_data) or",
        "if False or",
        ("tests/test_trust.py", "-k", "one_shot"),
    ),
    Mutation(
        "facts computed from the asking check's trained model",
        "rnndoctor/runtime/facts.py",
        "        if session.baseline is not None:\n",
        "        if False:\n",
        ("tests/test_trust.py", "-k", "select_does"),
    ),
    Mutation(
        "NO_COLOR left to rich (bold and reverse codes stay)",
        "rnndoctor/render/text.py",
        'plain = os.environ.get("NO_COLOR", "") != ""',
        "plain = False",
        ("tests/test_reports_ci.py", "-k", "no_color"),
    ),
    Mutation(
        "GitHub annotations without the cause's line",
        "rnndoctor/render/github.py",
        'props.append(f"line={line}")',
        "pass",
        ("tests/test_reports_ci.py", "-k", "annotation"),
    ),
    Mutation(
        "every tried fix counts as verified",
        "rnndoctor/checks/verification.py",
        "    if after.error is not None:\n        return False\n    balanced_gain",
        "    return True\n    balanced_gain",
        ("tests/test_verification.py", "-k", "improvement or balanced"),
    ),
    Mutation(
        "verified effect ignored by the ranking",
        "rnndoctor/core/ranking.py",
        "return (-int(severity), -tiers[outcome], -effect,",
        "return (-int(f.severity), 0, 0,",
        ("tests/test_verification.py", "-k", "ranking"),
    ),
    Mutation(
        "images measured along the last axis again",
        "rnndoctor/runtime/modality.py",
        "        return Modality(IMAGES, 3 if channels_last else 1)",
        "        return Modality(IMAGES, 3)",
        ("tests/test_model_families.py", "-k", "modality or raw_pixels"),
    ),
    Mutation(
        "causal probe reads past steps as future",
        "rnndoctor/checks/probes.py",
        "float(mass[: step + 1].sum()), float(mass[step + 1 :].sum())",
        "float(mass[step + 1 :].sum()), float(mass[: step + 1].sum())",
        ("tests/test_model_families.py", "-k", "rd215"),
    ),
    # -- judges: data defaults made 100x less sensitive, and verdicts turned round ---------------------------
    Mutation(
        "RD102 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "imbalance_ratio: 10.0 ",
        "imbalance_ratio: 1000.0 ",
        ("tests/test_boundaries.py", "-k", "data"),
    ),
    Mutation(
        "RD110 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "shift_tvd: 0.15 ",
        "shift_tvd: 15.0 ",
        ("tests/test_boundaries.py", "-k", "data"),
    ),
    Mutation(
        "RD106 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "max_abs_mean: 5.0 ",
        "max_abs_mean: 500.0 ",
        ("tests/test_boundaries.py", "-k", "data"),
    ),
    Mutation(
        "RD108 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "max_padding_share: 0.5 ",
        "max_padding_share: 50.0 ",
        ("tests/test_boundaries.py", "-k", "data"),
    ),
    Mutation(
        "RD111 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "min_leak_share: 0.05 ",
        "min_leak_share: 5.0 ",
        ("tests/test_boundaries.py", "-k", "data"),
    ),
    Mutation(
        "RD503 threshold 100x less sensitive",
        "rnndoctor/defaults.yaml",
        "stuck_share: 0.3 ",
        "stuck_share: 30.0 ",
        ("tests/test_boundaries.py", "-k", "one_batch"),
    ),
    Mutation(
        "RD101 reported on two classes",
        "rnndoctor/rules/data/rd101_single_class.py",
        "or len(stats.counts) != 1:",
        "or len(stats.counts) < 1:",
        ("tests/test_judges.py", "-k", "single_class"),
    ),
    Mutation(
        "RD307 judged beside the loss rule that explains it",
        "rnndoctor/rules/loss/rd307_initial_loss_off_chance.py",
        "@judges(RULE, LossMeasurement, alone=True)",
        "@judges(RULE, LossMeasurement)",
        ("tests/test_boundaries.py", "-k", "initial_loss"),
    ),
    Mutation(
        "judging forgets that an alone judge waits for the others",
        "rnndoctor/core/judging.py",
        "    if not found:\n",
        "    if True:\n",
        ("tests/test_boundaries.py", "-k", "initial_loss"),
    ),
    Mutation(
        "a loss still falling when the steps run out counts as stuck",
        "rnndoctor/measurements/dynamics.py",
        "return self.fitted or self.dropped >= learned_share or self.still_falling",
        "return self.fitted or self.dropped >= learned_share",
        ("tests/test_judge_dynamics.py",),
    ),
    Mutation(
        "chance level ignores an accuracy above the majority share",
        "rnndoctor/measurements/dynamics.py",
        "return near and not falling and not better",
        "return near and not falling",
        ("tests/test_boundaries.py", "-k", "majority"),
    ),
    # -- restore --------------------------------------------------------------------------------------------
    Mutation(
        "an attribute the forward sets lazily is left on the model",
        "rnndoctor/runtime/state.py",
        "for key in [k for k in current if k not in attributes and k not in _MODULE_INTERNALS]:",
        "for key in []:",
        ("tests/test_trust.py", "-k", "lazily"),
    ),
    # -- verification thresholds ----------------------------------------------------------------------------
    Mutation(
        "fitting in fewer steps counts as an improvement however small the gain",
        "rnndoctor/checks/verification.py",
        "return after.steps * 2 <= before.steps",
        "return after.steps < before.steps",
        ("tests/test_verification.py", "-k", "half_the_steps"),
    ),
    # -- ranking --------------------------------------------------------------------------------------------
    Mutation(
        "a crash-derived finding kept beside the measured one",
        "rnndoctor/core/ranking.py",
        "if (finding.from_crash and finding.code in measured) or identity in seen:",
        "if identity in seen:",
        ("tests/test_causes.py", "-k", "crash"),
    ),
    Mutation(
        "a cause whose fix failed still explains a symptom whose fix worked",
        "rnndoctor/core/ranking.py",
        " and not refuted(f, code) and ",
        " and ",
        ("tests/test_causes.py", "-k", "fix_failed"),
    ),
    Mutation(
        "claims that form a cycle are all kept",
        "rnndoctor/core/ranking.py",
        " and not _reaches(edges, code, f.code):",
        ":",
        ("tests/test_causes.py", "-k", "cycle"),
    ),
    Mutation(
        "a warning is raised even when its fix changed nothing",
        "rnndoctor/core/ranking.py",
        ' and finding.fix_outcome != "no_effect":',
        ":",
        ("tests/test_calibration.py", "-k", "fix_changed"),
    ),
    # -- layout inference -----------------------------------------------------------------------------------
    Mutation(
        "layout inference ignores the lengths",
        "rnndoctor/runtime/layout.py",
        "        _from_lengths(inputs, lengths),\n",
        "",
        ("tests/test_layout.py", "-k", "lengths_decide"),
    ),
    # -- exit codes -----------------------------------------------------------------------------------------
    Mutation(
        "Ctrl-C in the user's factory is a setup error (exit 2, not 130)",
        "rnndoctor/setup/loading.py",
        'called sys.exit({exc.code!r})") from None\n        except Exception as exc:',
        'called sys.exit({exc.code!r})") from None\n        except BaseException as exc:',
        ("tests/test_cli.py", "-k", "ctrl_c_while_loading"),
    ),
    Mutation(
        "data without a usable batch gives a verdict (exit 1, not 2)",
        "rnndoctor/core/findings.py",
        "if self.data_unusable or (self.checks and not self.completed_checks):",
        "if self.checks and not self.completed_checks:",
        ("tests/test_hostile_inputs.py", "-k", "loader_yielding_nothing"),
    ),
    Mutation(
        "a check stopped by the safety net leaves the exit code to the findings (no exit 3)",
        "rnndoctor/core/findings.py",
        "if self.timed_out_checks and not self.allow_incomplete:",
        "if False:",
        ("tests/test_cost.py", "-k", "exit_code_of_an_incomplete_run or stopped_by_the_safety_net"),
    ),
    Mutation(
        "--allow-incomplete ignored",
        "rnndoctor/core/findings.py",
        "if self.timed_out_checks and not self.allow_incomplete:",
        "if self.timed_out_checks:",
        ("tests/test_cost.py", "-k", "exit_code_of_an_incomplete_run or allow_incomplete"),
    ),
    Mutation(
        "the check work budget never cuts a loop",
        "rnndoctor/runtime/work.py",
        "if self.budget is None or step_work <= 0 or steps <= minimum:",
        "if True:",
        ("tests/test_cost.py", "-k", "work_budget"),
    ),
    Mutation(
        "closure evaluations not counted against the work budget",
        "rnndoctor/runtime/stepping.py",
        "training_work(session, raw) * max(session.forward_passes - passes, 1)",
        "training_work(session, raw)",
        ("tests/test_cost.py", "-k", "closure_evaluations"),
    ),
    Mutation(
        "the step budget counts the output layer at every position",
        "rnndoctor/runtime/budget.py",
        "    if scoring is None or scoring.disabled:\n        return float(dense * steps * samples)",
        "    if True:\n        return float(dense * steps * samples)",
        ("tests/test_cost.py", "-k", "step_budget_counts"),
    ),
    Mutation(
        "no start and end lines without a terminal",
        "rnndoctor/cli.py",
        "    elif not no_progress and lines:",
        "    elif False:",
        ("tests/test_cost.py", "-k", "without_a_terminal"),
    ),
    Mutation(
        "the progress plan keeps the steps a loop did not take",
        "rnndoctor/runtime/work.py",
        "self.planned -= max(steps - (self.done - started), 0)",
        "self.planned -= 0",
        ("tests/test_cost.py", "-k", "steps_taken_and_planned or untaken_steps"),
    ),
    Mutation(
        "the timeout remedy leaves out the time the planned steps need",
        "rnndoctor/core/engine.py",
        "    if 0 < done < planned:",
        "    if False:",
        ("tests/test_cost.py", "-k", "remedy_names"),
    ),
    Mutation(
        "a loss a million times its start does not end a run",
        "rnndoctor/runtime/stepping.py",
        "EXPLODED = 1e6",
        "EXPLODED = 1e12",
        ("tests/test_cost.py", "-k", "million"),
    ),
    Mutation(
        "evaluation passes read every sample while a subset is scored",
        "rnndoctor/runtime/subsets.py",
        "    cut = session.take(raw, needed) if needed < samples else None",
        "    cut = None",
        ("tests/test_cost.py", "-k", "evaluation_pass"),
    ),
    Mutation(
        "scored_positions: 0 still scores a subset",
        "rnndoctor/runtime/subsets.py",
        "if session.scoring is not None or session.scored_positions <= 0:",
        "if session.scoring is not None:",
        ("tests/test_cost.py", "-k", "scored_positions_0"),
    ),
    Mutation(
        "--fail-on counts only findings above the threshold",
        "rnndoctor/core/findings.py",
        "return [f for f in self.findings if f.severity >= threshold]",
        "return [f for f in self.findings if f.severity > threshold]",
        ("tests/test_cli.py", "-k", "fail_on_warning or label_collapse_exits_1"),
    ),
)


COPIED = ("rnndoctor", "tests", "examples", "docs", "configs", "bench", ".ci", "README.md", "pyproject.toml")
"""What a worker's copy of the repository holds: enough for any test a mutation names."""


def copy_tree(target: Path) -> Path:
    """A private copy of the repository for one worker, so that mutations run side by side without seeing each
    other's changes (the copy comes first on the import path of its test runs)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "results")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, symlinks=True, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target / name)
    return target


def run(mutation: Mutation, root: Path = ROOT) -> str:
    path = root / mutation.path
    original = path.read_text(encoding="utf-8")
    if original.count(mutation.old) != 1:
        return "stale (snippet not found once)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    try:
        path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutation.tests],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original, encoding="utf-8")
    return (
        "killed" if result.returncode == 1 else "survived" if result.returncode == 0 else f"error {result.returncode}"
    )


def stale() -> list[str]:
    """The mutations whose snippet is not found exactly once (the code moved on: update the mutation)."""
    return [m.name for m in MUTATIONS if (ROOT / m.path).read_text(encoding="utf-8").count(m.old) != 1]


def main(words: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not words or any(w.lower() in m.name.lower() for w in words)]
    workers = max(1, min(WORKERS, len(chosen)))
    with tempfile.TemporaryDirectory(prefix="rnndoctor-mutations-") as scratch:
        roots: queue.Queue[Path] = queue.Queue()
        for index in range(workers):
            roots.put(copy_tree(Path(scratch) / f"worker{index}"))

        def attempt(mutation: Mutation) -> str:
            root = roots.get()
            started = time.perf_counter()
            try:
                outcome = run(mutation, root)
            finally:
                roots.put(root)
            print(f"{outcome:>9}  {mutation.name}  ({time.perf_counter() - started:.1f} s)", flush=True)
            return outcome

        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(attempt, chosen))
    failures = sum(outcome != "killed" for outcome in outcomes)
    killed = len(chosen) - failures
    print(f"{killed}/{len(chosen)} mutations killed")
    # At least 95 % killed, none stale, and (for the full run) at least 30 of them: a survivor names a promise
    # nothing tests, a stale one a mutation that no longer breaks anything.
    enough = bool(words) or len(chosen) >= MINIMUM
    return 0 if enough and killed >= 0.95 * len(chosen) and not stale() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
