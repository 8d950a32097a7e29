"""How often the top finding's fix is verified on the user's model, and what verification costs.

Every broken setup of the corpora (tests/realworld, tests/holdout, tests/families) and every example is
diagnosed twice in the same process, with and without `verify_fixes`; the table gives the top finding, the
outcome of its fix and both run times.

    python bench/verification.py                      # all corpora and the examples
    python bench/verification.py --corpus tests/holdout
    python bench/verification.py --output bench/results/verification.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.corpus import CORPUS, HOLDOUT, Case, cases  # noqa: E402

FAMILIES = ROOT / "tests" / "families"
EXAMPLES = ROOT / "examples"


@dataclass
class Row:
    name: str
    healthy: bool
    top: str | None
    top_accepted: bool
    outcome: str
    """improved, no effect, not applicable, not tried (no automatic fix), none (no finding)."""
    seconds: float
    seconds_without: float


def example_cases() -> list[Case]:
    found = []
    for config in sorted(EXAMPLES.glob("*/config.yaml")):
        first = config.read_text(encoding="utf-8").splitlines()[0]
        expect = next((word.strip(".,:;()") for word in first.split() if word.startswith("RD")), "healthy")
        found.append(Case(config, expect))
    return found


def measure(case: Case) -> Row:
    from rnndoctor import diagnose

    started = time.perf_counter()
    report = diagnose(case.config, device="cpu")
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    diagnose(case.config, device="cpu", verify=False)
    without = time.perf_counter() - started
    top = report.findings[0] if report.findings else None
    if top is None:
        outcome = "none"
    elif top.verified is None:
        outcome = "not tried"
    elif not top.verified.get("applied"):
        outcome = "not applicable"
    else:
        outcome = "improved" if top.verified.get("improved") else "no effect"
    name = f"{case.config.parent.name}/{case.config.stem}"
    accepted = case.healthy or (top is not None and case.accepts(top.code))
    return Row(name, case.healthy, top.code if top else None, accepted, outcome, seconds, without)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, action="append", help="only these corpora (repeatable)")
    parser.add_argument("--no-examples", action="store_true", help="leave the bundled examples out")
    parser.add_argument("--output", type=Path, help="write the rows and totals as JSON here")
    args = parser.parse_args()
    corpora = args.corpus or [CORPUS, HOLDOUT, FAMILIES]
    selected = [case for corpus in corpora if corpus.exists() for case in cases(corpus)]
    if not args.no_examples:
        selected += example_cases()
    rows = []
    for case in selected:
        row = measure(case)
        rows.append(row)
        print(
            f"{row.name:45} {'healthy' if row.healthy else case.expect:8} top {row.top or '-':6} "
            f"{'ok ' if row.top_accepted else 'MISS'} {row.outcome:15} {row.seconds:5.1f}s "
            f"(without {row.seconds_without:.1f}s)",
            flush=True,
        )
    broken = [r for r in rows if not r.healthy]
    improved = sum(r.outcome == "improved" for r in broken)
    added = [r.seconds - r.seconds_without for r in rows]
    summary = {
        "broken": len(broken),
        "top_verified_improved": improved,
        "top_verified_share": round(improved / len(broken), 3) if broken else None,
        "top_outcomes": {o: sum(r.outcome == o for r in broken) for o in sorted({r.outcome for r in broken})},
        "top1_accepted": sum(r.top_accepted for r in broken),
        "healthy_with_findings_verified": sum(r.outcome == "improved" for r in rows if r.healthy),
        "median_added_seconds": round(statistics.median(added), 2) if added else None,
        "max_added_seconds": round(max(added), 2) if added else None,
        "max_seconds_examples": round(max((r.seconds for r in rows if "config" in r.name), default=0.0), 2),
    }
    print(json.dumps(summary, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {"summary": summary, "rows": [r.__dict__ for r in rows]}
        args.output.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
