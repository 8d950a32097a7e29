"""rnndoctor's script mode on the corpus of upstream training scripts (tests/scripts/): each case's healthy
script and its planted-bug twins run as `rnndoctor check SCRIPT -- ARGS`, scored like the config corpora:
the expected cause first on a broken twin, nothing at warning or above on a healthy one. Also the time
split: the script's start-up (per run) against the whole diagnosis.

    python bench/script_corpus.py                                   # every case, a table and the totals
    python bench/script_corpus.py makemore_gru                      # only these cases
    python bench/script_corpus.py --output bench/results/script_corpus.json

The upstream files come from the local cache tests/scripts/cases.py fills from fetched snapshots (they are
not committed); a case whose files are missing is listed as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "scripts"))
import cases as corpus  # noqa: E402


@dataclass
class Row:
    case: str
    bug: str | None
    held_out: bool
    expected: str | None
    acceptable: list[str]
    findings: list[tuple[str, str]] = field(default_factory=list)
    exit_code: int | None = None
    seconds: float = 0.0
    startup_s: float | None = None
    runs: int | None = None
    steps_run: int | None = None
    error: str | None = None

    @property
    def first(self) -> str | None:
        return self.findings[0][0] if self.findings else None

    @property
    def passed(self) -> bool:
        if self.error is not None:
            return False
        if self.bug is None:
            return not any(severity in ("error", "warning") for _, severity in self.findings)
        return self.first == self.expected


def diagnose(case: Any, bug: str | None, folder: Path) -> Row:
    meta = case.bugs[bug] if bug else None
    row = Row(
        case.name,
        bug,
        case.held_out,
        meta.expected_first if meta else None,
        list(meta.also_acceptable) if meta else [],
    )
    corpus.materialize(case, bug, folder)
    command = [sys.executable, "-m", "rnndoctor", "check", case.script, "--format", "json", "--no-progress", "--"]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, *case.args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **case.env, "OMP_NUM_THREADS": "1"},
    )
    row.seconds = round(time.perf_counter() - started, 1)
    row.exit_code = result.returncode
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        row.error = (result.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return row
    row.findings = [(f["code"], f["severity"]) for f in report["findings"]]
    script = report.get("meta", {}).get("script", {})
    row.startup_s, row.runs, row.steps_run = script.get("startup_s"), script.get("runs"), script.get("steps_run")
    return row


def summarize(rows: list[Row]) -> dict[str, Any]:
    def score(selected: list[Row]) -> dict[str, Any]:
        broken = [r for r in selected if r.bug is not None]
        healthy = [r for r in selected if r.bug is None]
        return {
            "broken_top1": f"{sum(r.passed for r in broken)}/{len(broken)}",
            "healthy_clean": f"{sum(r.passed for r in healthy)}/{len(healthy)}",
            "false_errors": sum(1 for r in healthy for _, s in r.findings if s == "error"),
            "false_warnings": sum(1 for r in healthy for _, s in r.findings if s == "warning"),
        }

    return {
        "all": score(rows),
        "tuned_on": score([r for r in rows if not r.held_out]),
        "held_out": score([r for r in rows if r.held_out]),
        "seconds_total": round(sum(r.seconds for r in rows), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--output", type=Path, help="write the rows and totals as JSON here")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for case in corpus.cases():
        if args.cases and case.name not in args.cases:
            continue
        for bug in [None, *case.bugs]:
            with tempfile.TemporaryDirectory(prefix="rnndoctor-script-corpus-") as folder:
                try:
                    row = diagnose(case, bug, Path(folder) / case.name)
                except corpus.MissingUpstream as exc:
                    row = Row(case.name, bug, case.held_out, None, [], error=f"upstream file missing: {exc}")
            rows.append(row)
            mark = "ok  " if row.passed else "MISS"
            got = row.error or " ".join(f"{c}:{s[0]}" for c, s in row.findings) or "-"
            print(
                f"{mark} {case.name:36s} {bug or 'healthy':24s} expected {row.expected or 'clean':6s} got {got} "
                f"({row.seconds:.0f} s, start-up {row.startup_s} s x {row.runs} runs)",
                flush=True,
            )
    totals = summarize(rows)
    print(json.dumps(totals, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"totals": totals, "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
