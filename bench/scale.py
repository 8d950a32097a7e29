"""Cost at real scale (issue 27): a word-level LM at Wikitext-2 size, a 2x1024 LSTM LM, and a scaling table.

    python bench/scale.py wordlm     # the upstream word LM (2x200 LSTM, 33 278 words, bptt 35, batch 20), both twins
    python bench/scale.py big        # a 2x1024 LSTM LM over 30 000 words, 32 x 200 tokens per batch
    python bench/scale.py scaling    # vocabulary 1k -> 50k, hidden 64 -> 1024, sequence 35 -> 400
    python bench/scale.py sweep      # rnndoctor's LR sweep against torch-lr-finder on the Wikitext-2-sized LM
    python bench/scale.py small      # overhead vs bare passes, the sweep on run.py's classifier, --quick, the floor
    python bench/scale.py all        # the five
    python bench/scale.py all --smoke   # the same code paths at small sizes (CI)

Every diagnosis runs as a whole process of its own (`python -m rnndoctor check` on a config, or this script
with --row), one torch thread as rnndoctor chooses it, and reports wall seconds, CPU seconds of the process
(on a machine shared with other work, CPU seconds are the better stand-in for an idle machine's wall time),
peak resident memory, the findings, the exit code and per check the status, seconds, passes and training
steps. The machine's load average is recorded beside every row. Writes bench/results/scale.json.

Targets (issue 27): the word LM <= 60 s full with the same findings as before on both twins; the 2x1024 LM
<= 180 s with no check stopped by the safety net; the diagnosis as a share of one training epoch in the table;
the LR sweep no slower than torch-lr-finder's range test (its library, its defaults: 100 steps up to lr 10) on
the same model, data and optimizer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.json"
WORDLM = ROOT / "bench" / "wordlm"


def load() -> float:
    return os.getloadavg()[0]


def run_process(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``command``; its wall and CPU seconds (children's rusage) and peak memory, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = load()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "peak_rss_mb": round(after.ru_maxrss / 1024),
        "load": [round(load_before, 2), round(load(), 2)],
        "exit_code": done.returncode,
        "stdout": done.stdout,
        "stderr_tail": done.stderr[-2000:],
    }


def summarize(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": doc.get("verdict"),
        "findings": [f"{f['code']} {f['severity']}" for f in doc["findings"]],
        "passes": [doc["timing"]["forward_passes"], doc["timing"]["backward_passes"]],
        "scored_positions": doc.get("meta", {}).get("scored_positions"),
        "step_samples": doc.get("meta", {}).get("step_samples"),
        "work_cuts": doc.get("meta", {}).get("work_cuts"),
        "checks": {
            c["name"]: {
                "status": c["status"],
                "seconds": round(c["seconds"], 1),
                "passes": [c["metrics"].get("forward_passes"), c["metrics"].get("backward_passes")],
                "steps": c["metrics"].get("training_steps"),
                **({"timed_out": True} if c.get("timed_out") else {}),
            }
            for c in doc["checks"]
        },
    }


def check_config(config: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "rnndoctor", "check", str(config), "--format", "json", "--no-progress", *extra]
    measured = run_process(command, env)
    stdout = measured.pop("stdout")
    try:
        measured.update(summarize(json.loads(stdout)))
    except json.JSONDecodeError:
        measured["error"] = measured["stderr_tail"]
    measured.pop("stderr_tail", None)
    return measured


def wordlm(smoke: bool) -> dict[str, Any]:
    """Both twins of the upstream word LM, at Wikitext-2 size (or a 2 000-word smoke size)."""
    rows = {}
    for twin in ("healthy", "broken"):
        config = WORDLM / f"{twin}.yaml"
        if smoke:
            config = _smaller(config)
        rows[twin] = check_config(config)
        print(twin, json.dumps({k: v for k, v in rows[twin].items() if k != "checks"}), flush=True)
    return rows


def _smaller(config: Path) -> Path:
    """The twin's config with a 2 000-word vocabulary, a 64-unit model and 60 000 training tokens (CI)."""
    text = config.read_text(encoding="utf-8")
    text = text.replace("ntokens: 33278, emsize: 200, nhid: 200", "ntokens: 2000, emsize: 64, nhid: 64")
    text = text.replace("bptt: 35}", "bptt: 35, tokens: 60000, vocab: 2000}")
    text = text.replace("bptt: 35, shift: 0}", "bptt: 35, shift: 0, tokens: 60000, vocab: 2000}")
    target = WORDLM / f"smoke-{config.stem}.yaml"  # beside the original: its references are relative
    target.write_text(text, encoding="utf-8")
    return target


