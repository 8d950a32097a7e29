"""Held-out metric: test cross-entropy (nats/word) of the best checkpoint the script saved (--save model.pt),
computed here with correctly shifted targets (so a bug in the script's own get_batch cannot flatter it)."""

import math

import torch


def measure(ns, cwd, losses):
    model = torch.load(cwd / "model.pt", weights_only=False)
    model.eval()
    data = ns["test_data"]  # (T, 10) token ids, batchified by the script
    bptt = 35
    hidden = model.init_hidden(data.size(1))
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            seq_len = min(bptt, data.size(0) - 1 - i)
            x, y = data[i : i + seq_len], data[i + 1 : i + 1 + seq_len].reshape(-1)
            out, hidden = model(x, hidden)
            total += torch.nn.functional.nll_loss(out, y, reduction="sum").item()
            count += y.numel()
    value = total / count
    return value if math.isfinite(value) else float("inf")
