"""Break the code on purpose and check that the tests notice.

    python tests/mutations.py            # every mutation; exit 1 if one survives or no longer applies
    python tests/mutations.py RD402 lr   # only mutations whose name contains one of these words

Each mutation replaces one snippet of a source file, runs the tests that guard it, and puts the file
back. A mutation the tests do not catch ("survived") means a threshold, a rule or a promise that nothing
checks. CI runs this after the test suite.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
        "rnndoctor/checks/judge_dynamics.py",
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
        "rnndoctor/checks/data.py",
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
        "rnndoctor/core/engine.py",
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
)


def run(mutation: Mutation) -> str:
    path = ROOT / mutation.path
    original = path.read_text(encoding="utf-8")
    if original.count(mutation.old) != 1:
        return "stale (snippet not found once)"
    try:
        path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutation.tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original, encoding="utf-8")
    return (
        "killed" if result.returncode == 1 else "survived" if result.returncode == 0 else f"error {result.returncode}"
    )


def main(words: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not words or any(w.lower() in m.name.lower() for w in words)]
    failures = 0
    for mutation in chosen:
        started = time.perf_counter()
        verdict = run(mutation)
        failures += verdict != "killed"
        print(f"{verdict:>9}  {mutation.name}  ({time.perf_counter() - started:.1f} s)", flush=True)
    print(f"{len(chosen) - failures}/{len(chosen)} mutations killed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
