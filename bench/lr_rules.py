"""How close does each learning-rate suggestion rule land to the best rate found by brute force?

For every task: one rnndoctor range test (the real `lr_sweep` check), every rule applied to that same
curve, and a grid of short training runs (several seeds, averaged) whose lowest final loss defines the
grid-best rate. Prints a table and writes JSON.

    python bench/lr_rules.py                 # full run (a few minutes on 2 CPU cores)
    python bench/lr_rules.py --smoke         # two tasks, coarse grid: a CI-sized check that it runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tasks import Task, all_tasks

from rnndoctor import diagnose, lr_rules


def sweep_curve(task: Task, seed: int) -> tuple[list[float], list[float], float]:
    torch.manual_seed(seed)
    model = task.model()
    optimizer = task.optimizer(model.parameters(), lr=1e-3, **task.optimizer_args)
    started = time.perf_counter()
    report = diagnose(
        model=model, train_data=task.batches, loss=task.loss(), optimizer=optimizer, select=["RD501"], seed=seed
    )
    seconds = time.perf_counter() - started
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    figure = sweep.metrics["plots"][0]
    points = [(x, y) for x, y in zip(figure["x"], figure["y"], strict=True) if y is not None]
    return [p[0] for p in points], [p[1] for p in points], seconds


def training_loss_curve(task: Task, seed: int, steps: int = 100, beta: float = 0.98) -> tuple[list[float], list[float]]:
    """The curve other LR finders record: the loss of the batch just trained on, smoothed with beta=0.98
    (torch-lr-finder's and Lightning's default), stopped once it exceeds 4x its best."""
    torch.manual_seed(seed)
    model = task.model()
    optimizer = task.optimizer(model.parameters(), lr=1e-7, **task.optimizer_args)
    loss_fn = task.loss()
    lrs, smoothed, average, best = [], [], 0.0, math.inf
    for step in range(steps):
        lr = 1e-7 * (1e8) ** (step / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = task.batches[step % len(task.batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        loss.backward()
        optimizer.step()
        average = beta * average + (1 - beta) * value
        smoothed.append(average / (1 - beta ** (step + 1)))
        lrs.append(lr)
        best = min(best, smoothed[-1])
        if step > 10 and smoothed[-1] > 4 * best:
            break
    return lrs, smoothed


def train_loss(task: Task, lr: float, steps: int, seed: int, tail: int) -> float:
    torch.manual_seed(seed)
    model = task.model()
    optimizer = task.optimizer(model.parameters(), lr=lr, **task.optimizer_args)
    loss_fn = task.loss()
    losses = []
    for step in range(steps):
        x, y = task.batches[step % len(task.batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        if not torch.isfinite(loss):
            return math.inf
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses[-tail:]))


def grid_best(task: Task, grid: list[float], steps: int, seeds: list[int], tail: int) -> tuple[float, dict[str, float]]:
    scores = {}
    for lr in grid:
        values = [train_loss(task, lr, steps, seed, tail) for seed in seeds]
        scores[f"{lr:.3g}"] = float(np.mean(values)) if all(map(math.isfinite, values)) else math.inf
    best = min(grid, key=lambda lr: scores[f"{lr:.3g}"])
    return best, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="two tasks and a coarse grid")
    parser.add_argument("--output", default=str(Path(__file__).with_name("results") / "lr_rules.json"))
    parser.add_argument("--sweep-seeds", type=int, default=3, help="range tests per task (rules are scored on each)")
    parser.add_argument("--reuse-grid", metavar="JSON", help="take the grid-best rates from an earlier run's JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = all_tasks()
    if args.smoke:
        tasks = tasks[:2]
        grid = [10 ** (e / 2) for e in range(-10, 1)]
        steps, seeds, tail = 40, [0], 10
    else:
        grid = [10 ** (e / 4) for e in range(-20, 1)]
        steps, seeds, tail = 200, [0, 1, 2], 40
    earlier = {}
    if args.reuse_grid:
        earlier = {row["task"]: row for row in json.loads(Path(args.reuse_grid).read_text())["tasks"]}
    rows: list[dict[str, Any]] = []
    for task in tasks:
        curves = [sweep_curve(task, seed=seed) for seed in range(1 if args.smoke else args.sweep_seeds)]
        if task.name in earlier:
            best, scores = earlier[task.name]["grid_best"], earlier[task.name]["grid_scores"]
        else:
            best, scores = grid_best(task, grid, steps, seeds, tail)
        per_seed = [{name: rule(lrs, losses) for name, rule in lr_rules.RULES.items()} for lrs, losses, _ in curves]
        for seed, suggestions_of_seed in enumerate(per_seed):
            lrs, losses = training_loss_curve(task, seed)
            suggestions_of_seed["steepest on training-loss curve"] = lr_rules.steepest(lrs, losses)
            suggestions_of_seed["valley on training-loss curve"] = lr_rules.valley(lrs, losses)
        suggestions = per_seed[0]
        distances = {name: float(np.mean([lr_rules.decades(s[name], best) for s in per_seed])) for name in per_seed[0]}
        rows.append(
            {
                "task": task.name,
                "description": task.description,
                "grid_best": best,
                "suggestions": suggestions,
                "suggestions_per_seed": per_seed,
                "decades": distances,
                "sweep_seconds": float(np.mean([c[2] for c in curves])),
                "grid_scores": scores,
                "curves": [{"lr": c[0], "smoothed_loss": c[1]} for c in curves],
            }
        )
        cells = "  ".join(
            f"{name}={suggestions[name] or float('nan'):.2g} ({distances[name]:.2f})" for name in per_seed[0]
        )
        print(f"{task.name:20s} best={best:.2g}  {cells}", flush=True)
    names = list(rows[0]["decades"])
    means = {name: float(np.mean([r["decades"][name] for r in rows])) for name in names}
    worst = {name: float(np.max([r["decades"][name] for r in rows])) for name in names}
    print("\nmean distance to grid-best (decades): " + "  ".join(f"{k}={v:.2f}" for k, v in means.items()))
    print("worst distance (decades):             " + "  ".join(f"{k}={v:.2f}" for k, v in worst.items()))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "machine": machine(),
                "commit": _commit(),
                "smoke": args.smoke,
                "grid": grid,
                "grid_steps": steps,
                "seeds": seeds,
                "mean_decades": means,
                "worst_decades": worst,
                "tasks": rows,
            },
            indent=2,
            default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v,
        )
    )


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