# --- in-process rows: a model and data built here, one fresh process per row ------------------------------

ROW = """
import json, resource, sys, time
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

vocab, hidden, layers, steps, batch, batches, mode = json.loads(sys.argv[1])
torch.manual_seed(0)


class WordLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.decode = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.decode(out).reshape(-1, vocab)


ranks = torch.arange(vocab, dtype=torch.float64)
weights = (1.0 / (ranks + 2.7) ** 1.1).float()
generator = torch.Generator().manual_seed(1)
stream = torch.multinomial(weights, batch * batches * (steps + 1), replacement=True, generator=generator)
stream = stream.reshape(batch * batches, steps + 1)


def flat_targets(rows):
    return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows]).reshape(-1)


loader = DataLoader(TensorDataset(stream[:, :-1], stream[:, 1:]), batch_size=batch, collate_fn=flat_targets)
model = WordLM()
optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
loss = nn.CrossEntropyLoss()
torch.set_num_threads(1)
started, cpu = time.perf_counter(), time.process_time()
if mode == "step":
    x, y = next(iter(loader))
    for _ in range(4):  # the first step pays for allocations; the mean of the next three is the step
        if _ == 1:
            started, cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()
    result = {"step_s": (time.perf_counter() - started) / 3, "step_cpu_s": (time.process_time() - cpu) / 3}
else:
    from rnndoctor import diagnose
    report = diagnose(model=model, train_data=loader, loss=loss, optimizer=optimizer)
    result = {
        "seconds": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "exit_code": report.exit_code,
        "findings": [f"{f.code} {f.severity.label}" for f in report.findings],
        "checks": {
            c.name: {
                "status": c.status.value,
                "seconds": round(c.seconds, 1),
                "passes": [c.metrics.get("forward_passes"), c.metrics.get("backward_passes")],
                "steps": c.metrics.get("training_steps"),
                **({"timed_out": True} if c.timed_out else {}),
            }
            for c in report.checks
        },
        "passes": [report.timing.forward_passes, report.timing.backward_passes],
        "step_samples": report.meta.get("step_samples"),
        "scored_positions": report.meta.get("scored_positions"),
        "work_cuts": report.meta.get("work_cuts"),
    }
result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(result))
"""

SWEEP = """
import json, sys, time
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

finder, vocab, hidden, steps, batch = json.loads(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(1)


class WordLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, 2, batch_first=True)
        self.decode = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.decode(out).reshape(-1, vocab)


weights = (1.0 / (torch.arange(vocab, dtype=torch.float64) + 2.7) ** 1.1).float()
generator = torch.Generator().manual_seed(1)
stream = torch.multinomial(weights, batch * 16 * (steps + 1), replacement=True, generator=generator)
stream = stream.reshape(batch * 16, steps + 1)
loader = DataLoader(
    TensorDataset(stream[:, :-1], stream[:, 1:]),
    batch_size=batch,
    collate_fn=lambda rows: (torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows]).reshape(-1)),
)
model, loss = WordLM(), nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-7)
started = time.perf_counter()
if finder == "torch-lr-finder":
    from torch_lr_finder import LRFinder

    lr_finder = LRFinder(model, optimizer, loss, device="cpu")
    lr_finder.range_test(loader, end_lr=10, num_iter=100)
    lr_finder.reset()
    result = {"sweep_s": time.perf_counter() - started, "steps": len(lr_finder.history["lr"])}
else:
    from rnndoctor import diagnose

    report = diagnose(model=model, train_data=loader, loss=loss, optimizer=optimizer, select=["RD501"])
    sweep = next(c for c in report.checks if c.name == "lr_sweep")
    result = {
        "sweep_s": time.perf_counter() - started,
        "check_s": sweep.seconds,
        "steps": sweep.metrics.get("training_steps"),
        "passes": [report.timing.forward_passes, report.timing.backward_passes],
    }
print(json.dumps(result))
"""


