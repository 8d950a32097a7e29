"""rnndoctor's cost, side by side with the training steps it stands for and with other LR finders.

    python bench/run.py              # every number in RESULTS.md: the tables below, then lr_heuristics.py and trust.py
    python bench/run.py --cost-only  # only the tables below (about 10 minutes on 2 CPU cores)
    python bench/run.py --smoke      # small sizes, one repeat: checks that the harness runs (CI)

Tables: (1) overhead of a diagnosis vs the same number of bare forward/backward passes, (2) the LR sweep vs
torch-lr-finder's range_test and Lightning's Tuner.lr_find on the same model, data, optimizer and steps,
(3) scaling with dataset size, sequence length, hidden size and vocabulary (time, peak memory, passes per
check), (4) command-line wall time on the bundled
examples (interpreter start-up and torch import included), --quick vs full. Writes bench/results/run.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from competitors import quiet_trainer  # noqa: E402
from tasks import Classifier, Tagger, drift_classes  # noqa: E402

from rnndoctor import diagnose  # noqa: E402


def setup(samples: int = 512, steps: int = 16, hidden: int = 32, seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    x, y = drift_classes(samples, 2, seed=seed + 1, steps=steps)
    model = Classifier(nn.LSTM, 4, hidden, 2)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    return {
        "model": model,
        "train_data": loader,
        "loss": nn.CrossEntropyLoss(),
        "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3),
    }


def bare_passes(parts: dict[str, Any], forwards: int, backwards: int) -> float:
    """Seconds for ``backwards`` training steps plus the remaining forward-only passes, on the same data."""
    model = copy.deepcopy(parts["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = parts["loss"]
    batches = [b for _, b in zip(range(16), parts["train_data"], strict=False)]
    started = time.perf_counter()
    for step in range(backwards):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        for step in range(max(forwards - backwards, 0)):
            x, _ = batches[step % len(batches)]
            model(x)
    return time.perf_counter() - started


def overhead(repeats: int, hidden: int, steps: int) -> dict[str, Any]:
    """At a model size where a pass costs about a millisecond or more, so timer noise does not decide it."""
    diagnose(**setup(hidden=hidden, steps=steps), select=["RD1"])  # warm up imports and kernels
    rows = []
    for _ in range(repeats):
        parts = setup(hidden=hidden, steps=steps)
        report = diagnose(**parts)
        t = report.timing
        bare = bare_passes(setup(hidden=hidden, steps=steps), t.forward_passes, t.backward_passes)
        rows.append(
            {
                "diagnosis_s": t.total_seconds,
                "forward": t.forward_passes,
                "backward": t.backward_passes,
                "bare_s": bare,
                "ratio": t.total_seconds / bare,
            }
        )
    best = min(rows, key=lambda r: r["ratio"])
    return {"runs": rows, "best": best, "median_ratio": sorted(r["ratio"] for r in rows)[len(rows) // 2]}


def sweep_rnndoctor(parts: dict[str, Any], steps: int) -> tuple[float, bool]:
    before = {k: v.clone() for k, v in parts["model"].state_dict().items()}
    started = time.perf_counter()
    diagnose(**parts, select=["RD501"], checks={"lr_sweep": {"steps": steps}})
    seconds = time.perf_counter() - started
    restored = all(torch.equal(before[k], v) for k, v in parts["model"].state_dict().items())
    return seconds, restored


def sweep_torch_lr_finder(parts: dict[str, Any], steps: int) -> tuple[float, bool] | None:
    try:
        from torch_lr_finder import LRFinder
    except ImportError:
        return None
    model, optimizer = parts["model"], torch.optim.Adam(parts["model"].parameters(), lr=1e-7)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    started = time.perf_counter()
    finder = LRFinder(model, optimizer, parts["loss"], device="cpu")
    finder.range_test(parts["train_data"], start_lr=1e-7, end_lr=10, num_iter=steps, diverge_th=5)
    finder.reset()  # without this the model keeps the sweep's weights
    seconds = time.perf_counter() - started
    restored = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    return seconds, restored


def sweep_lightning(parts: dict[str, Any], steps: int) -> tuple[float, bool] | None:
    try:
        import lightning.pytorch as pl
        from lightning.pytorch.tuner import Tuner
    except ImportError:
        return None
    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    class Module(pl.LightningModule):  # type: ignore[misc]
        def __init__(self, inner: nn.Module, loss: nn.Module) -> None:
            super().__init__()
            self.inner, self.loss, self.lr = inner, loss, 1e-3

        def training_step(self, batch: Any, _: int) -> torch.Tensor:
            x, y = batch
            return self.loss(self.inner(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    module = Module(parts["model"], parts["loss"])
    before = {k: v.clone() for k, v in parts["model"].state_dict().items()}
    with tempfile.TemporaryDirectory() as folder:
        trainer = quiet_trainer(folder)
        started = time.perf_counter()
        Tuner(trainer).lr_find(
            module, train_dataloaders=parts["train_data"], min_lr=1e-7, max_lr=10, num_training=steps
        )
        seconds = time.perf_counter() - started
    restored = all(torch.equal(before[k], v) for k, v in parts["model"].state_dict().items())
    return seconds, restored


SWEEPS = {"rnndoctor": sweep_rnndoctor, "torch-lr-finder": sweep_torch_lr_finder, "lightning": sweep_lightning}


def anchors(steps: int, repeats: int) -> dict[str, Any]:
    """Each finder's sweep timed inside one process (after a warm-up) and as a whole process of its own
    (interpreter, imports and set-up included, as a user running it meets it); best of ``repeats``."""
    results: dict[str, Any] = {}
    for name, run in SWEEPS.items():
        times, restored = [], True
        for _ in range(repeats):
            outcome = run(setup(samples=3200), steps)
            if outcome is None:
                break
            times.append(outcome[0])
            restored = restored and outcome[1]
        if not times:
            results[name] = None
            continue
        whole = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--sweep-process", name, "--sweep-steps", str(steps)],
                capture_output=True,
                check=True,
                cwd=ROOT,
            )
            whole.append(time.perf_counter() - started)
        results[name] = {"seconds": min(times), "process_seconds": min(whole), "state_restored": restored}
    base = results["rnndoctor"]
    for name in ("torch-lr-finder", "lightning"):
        if results[name]:
            results[name]["rnndoctor_ratio"] = base["seconds"] / results[name]["seconds"]
            results[name]["rnndoctor_process_ratio"] = base["process_seconds"] / results[name]["process_seconds"]
    return results


def language_model_setup(vocab: int, seed: int = 0) -> dict[str, Any]:
    """A word-level LSTM language model (embedding 64, hidden 128, 32 steps) over ``vocab`` tokens."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(0, vocab, (512, 33), generator=generator)
    model = Tagger(vocab, vocab, 128)
    loader = DataLoader(TensorDataset(tokens[:, :-1], tokens[:, 1:]), batch_size=32)
    return {
        "model": model,
        "train_data": loader,
        "loss": nn.CrossEntropyLoss(),
        "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3),
    }


