"""Held-out metric: cross-entropy (nats per character, EOS included) of the trained generator on heldout.tsv
(50 unseen names per language), the model in eval mode (no dropout) and fed as the script feeds it: the
category one-hot beside each one-hot letter, hidden state carried. The targets (next letter, then EOS) are
built here, so a bug in the script's targetTensor cannot flatter the score."""

import torch


def measure(ns, cwd, losses):
    rnn, letters, n_letters = ns["rnn"], ns["all_letters"], ns["n_letters"]
    rnn.eval()
    total = count = 0.0
    with torch.no_grad():
        for line in (cwd / "heldout.tsv").read_text(encoding="utf-8").splitlines():
            name, language = line.split("\t")
            category = ns["categoryTensor"](language)
            inputs = ns["inputTensor"](name)
            targets = [letters.find(c) for c in name[1:]] + [n_letters - 1]
            hidden = rnn.initHidden()
            for i in range(inputs.size(0)):
                output, hidden = rnn(category, inputs[i], hidden)
                total -= output[0, targets[i]].item()
                count += 1
    return total / count