def sweep(smoke: bool) -> dict[str, Any]:
    """rnndoctor's LR sweep (a diagnosis selecting RD501: the sweep and what it needs) against
    torch-lr-finder's range test with its defaults, each in a fresh process, on a 2x200 LSTM LM over the
    Wikitext-2-sized vocabulary (bptt 35, batch 20); best of three. Whole-process wall time includes the
    interpreter, the imports and building the model and data."""
    shape = [500, 32, 20, 8] if smoke else [33278, 200, 35, 20]
    rows: dict[str, Any] = {}
    for finder in ("rnndoctor", "torch-lr-finder"):
        runs = []
        for _ in range(1 if smoke else 3):
            out = run_process([sys.executable, "-c", SWEEP, json.dumps([finder, *shape])])
            try:
                runs.append({**json.loads(out["stdout"].strip().splitlines()[-1]), "process_s": out["wall_s"]})
            except (json.JSONDecodeError, IndexError):
                runs.append({"error": out["stderr_tail"][-300:]})
                break
        ok = [r for r in runs if "sweep_s" in r]
        rows[finder] = {
            "runs": runs,
            **({"sweep_s": min(r["sweep_s"] for r in ok), "process_s": min(r["process_s"] for r in ok)} if ok else {}),
        }
        print(finder, json.dumps(rows[finder]), flush=True)
    mine, theirs = rows["rnndoctor"], rows["torch-lr-finder"]
    if "sweep_s" in mine and "sweep_s" in theirs:
        rows["ratio"] = round(mine["sweep_s"] / theirs["sweep_s"], 3)
        rows["process_ratio"] = round(mine["process_s"] / theirs["process_s"], 3)
    return rows


QUICK_EXAMPLES = ("healthy_lstm", "label_collapse", "stock_prices")


def small(smoke: bool) -> dict[str, Any]:
    """bench/run.py's overhead and sweep tables (its LSTM classifier, its repeats: best of them), and the
    whole-process wall and CPU seconds of `--quick` on three examples beside the floor (importing torch and
    building an optimizer), without run.py's slow scaling rows."""
    sys.path.insert(0, str(ROOT / "bench"))
    import run  # bench/run.py
    import torch

    torch.set_num_threads(1)  # as run.py's own main: the bare passes and the other finders on one thread too
    repeats = 1 if smoke else 3
    result: dict[str, Any] = {
        "overhead": run.overhead(repeats, hidden=32 if smoke else 128, steps=16 if smoke else 32),
        "anchors": run.anchors(20 if smoke else 100, repeats),
    }
    print("overhead", json.dumps(result["overhead"]["best"]), flush=True)
    print("anchors", json.dumps(result["anchors"]), flush=True)
    quick = {}
    for name in QUICK_EXAMPLES[:1] if smoke else QUICK_EXAMPLES:
        config = ROOT / "examples" / name / "config.yaml"
        command = [sys.executable, "-m", "rnndoctor", "check", str(config), "--quick", "--no-progress"]
        runs = [run_process([*command, "--format", "json"]) for _ in range(repeats)]
        best = min(runs, key=lambda r: r["wall_s"])
        quick[name] = {k: best[k] for k in ("wall_s", "cpu_s", "load", "exit_code")}
    floors = [run_process([sys.executable, "-c", run.FLOOR]) for _ in range(repeats)]
    floor = min(floors, key=lambda r: r["wall_s"])
    result["quick"] = quick
    result["floor"] = {k: floor[k] for k in ("wall_s", "cpu_s", "load")}
    print("quick", json.dumps(quick), "floor", json.dumps(result["floor"]), flush=True)
    return result


