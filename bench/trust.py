"""Verdicts that do not depend on the machine: a busy machine, a wide model.

    python bench/trust.py load             # the bundled examples idle, then beside two CPU hogs
    python bench/trust.py size             # a full run on a 2x1024 LSTM LM, 30 000 tokens, 200-step sequences
    python bench/trust.py size --smoke     # the same code path on a small LM (CI)

`load` runs each example's command twice, idle and with two busy-looping processes beside it, and
compares the findings and the wall time (target: the same findings, at most 3x the idle time).
`size` measures a full diagnosis's per-check time and peak memory against one plain training step of the
same model on the same batch, each in a fresh process (target: every check inside its budget, peak memory
at most about twice the step's). Writes bench/results/trust.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "trust.json"
EXAMPLES = ("healthy_lstm", "label_collapse", "double_softmax", "missing_zero_grad", "padded_last_step", "stock_prices")


def _hog() -> None:
    while True:
        pass


def _run_example(name: str) -> tuple[list[str], float]:
    config = ROOT / "examples" / name / "config.yaml"
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "rnndoctor", "check", str(config), "--format", "json", "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    doc = json.loads(out.stdout)
    return [f["code"] for f in doc["findings"]], seconds


def load(examples: tuple[str, ...], hogs: int) -> dict[str, Any]:
    rows = []
    for name in examples:
        idle_codes, idle_seconds = _run_example(name)
        workers = [multiprocessing.Process(target=_hog, daemon=True) for _ in range(hogs)]
        for worker in workers:
            worker.start()
        try:
            busy_codes, busy_seconds = _run_example(name)
        finally:
            for worker in workers:
                worker.terminate()
        row = {
            "example": name,
            "idle_seconds": round(idle_seconds, 2),
            "busy_seconds": round(busy_seconds, 2),
            "ratio": round(busy_seconds / idle_seconds, 2),
            "same_findings": idle_codes == busy_codes,
            "findings": idle_codes,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return {"hogs": hogs, "rows": rows}


_LM = """
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


stream = torch.randint(0, vocab, (batch * batches, steps + 1))


def flat_targets(rows):
    return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows]).reshape(-1)


loader = DataLoader(TensorDataset(stream[:, :-1], stream[:, 1:]), batch_size=batch, collate_fn=flat_targets)
model = WordLM()
optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
loss = nn.CrossEntropyLoss()
torch.set_num_threads(2)
started = time.perf_counter()
if mode == "step":
    x, y = next(iter(loader))
    optimizer.zero_grad()
    loss(model(x), y).backward()
    optimizer.step()
    result = {"seconds": time.perf_counter() - started}
else:
    from rnndoctor import diagnose
    report = diagnose(model=model, train_data=loader, loss=loss, optimizer=optimizer, threads=2)
    result = {
        "seconds": time.perf_counter() - started,
        "findings": [f.code for f in report.findings],
        "checks": {c.name: [c.status.value, round(c.seconds, 1)] for c in report.checks},
        "step_samples": report.meta.get("step_samples"),
        "passes": [report.timing.forward_passes, report.timing.backward_passes],
        "reported_peak_mb": report.timing.peak_memory_mb,
    }
result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def size(vocab: int, hidden: int, layers: int, steps: int, batch: int) -> dict[str, Any]:
    shape = [vocab, hidden, layers, steps, batch, 4]
    measured = {}
    for mode in ("step", "diagnose"):
        out = subprocess.run(
            [sys.executable, "-c", _LM, json.dumps([*shape, mode])],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        measured[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(mode, json.dumps(measured[mode]), flush=True)
    return {
        "model": f"{layers}x{hidden} LSTM, vocabulary {vocab}, {batch}x{steps} tokens per batch",
        "training_step": measured["step"],
        "diagnosis": measured["diagnose"],
        "memory_ratio": round(measured["diagnose"]["peak_mb"] / measured["step"]["peak_mb"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("load", "size"))
    parser.add_argument("--smoke", action="store_true", help="small sizes (CI)")
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON file to update with the results")
    args = parser.parse_args()
    output: Path = args.output
    results = json.loads(output.read_text()) if output.exists() else {}
    if args.what == "load":
        results["load"] = load(EXAMPLES[:2] if args.smoke else EXAMPLES, 1 if args.smoke else args.hogs)
    elif args.smoke:
        results["size_smoke"] = size(500, 32, 1, 20, 8)
    else:
        results["size"] = size(30000, 1024, 2, 200, 32)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
