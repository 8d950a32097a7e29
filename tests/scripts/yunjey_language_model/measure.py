"""Held-out metric: cross-entropy (nats/word) of the trained model on heldout/test.txt, fed exactly as the
script feeds its training stream: the ids laid out as (batch_size=20, -1), chunks of seq_length=30, the LSTM
state carried (detached) from chunk to chunk, targets shifted by one word."""

import torch


def measure(ns, cwd, losses):
    model, vocab = ns["model"], ns["corpus"].dictionary.word2idx
    words = []
    for line in (cwd / "heldout" / "test.txt").read_text(encoding="utf-8").splitlines():
        words += [*line.split(), "<eos>"]
    ids = torch.tensor([vocab[w] for w in words])
    batch, seq = ns["batch_size"], ns["seq_length"]
    ids = ids[: len(ids) // batch * batch].view(batch, -1)
    layers, hidden = ns["num_layers"], ns["hidden_size"]
    states = (torch.zeros(layers, batch, hidden), torch.zeros(layers, batch, hidden))
    total = count = 0.0
    model.eval()
    with torch.no_grad():
        for i in range(0, ids.size(1) - seq, seq):
            x, y = ids[:, i : i + seq], ids[:, i + 1 : i + 1 + seq]
            out, states = model(x, states)
            total += torch.nn.functional.cross_entropy(out, y.reshape(-1), reduction="sum").item()
            count += y.numel()
    return total / count
