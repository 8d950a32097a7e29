"""Validate the script corpus by plain training: each case's healthy twin must learn, each planted bug must hurt.

    python tests/scripts/validate.py                 # every case, healthy and every bug
    python tests/scripts/validate.py CASE [BUG ...]  # one case (``healthy`` names the healthy twin)
    python tests/scripts/validate.py --record ...    # also write the numbers into case.yaml

Each run materializes the twin into a temp folder and runs the script there as a plain subprocess
(run_script.py: ``__main__``, the case's ``train_args``, ``env``, OMP_NUM_THREADS=1, MPLBACKEND=Agg), then the
case's measure.py reads the held-out metric. A bug is validated when it crashes, goes non-finite, or loses at
least a quarter of what the healthy twin gained over chance: (broken - healthy) / (chance - healthy) >= 0.25.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases as corpus

RUNNER = Path(__file__).resolve().parent / "run_script.py"
LOST_SHARE = 0.25


def run_twin(case: corpus.Case, bug: str | None, timeout: float) -> dict[str, Any]:
    validation = case.raw.get("validation") or {}
    with tempfile.TemporaryDirectory(prefix=f"rd-validate-{case.name}-") as tmp:
        folder = corpus.materialize(case, bug, Path(tmp) / "run")
        result_file = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            str(RUNNER),
            "--measure",
            str(case.folder / "measure.py"),
            "--result",
            str(result_file),
        ]
        if validation.get("max_backward"):
            cmd += ["--max-backward", str(validation["max_backward"])]
        cmd += [case.script, "--", *case.train_args]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", **case.env}
        start = time.time()
        try:
            done = subprocess.run(
                cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
            tail = (done.stdout + done.stderr)[-1500:]
        except subprocess.TimeoutExpired:
            return {"outcome": "timeout", "metric": None, "seconds": round(time.time() - start, 1)}
        if not result_file.exists():
            return {"outcome": "runner-failed", "metric": None, "tail": tail}
        result = json.loads(result_file.read_text(encoding="utf-8"))
        result["wall_seconds"] = round(time.time() - start, 1)
        result["tail"] = tail
        return result


def lost_share(case: corpus.Case, healthy: float, broken: Any) -> float:
    """Share of the healthy twin's gain over chance that the bug loses (1.0 = back at chance)."""
    chance = float(case.raw["healthy"]["chance"])
    if broken is None or isinstance(broken, str) or not math.isfinite(float(broken)):
        return math.inf
    gain = chance - healthy
    return (float(broken) - healthy) / gain if gain else 0.0


def verdict(case: corpus.Case, healthy: dict[str, Any], broken: dict[str, Any]) -> tuple[bool, str]:
    if broken["outcome"] == "crashed" and broken.get("metric") is None:
        return True, f"crash: {broken.get('error')}"
    if broken["outcome"] == "timeout":
        return False, "timeout"
    if broken.get("nonfinite_losses"):
        return True, f"non-finite loss at {broken['nonfinite_losses']} of {broken['backward_passes']} passes"
    if healthy.get("metric") is None:
        return False, "no healthy metric"
    share = lost_share(case, float(healthy["metric"]), broken.get("metric"))
    crashed = f" (then crashed: {broken.get('error')})" if broken["outcome"] == "crashed" else ""
    return share >= LOST_SHARE, f"lost {share:.0%} of the healthy gain over chance{crashed}"


def _round(v: Any) -> Any:
    return float(f"{v:.4g}") if isinstance(v, float) else v


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", nargs="?")
    parser.add_argument("twins", nargs="*")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--timeout", type=float, default=600)
    opt = parser.parse_args(argv)
    selected = [corpus.load(opt.case)] if opt.case else corpus.cases()
    failures = 0
    for case in selected:
        twins = opt.twins or ["healthy", *case.bugs]
        results: dict[str, dict[str, Any]] = {}
        healthy = run_twin(case, None, opt.timeout)
        results["healthy"] = healthy
        print(
            f"{case.name} healthy: metric={healthy.get('metric')} chance={case.raw['healthy']['chance']} "
            f"({healthy['outcome']}, {healthy.get('backward_passes')} backward, {healthy.get('seconds')} s)"
        )
        if healthy["outcome"] not in ("finished", "stopped") or healthy.get("metric") is None:
            print(healthy.get("tail", ""))
            failures += 1
        for slug in [t for t in twins if t != "healthy"]:
            broken = run_twin(case, slug, opt.timeout)
            results[slug] = broken
            ok, why = verdict(case, healthy, broken)
            failures += not ok
            print(
                f"{case.name} {slug}: metric={broken.get('metric')} ({broken['outcome']}, "
                f"{broken.get('backward_passes')} backward, {broken.get('seconds')} s) -> "
                f"{'VALIDATED' if ok else 'NOT VALIDATED'}: {why}"
            )
            if not ok:
                print(broken.get("tail", ""))
        if opt.record:
            record(case, results)
    return 1 if failures else 0


def record(case: corpus.Case, results: dict[str, dict[str, Any]]) -> None:
    path = case.folder / "case.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    h = results.get("healthy")
    if h is not None:
        raw["healthy"]["metric_value"] = _round(h.get("metric"))
        raw["healthy"]["seconds"] = h.get("seconds")
        raw["healthy"]["backward_passes"] = h.get("backward_passes")
    for slug, r in results.items():
        if slug == "healthy":
            continue
        b = raw["bugs"][slug]
        if r["outcome"] == "crashed":
            b["metric_value"] = f"crash after {r.get('backward_passes')} backward passes: {r.get('error')}" + (
                f" (model at the crash: {_round(r.get('metric'))})" if r.get("metric") is not None else ""
            )
        elif r.get("nonfinite_losses"):
            b["metric_value"] = f"non-finite loss ({r['nonfinite_losses']}/{r['backward_passes']} passes)" + (
                f", metric {_round(r.get('metric'))}" if r.get("metric") is not None else ""
            )
        else:
            b["metric_value"] = _round(r.get("metric"))
        b["seconds"] = r.get("seconds")
        if h is not None:
            b["validated"] = verdict(case, h, r)[0]
    path.write_text(yaml.safe_dump(raw, sort_keys=False, width=110, allow_unicode=True), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
