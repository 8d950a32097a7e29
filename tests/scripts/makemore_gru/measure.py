"""Held-out metric: next-character accuracy on makemore's own test split (the words of ns['test_dataset'],
never trained on). Inputs and targets are rebuilt here the way upstream's CharDataset builds them (x = <START>
then the word, y = the word then <END>), so a bug in the script's dataset cannot flatter the score; positions
after <END> are excluded. Accuracy (argmax) rather than cross-entropy, because it reads the same whether the
model's outputs are logits or probabilities."""

import torch


def measure(ns, cwd, losses):
    model, dataset = ns["model"], ns["test_dataset"]
    model.eval()
    n = dataset.max_word_length + 1
    xs, ys = [], []
    for word in dataset.words:
        ix = dataset.encode(word)
        x = torch.zeros(n, dtype=torch.long)
        y = torch.full((n,), -1, dtype=torch.long)
        x[1 : 1 + len(ix)] = ix
        y[: len(ix)] = ix
        y[len(ix)] = 0
        xs.append(x)
        ys.append(y)
    x, y = torch.stack(xs), torch.stack(ys)
    with torch.no_grad():
        logits, _ = model(x)
    keep = y != -1
    return (logits.argmax(-1)[keep] == y[keep]).float().mean().item()