EPOCH_TOKENS = 2_088_628
"""One training epoch in the table is Wikitext-2's training set: this many tokens."""


def lm_row(vocab: int, hidden: int, layers: int, steps: int, batch: int, batches: int = 16) -> dict[str, Any]:
    """A full diagnosis and three bare training steps of the same model on the same batch, each in a fresh
    process; the diagnosis's cost as a share of one epoch over Wikitext-2's tokens at that batch shape."""
    shape = [vocab, hidden, layers, steps, batch, batches]
    measured: dict[str, Any] = {"vocab": vocab, "hidden": hidden, "layers": layers, "seq": steps, "batch": batch}
    for mode in ("step", "diagnose"):
        out = run_process([sys.executable, "-c", ROW, json.dumps([*shape, mode])])
        try:
            measured[mode] = {**json.loads(out["stdout"].strip().splitlines()[-1]), "load": out["load"]}
        except (json.JSONDecodeError, IndexError):
            measured[mode] = {"error": out["stderr_tail"]}
    step, diagnosis = measured["step"], measured["diagnose"]
    if "step_cpu_s" in step and "cpu_s" in diagnosis:
        epoch_steps = EPOCH_TOKENS / (steps * batch)
        measured["epoch_cpu_s"] = round(epoch_steps * step["step_cpu_s"], 1)
        measured["share_of_epoch"] = round(diagnosis["cpu_s"] / measured["epoch_cpu_s"], 4)
    print(json.dumps({k: v for k, v in measured.items() if k not in ("diagnose",)}), flush=True)
    print("   diagnose", json.dumps({k: v for k, v in diagnosis.items() if k != "checks"}), flush=True)
    return measured


SCALING = {
    "vocabulary": [dict(vocab=v, hidden=200, layers=2, steps=35, batch=20) for v in (1000, 10000, 33278, 50000)],
    "hidden": [dict(vocab=10000, hidden=h, layers=2, steps=35, batch=20) for h in (64, 256, 1024)],
    "sequence": [dict(vocab=10000, hidden=200, layers=2, steps=s, batch=20) for s in (35, 100, 400)],
}
SMOKE_SCALING = {
    "vocabulary": [dict(vocab=v, hidden=32, layers=1, steps=20, batch=8) for v in (500, 2000)],
    "hidden": [dict(vocab=500, hidden=h, layers=1, steps=20, batch=8) for h in (16, 64)],
    "sequence": [dict(vocab=500, hidden=32, layers=1, steps=s, batch=8) for s in (10, 40)],
}


def scaling(smoke: bool) -> dict[str, Any]:
    table = SMOKE_SCALING if smoke else SCALING
    measured: dict[str, Any] = {}  # a shape that stands in two dimensions is measured once

    def row(shape: dict[str, int]) -> dict[str, Any]:
        key = json.dumps(shape, sort_keys=True)
        if key not in measured:
            measured[key] = lm_row(**shape)
        return measured[key]

    done: dict[str, Any] = {}
    for dimension, rows in table.items():
        done[dimension] = []
        for shape in rows:
            done[dimension].append(row(shape))
            save_partial("scaling", done)  # a long table keeps what it measured if stopped
    return done


_partial: dict[str, Any] = {}


def save_partial(key: str, value: Any) -> None:
    """Write ``value`` under ``key`` of this run's section now (main() writes everything at the end)."""
    if _partial:
        _partial["section"][key] = value
        _partial["output"].write_text(json.dumps(_partial["results"], indent=2) + "\n")


def big(smoke: bool) -> dict[str, Any]:
    if smoke:
        return lm_row(vocab=3000, hidden=128, layers=2, steps=50, batch=8, batches=4)
    return lm_row(vocab=30000, hidden=1024, layers=2, steps=200, batch=32, batches=4)


