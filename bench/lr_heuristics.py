"""How good is each learning-rate suggestion? rnndoctor against the other finders and the candidate rules.

For every task of bench/tasks.py:

1. **ground truth**: training runs at each rate of a quarter-decade grid (1e-5 ... 100), several seeds; the
   score of a rate is the mean loss over the last steps, averaged over seeds, and the grid-best rate has the
   lowest score. Cached in bench/results/lr_grid.json (keyed by task and settings), so a rerun only sweeps.
2. **rnndoctor**: the real `lr_sweep` check (through `rnndoctor.diagnose`) on several seeds, its suggestion, and
   every candidate rule of bench/lr_candidates.py applied to the same curves.
3. **the other finders**, each through its own library with its defaults (bench/competitors.py).

Each suggestion is scored by its distance in decades to the grid-best rate and by its **regret**: the loss at
the suggestion (interpolated in log-rate between grid points; trained directly outside the grid) over the best
grid loss, minus one. A **hit** is a regret of 10 % or less. A finder that gives no suggestion scores a miss.
Results are reported per split: the selection tasks (rnndoctor's rule was chosen on them) and the evaluation
tasks (written after the choice, never used to tune anything).

    python bench/lr_heuristics.py                       # every task (grid cached after the first run)
    python bench/lr_heuristics.py --split evaluation    # one split
    python bench/lr_heuristics.py --smoke               # two tasks, coarse grid, one seed: CI checks that it runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from competitors import FINDERS
from lr_candidates import CANDIDATES
from tasks import Task, all_tasks

from rnndoctor import diagnose
from rnndoctor.runtime import lr_heuristics

RESULTS = Path(__file__).with_name("results")
HIT_REGRET = 0.10


def rnndoctor_sweep(task: Task, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = task.model()
    optimizer = task.optimizer(model.parameters(), lr=1e-3, **task.optimizer_args)
    started = time.perf_counter()
    report = diagnose(
        model=model, train_data=task.batches, loss=task.loss(), optimizer=optimizer, select=["RD501"], seed=seed
    )
    seconds = time.perf_counter() - started
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    curves = [
        [(x, y) for x, y in zip(figure["x"], figure["y"], strict=True) if y is not None]
        for figure in sweep.metrics.get("plots", [])
    ]
    return {
        "suggestion": sweep.metrics.get("suggested_lr"),
        "seconds": seconds,
        "status": sweep.status,
        "curve": curves[0] if curves else [],
        "refined": len(curves) > 1,
    }


def train_loss(task: Task, lr: float, steps: int, seed: int, tail: int) -> float:
    torch.manual_seed(seed)
    model = task.model()
    optimizer = task.optimizer(model.parameters(), lr=lr, **task.optimizer_args)
    loss_fn = task.loss()
    model.train()
    losses = []
    for step in range(steps):
        value = task.train_step(model, optimizer, loss_fn, task.batches[step % len(task.batches)])
        if not math.isfinite(value):
            return math.inf
        losses.append(value)
    return float(np.mean(losses[-tail:]))


def mean_loss(task: Task, lr: float, settings: dict[str, Any]) -> float:
    steps = task.grid_steps or settings["steps"]
    values = [train_loss(task, lr, steps, seed, max(1, steps // 5)) for seed in settings["seeds"]]
    return float(np.mean(values)) if all(map(math.isfinite, values)) else math.inf


def ground_truth(task: Task, settings: dict[str, Any], cache: dict[str, Any]) -> dict[str, float]:
    key = f"{task.name}|{task.grid_steps or settings['steps']}|{settings['seeds']}|{len(settings['grid'])}"
    if key not in cache:
        cache[key] = {f"{lr:.4g}": mean_loss(task, lr, settings) for lr in settings["grid"]}
    scores: dict[str, float] = cache[key]
    return scores


def loss_at(
    lr: float, scores: dict[str, float], task: Task, settings: dict[str, Any], extra: dict[str, float]
) -> float:
    rates = sorted(float(k) for k in scores)
    logs = np.log10(rates)
    values = [scores[f"{r:.4g}"] for r in rates]
    x = math.log10(lr)
    if x < logs[0] - 1e-9 or x > logs[-1] + 1e-9:
        key = f"{lr:.4g}"
        if key not in extra:
            extra[key] = mean_loss(task, lr, settings)
        return extra[key]
    i = int(np.searchsorted(logs, x))
    if i == 0 or abs(logs[i] - x) < 1e-9:
        return values[i]
    low, high = values[i - 1], values[i]
    if not (math.isfinite(low) and math.isfinite(high)):
        return math.inf
    weight = (x - logs[i - 1]) / (logs[i] - logs[i - 1])
    return float(low + weight * (high - low))


def score(suggestion: float | None, best_lr: float, best_loss: float, at: Any) -> dict[str, Any]:
    if suggestion is None or not suggestion > 0:
        return {"suggestion": None, "decades": None, "regret": None, "hit": False}
    loss = at(suggestion)
    regret = loss / best_loss - 1 if math.isfinite(loss) and best_loss > 0 else math.inf
    return {
        "suggestion": suggestion,
        "decades": lr_heuristics.decades(suggestion, best_lr),
        "regret": regret,
        "hit": regret <= HIT_REGRET,
    }


def summary(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    scored = [r["scores"][name] for r in rows if name in r["scores"]]
    per_task = [
        {
            "decades": _mean([s["decades"] for s in task_scores if s["decades"] is not None]),
            "regret": _median([s["regret"] for s in task_scores if s["regret"] is not None]),
            "missing": sum(s["suggestion"] is None for s in task_scores),
            "hits": sum(s["hit"] for s in task_scores) / max(len(task_scores), 1),
        }
        for task_scores in scored
    ]
    decades = [t["decades"] for t in per_task if t["decades"] is not None]
    regrets = [t["regret"] if t["regret"] is not None else math.inf for t in per_task]
    return {
        "tasks": len(per_task),
        "mean_decades": _mean(decades),
        "median_regret": _median(regrets),
        "hit_rate": _mean([t["hits"] for t in per_task]),
        "missing": sum(t["missing"] for t in per_task),
        "runs": sum(len(s) for s in scored),
    }


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _median(values: list[float]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(statistics.median(kept)) if kept else None


def run_task(task: Task, settings: dict[str, Any], cache: dict[str, Any]) -> dict[str, Any]:
    scores_of_grid = ground_truth(task, settings, cache)
    best_key = min(scores_of_grid, key=lambda k: scores_of_grid[k])
    best_lr, best_loss = float(best_key), scores_of_grid[best_key]
    extra: dict[str, float] = {}

    def at(lr: float) -> float:
        return loss_at(lr, scores_of_grid, task, settings, extra)

    scores: dict[str, list[dict[str, Any]]] = {}
    curves: list[list[tuple[float, float]]] = []
    seconds: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    for seed in settings["sweep_seeds"]:
        sweep = rnndoctor_sweep(task, seed)
        scores.setdefault("rnndoctor", []).append(score(sweep["suggestion"], best_lr, best_loss, at))
        seconds.setdefault("rnndoctor", []).append(sweep["seconds"])
        curves.append(sweep["curve"])
        lrs = [p[0] for p in sweep["curve"]]
        losses = [p[1] for p in sweep["curve"]]
        for name, candidate in CANDIDATES.items():
            scores.setdefault(f"candidate: {name}", []).append(score(candidate(lrs, losses), best_lr, best_loss, at))
        for name, finder in FINDERS.items():
            if name in settings["skip"]:
                continue
            result = finder(task, seed)
            if result is None:
                continue
            scores.setdefault(name, []).append(score(result.suggestion, best_lr, best_loss, at))
            seconds.setdefault(name, []).append(result.seconds)
            if result.error:
                errors[name] = result.error
    return {
        "task": task.name,
        "split": task.split,
        "description": task.description,
        "hidden": task.hidden,
        "optimizer": task.optimizer.__name__,
        "grid_best": best_lr,
        "grid_best_loss": best_loss,
        "scores": scores,
        "seconds": {k: float(np.mean(v)) for k, v in seconds.items()},
        "errors": errors,
        "extra_points": extra,
        "rnndoctor_curves": curves,
        "grid_scores": scores_of_grid,
    }


def print_table(rows: list[dict[str, Any]], split: str) -> None:
    chosen = [r for r in rows if r["split"] == split]
    if not chosen:
        return
    names = list(dict.fromkeys(name for r in chosen for name in r["scores"]))
    print(f"\n{split} tasks ({len(chosen)}): mean decades | median regret | hit rate | missing suggestions")
    for name in names:
        s = summary(chosen, name)
        print(
            f"  {name:45s} {_fmt(s['mean_decades'])} | {_fmt(s['median_regret'], '.1%')} | "
            f"{_fmt(s['hit_rate'], '.0%')} | {s['missing']}/{s['runs']}"
        )


def markdown(result: dict[str, Any]) -> str:
    """The RESULTS.md tables: per split, every finder and candidate; then rnndoctor and the finders per task."""
    rows = result["tasks"]
    lines: list[str] = []
    for split in ("selection", "evaluation"):
        chosen = [r for r in rows if r["split"] == split]
        if not chosen:
            continue
        lines += [
            f"**{split.capitalize()} tasks ({len(chosen)})**",
            "",
            "| suggestion | mean decades | median regret | hit rate (regret <= 10 %) | runs without a suggestion |",
            "|---|---|---|---|---|",
        ]
        for name in _names(chosen):
            s = summary(chosen, name)
            label = f"**{name}**" if name == "rnndoctor" else name
            lines.append(
                f"| {label} | {_fmt(s['mean_decades'])} | {_fmt(s['median_regret'], '.1%')} | "
                f"{_fmt(s['hit_rate'], '.0%')} | {s['missing']} of {s['runs']} |"
            )
        lines.append("")
    finders = [n for n in ("rnndoctor", *FINDERS) if any(n in r["scores"] for r in rows)]
    lines += [
        "**Per task** (mean decades from the grid-best rate over the seeds; median regret in brackets)",
        "",
        "| split | task | grid-best rate | " + " | ".join(finders) + " |",
        "|---|---|---|" + "---|" * len(finders),
    ]
    for r in rows:
        cells = []
        for name in finders:
            runs = r["scores"].get(name, [])
            decades = _mean([s["decades"] for s in runs if s["decades"] is not None])
            regret = _median([s["regret"] for s in runs if s["regret"] is not None])
            missing = sum(s["suggestion"] is None for s in runs)
            cell = f"{_fmt(decades)} ({_fmt(regret, '.0%')})" if runs else "n/a"
            if missing:
                cell += f", {missing} none"
            if name in r.get("errors", {}):
                cell = "failed: " + r["errors"][name].split(":")[0]
            cells.append(cell)
        lines.append(f"| {r['split']} | {r['task']} | {r['grid_best']:.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return "inf"
    return format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="two tasks, coarse grid, one seed")
    parser.add_argument("--split", choices=("selection", "evaluation", "all"), default="all")
    parser.add_argument("--task", action="append", default=[], help="only these tasks (repeatable)")
    parser.add_argument("--sweep-seeds", type=int, default=3, help="range tests per task and finder")
    parser.add_argument("--skip", action="append", default=[], help="leave a finder out (repeatable)")
    parser.add_argument("--grid-only", action="store_true", help="only compute and cache the ground truth")
    parser.add_argument("--markdown", metavar="JSON", help="print the RESULTS.md tables of an earlier run and exit")
    parser.add_argument("--output", default=str(RESULTS / "lr_heuristics.json"))
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())), end="")
        return
    torch.set_num_threads(1)
    tasks = [t for t in all_tasks() if args.split in ("all", t.split)]
    if args.task:
        tasks = [t for t in tasks if t.name in args.task]
    if args.smoke:
        tasks = [t for t in tasks if t.split == "selection"][:1] + [t for t in tasks if t.split == "evaluation"][:1]
        settings = {"grid": [10 ** (e / 2) for e in range(-10, 5)], "steps": 40, "seeds": [0], "sweep_seeds": [0]}
    else:
        settings = {
            "grid": [10 ** (e / 4) for e in range(-20, 9)],
            "steps": 200,
            "seeds": [0, 1, 2],
            "sweep_seeds": list(range(args.sweep_seeds)),
        }
    settings["skip"] = args.skip
    cache_path = RESULTS / ("lr_grid_smoke.json" if args.smoke else "lr_grid.json")
    cache: dict[str, Any] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    rows = []
    for task in tasks:
        started = time.perf_counter()
        if args.grid_only:
            ground_truth(task, settings, cache)
            _save(cache_path, cache)
            print(f"{task.name}: ground truth in {time.perf_counter() - started:.0f} s", flush=True)
            continue
        row = run_task(task, settings, cache)
        rows.append(row)
        cache = _save(cache_path, cache)
        cells = "  ".join(
            f"{name}={_fmt(_mean([s['decades'] for s in row['scores'][name] if s['decades'] is not None]))}"
            for name in ("rnndoctor", *FINDERS)
            if name in row["scores"]
        )
        print(
            f"{task.split[:4]} {task.name:26s} best={row['grid_best']:.3g}  {cells}  "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    if args.grid_only:
        return
    for split in ("selection", "evaluation"):
        print_table(rows, split)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "machine": machine(),
                "commit": _commit(),
                "threads": torch.get_num_threads(),
                "smoke": args.smoke,
                "settings": {k: v for k, v in settings.items() if k != "grid"} | {"grid": settings["grid"]},
                "summary": {
                    split: {name: summary([r for r in rows if r["split"] == split], name) for name in _names(rows)}
                    for split in ("selection", "evaluation")
                },
                "tasks": rows,
            },
            indent=1,
            default=_json_default,
        )
    )


def _save(path: Path, cache: dict[str, Any]) -> dict[str, Any]:
    """Write the ground-truth cache, keeping what another run (the other split, say) added meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        cache = {**json.loads(path.read_text()), **cache}
    path.write_text(json.dumps(cache, indent=1, default=_json_default))
    return cache


def _names(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(name for r in rows for name in r["scores"]))


def _json_default(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else str(value)


def machine() -> str:
    return f"{platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPU core(s), torch {torch.__version__}"


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
