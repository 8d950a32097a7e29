"""Held-out metric: accuracy on heldout.tsv (100 unseen names per language). The trained `rnn` reads each name
one character at a time exactly as the script's evaluate() does (that function is defined after the training
loop, which validation stops early); the script's lineToTensor and categoryFromOutput are used as they are."""

import torch


def measure(ns, cwd, losses):
    rnn = ns["rnn"]
    right = total = 0
    with torch.no_grad():
        for line in (cwd / "heldout.tsv").read_text(encoding="utf-8").splitlines():
            name, language = line.split("\t")
            line_tensor = ns["lineToTensor"](name)
            hidden = rnn.initHidden()
            for i in range(line_tensor.size()[0]):
                output, hidden = rnn(line_tensor[i], hidden)
            guess, _ = ns["categoryFromOutput"](output)
            right += guess == language
            total += 1
    return right / total
