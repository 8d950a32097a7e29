"""Held-out metric: token accuracy of greedy translation (no teacher forcing) on heldout.tsv, pairs the
script never trains on (new combinations of known words). The script's own evaluate() does the decoding;
target tokens include EOS; a position counts as right when the decoded word there equals the reference."""

import torch


def measure(ns, cwd, losses):
    encoder, decoder = ns["encoder1"], ns["attn_decoder1"]
    encoder.eval()
    decoder.eval()
    normalize = ns["normalizeString"]
    right = total = 0
    with torch.no_grad():
        for line in (cwd / "heldout.tsv").read_text(encoding="utf-8").splitlines():
            en, fr = (normalize(s) for s in line.split("\t"))
            decoded, _ = ns["evaluate"](encoder, decoder, fr)
            reference = [*en.split(" "), "<EOS>"]
            right += sum(a == b for a, b in zip(decoded, reference, strict=False))
            total += len(reference)
    return right / total