def tables(results: dict[str, Any]) -> str:
    """The markdown tables of RESULTS.md from a scale.json section."""
    out = []
    if "wordlm" in results:
        out += [
            "| twin | wall s | CPU s | load | findings | forward/backward passes | peak MB | exit |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for twin, row in results["wordlm"].items():
            findings = ", ".join(row.get("findings", [])) or "none"
            passes = "/".join(str(p) for p in row.get("passes", []))
            out.append(
                f"| {twin} | {row['wall_s']} | {row['cpu_s']} | {row['load'][0]}-{row['load'][1]} | {findings} | "
                f"{passes} | {row['peak_rss_mb']} | {row['exit_code']} |"
            )
        out.append("")
    rows = [("2x1024 LM", results["big"])] if "big" in results else []
    for dimension, measured in results.get("scaling", {}).items():
        rows += [(dimension, row) for row in measured]
    if rows:
        out += [
            "| varied | vocab | hidden | seq | wall s | CPU s | load | passes (fwd/bwd) | peak MB | bare step CPU s "
            "| epoch CPU s | share of an epoch | timed out |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for dimension, row in rows:
            d, step = row.get("diagnose", {}), row.get("step", {})
            if "seconds" not in d:
                out.append(f"| {dimension} | {row['vocab']} | {row['hidden']} | {row['seq']} | failed |")
                continue
            timed_out = [name for name, c in d["checks"].items() if c.get("timed_out")]
            out.append(
                f"| {dimension} | {row['vocab']:,} | {row['hidden']} | {row['seq']} | {d['seconds']:.1f} | "
                f"{d['cpu_s']:.1f} | {d['load'][0]}-{d['load'][1]} | {d['passes'][0]}/{d['passes'][1]} | "
                f"{d['peak_rss_mb']} | {step.get('step_cpu_s', 0):.2f} | {row.get('epoch_cpu_s', '')} | "
                f"{100 * row.get('share_of_epoch', 0):.1f} % | {', '.join(timed_out) or 'none'} |"
            )
        out += ["", "Passes per check (forward/backward, training steps):", ""]
        for dimension, row in rows:
            d = row.get("diagnose", {})
            if "checks" not in d:
                continue
            per_check = ", ".join(
                f"{name} {c['passes'][0]}/{c['passes'][1]}" + (f" ({c['steps']})" if c.get("steps") else "")
                for name, c in d["checks"].items()
                if c["passes"][0]
            )
            out.append(f"- {dimension} {row['vocab']:,}/{row['hidden']}/{row['seq']}: {per_check}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("wordlm", "big", "scaling", "sweep", "small", "all"))
    parser.add_argument("--smoke", action="store_true", help="small sizes (CI)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--tables", action="store_true", help="print RESULTS.md's tables from --output and stop")
    args = parser.parse_args()
    if args.tables:
        print(tables(json.loads(args.output.read_text())["smoke" if args.smoke else "full"]))
        return
    output: Path = args.output
    results = json.loads(output.read_text()) if output.exists() else {}
    key = "smoke" if args.smoke else "full"
    section = results.setdefault(key, {})
    section["machine"] = f"{platform.machine()}, {os.cpu_count()} CPU core(s), load {load():.2f} at start"
    section["date"] = time.strftime("%Y-%m-%d %H:%M")
    _partial.update(results=results, section=section, output=output)
    section["commit"] = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, cwd=ROOT
    ).stdout.strip()
    try:
        if args.what in ("wordlm", "all"):
            section["wordlm"] = wordlm(args.smoke)
        if args.what in ("big", "all"):
            section["big"] = big(args.smoke)
        if args.what in ("scaling", "all"):
            section["scaling"] = scaling(args.smoke)
        if args.what in ("sweep", "all"):
            section["sweep"] = sweep(args.smoke)
        if args.what in ("small", "all"):
            section["small"] = small(args.smoke)
    finally:
        for leftover in WORDLM.glob("smoke-*.yaml"):
            leftover.unlink()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