SCALING = {
    "dataset_size": ("samples", [512, 8192, 131072], [512, 4096]),
    "sequence_length": ("steps", [16, 64, 256], [16, 32]),
    "hidden_size": ("hidden", [32, 128, 512], [32, 64]),
    "vocabulary": ("vocab", [1000, 4000, 16000], [100, 200]),
}
"""Each scaling dimension: the setup argument it varies, the full-run values and the smoke values."""


def scaling_row(argument: str, value: int, quick: bool = False) -> dict[str, Any]:
    """One full (or --quick) diagnosis in this process: time, passes in total and per check, peak memory.
    Run in a fresh process (`--row`) so that the peak memory is this row's alone."""
    parts = language_model_setup(value) if argument == "vocab" else setup(**{argument: value})
    started = time.perf_counter()
    report = diagnose(**parts, quick=quick)
    seconds = time.perf_counter() - started
    t = report.timing
    return {
        argument: value,
        "seconds": seconds,
        "forward": t.forward_passes,
        "backward": t.backward_passes,
        "ms_per_pass": 1000 * seconds / max(t.forward_passes + t.backward_passes, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "passes_per_check": {
            c.name: [c.metrics.get("forward_passes", 0), c.metrics.get("backward_passes", 0)] for c in report.checks
        },
    }


def _row_in_child(argument: str, value: int, quick: bool = False) -> dict[str, Any]:
    command = [sys.executable, __file__, "--row", f"{argument}={value}"] + (["--row-quick"] if quick else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def scaling(smoke: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for dimension, (argument, values, smoke_values) in SCALING.items():
        result[dimension] = [_row_in_child(argument, v) for v in (smoke_values if smoke else values)]
    result["profiles"] = {
        "quick": _row_in_child("samples", 512, quick=True),
        "full": _row_in_child("samples", 512),
    }
    return result


FLOOR = "import torch; torch.optim.Adam(torch.nn.LSTM(4, 32).parameters(), lr=1e-3)"
"""What any run of a user's setup pays before rnndoctor does anything: the torch import, and building an
optimizer, which imports torch._dynamo (torch wraps Optimizer.add_param_group with a lazy dynamo guard)."""


def floor_seconds(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def cli_wall_times(smoke: bool) -> list[dict[str, Any]]:
    examples = (
        ["healthy_lstm", "label_collapse"]
        if smoke
        else sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "config.yaml").is_file())
    )
    rows = []
    for name in examples:
        row: dict[str, Any] = {"example": name}
        for profile, flags in (("quick", ["--quick"]), ("full", [])):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "rnndoctor",
                    "check",
                    str(ROOT / "examples" / name / "config.yaml"),
                    "--no-progress",
                    "--format",
                    "json",
                    *flags,
                ],
                capture_output=True,
                check=False,
            )
            row[f"{profile}_s"] = time.perf_counter() - started
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--row-quick", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sweep-process", choices=list(SWEEPS), help=argparse.SUPPRESS)
    parser.add_argument("--sweep-steps", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "run.json"))
    parser.add_argument(
        "--cost-only", action="store_true", help="only this script's tables, not lr_heuristics.py and trust.py"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.sweep_process:
        SWEEPS[args.sweep_process](setup(samples=3200), args.sweep_steps)
        return
    if args.row:
        argument, value = args.row.split("=")
        print(json.dumps(scaling_row(argument, int(value), args.row_quick), default=_finite))
        return
    repeats = 1 if args.smoke else 5
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU core(s), torch {torch.__version__}",
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, cwd=ROOT
        ).stdout.strip(),
        "overhead": overhead(repeats, hidden=32 if args.smoke else 128, steps=16 if args.smoke else 32),
        "anchors": anchors(20 if args.smoke else 100, repeats),
        "scaling": scaling(args.smoke),
        "cli": cli_wall_times(args.smoke),
        "floor_s": floor_seconds(1 if args.smoke else 3),
    }
    print_tables(result)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, default=_finite))
    if not (args.smoke or args.cost_only):
        for script in (["lr_heuristics.py"], ["trust.py", "load"], ["trust.py", "size"]):
            print(f"\n$ python bench/{' '.join(script)}", flush=True)
            subprocess.run([sys.executable, str(ROOT / "bench" / script[0]), *script[1:]], check=True, cwd=ROOT)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def print_tables(r: dict[str, Any]) -> None:
    o = r["overhead"]["best"]
    print(
        f"overhead: diagnosis {o['diagnosis_s']:.2f} s for {o['forward']} forward / {o['backward']} backward "
        f"passes; the same bare passes {o['bare_s']:.2f} s; ratio {o['ratio']:.2f} (median "
        f"{r['overhead']['median_ratio']:.2f})"
    )
    print("\nLR sweep, same model/data/optimizer/steps:")
    for name, row in r["anchors"].items():
        if row:
            extra = (
                f"  rnndoctor/this = {row['rnndoctor_ratio']:.2f} in-process, "
                f"{row['rnndoctor_process_ratio']:.2f} whole process"
                if "rnndoctor_ratio" in row
                else ""
            )
            print(
                f"  {name:16s} {row['seconds']:.2f} s in-process, {row['process_seconds']:.2f} s whole process  "
                f"state restored: {row['state_restored']}{extra}"
            )
        else:
            print(f"  {name:16s} not installed")
    print("\nscaling (full diagnosis, one torch thread, each row in a fresh process):")
    for dimension, (argument, _, _) in SCALING.items():
        for row in r["scaling"][dimension]:
            print(
                f"  {dimension:16s} {row[argument]:>7}  {row['seconds']:6.2f} s  {row['forward']}/{row['backward']} "
                f"passes  {row['ms_per_pass']:.2f} ms/pass  peak {row['peak_rss_mb']:.0f} MB"
            )
    for profile, row in r["scaling"]["profiles"].items():
        print(f"  profile {profile:8s} {row['seconds']:.2f} s  {row['forward']}/{row['backward']} passes")
    print("\npasses per check (forward/backward), hidden 128:")
    row = next((x for x in r["scaling"]["hidden_size"] if x["hidden"] == 128), r["scaling"]["hidden_size"][-1])
    for name, (forward, backward) in row["passes_per_check"].items():
        print(f"  {name:16s} {forward:>4}/{backward}")
    print("\ncommand line, wall time incl. interpreter start-up and torch import:")
    print(f"  floor (python -c 'import torch; build an Adam optimizer'): {r['floor_s']:.2f} s")
    for row in r["cli"]:
        print(
            f"  {row['example']:18s} --quick {row['quick_s']:.2f} s "
            f"(rnndoctor's share {row['quick_s'] - r['floor_s']:.2f})   full {row['full_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
