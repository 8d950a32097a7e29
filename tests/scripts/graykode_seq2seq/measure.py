"""Metric: character accuracy of the script's own test decoding on its six inline pairs (man->women, ...):
the encoder reads the padded source word and the decoder is fed 'S' then 'P's, as the script's translate()
does, and the six predicted characters are compared with the padded target plus 'E'. The data are inline and
there is no held-out split; what differs from training is that the decoder no longer gets the target prefix."""

import numpy as np
import torch


def measure(ns, cwd, losses):
    model, num_dic, n_step, n_class = ns["model"], ns["num_dic"], ns["n_step"], ns["n_class"]
    model.eval()
    right = total = 0
    pairs = [["man", "women"], ["black", "white"], ["king", "queen"], ["girl", "boy"], ["up", "down"], ["high", "low"]]
    with torch.no_grad():
        for source, target in pairs:
            enc = torch.FloatTensor(np.eye(n_class)[[num_dic[c] for c in source.ljust(n_step, "P")]]).unsqueeze(0)
            dec = torch.FloatTensor(np.eye(n_class)[[num_dic[c] for c in "S" + "P" * n_step]]).unsqueeze(0)
            out = model(enc, torch.zeros(1, 1, ns["n_hidden"]), dec)  # (n_step + 1, 1, n_class)
            predicted = out.argmax(2).view(-1).tolist()
            reference = [num_dic[c] for c in target.ljust(n_step, "P") + "E"]
            right += sum(a == b for a, b in zip(predicted, reference, strict=False))
            total += len(reference)
    return right / total
