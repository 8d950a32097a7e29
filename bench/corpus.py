"""rnndoctor on the real-code corpus (tests/realworld/): top-1 on broken setups, false alarms on healthy ones
and the time of each run.

    python bench/corpus.py                 # every setup, a table and the totals
    python bench/corpus.py word_lm char_lm # only these folders
    python bench/corpus.py --output bench/results/corpus.json
    python bench/corpus.py --corpus tests/holdout  # the held-out setups
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.corpus import CORPUS, Outcome, cases, run  # noqa: E402


def summarize(outcomes: list[Outcome]) -> dict[str, object]:
    broken = [o for o in outcomes if not o.case.healthy]
    healthy = [o for o in outcomes if o.case.healthy]
    false_errors = sum(1 for o in healthy for c, s in o.codes if s == "error")
    false_warnings = sum(1 for o in healthy for c, s in o.codes if s == "warning" and c not in o.case.allow)
    allowed = sum(1 for o in healthy for c, s in o.codes if s == "warning" and c in o.case.allow)
    times = [o.seconds for o in outcomes]
    return {
        "broken_top1": f"{sum(o.passed for o in broken)}/{len(broken)}",
        "healthy_clean": f"{sum(o.passed for o in healthy)}/{len(healthy)}",
        "false_errors": false_errors,
        "false_warnings": false_warnings,
        "allowed_warnings": allowed,
        "median_seconds": round(statistics.median(times), 2) if times else None,
        "max_seconds": round(max(times), 2) if times else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", help="only these corpus folders")
    parser.add_argument("--output", type=Path, help="write the outcomes as JSON here")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="a folder of twinned setups (tests/holdout)")
    args = parser.parse_args()
    selected = [c for c in cases(args.corpus) if not args.folders or c.config.parent.name in args.folders]
    outcomes = []
    for case in selected:
        outcome = run(case)
        outcomes.append(outcome)
        mark = "ok  " if outcome.passed else "MISS"
        found = ", ".join(f"{c}({s[0]})" for c, s in outcome.codes) or "-"
        print(f"{mark} {case.name:52} expect {case.expect:8} {outcome.seconds:6.1f}s  {found}", flush=True)
    summary = summarize(outcomes)
    print(json.dumps(summary, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {"case": o.case.name, "expect": o.case.expect, "codes": o.codes, "seconds": o.seconds, "passed": o.passed}
            for o in outcomes
        ]
        args.output.write_text(json.dumps({"summary": summary, "cases": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
