"""Writes healthy/data/train.txt (Penn-Treebank-like: one sentence per line, words separated by spaces, as the
tutorial's data_utils.Corpus reads it) and healthy/heldout/test.txt (same process, never read by the script).

The words follow a second-order Markov chain over 20 made-up words: the next word is a fixed function of the
previous TWO words with probability 0.85 (else one of the 20 at random), so a model that sees only the current
word (no usable history) is clearly worse than one that remembers one step back. Deterministic."""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N = 20


def stream(n_lines, seed):
    lang = np.random.default_rng(7)
    vocab = sorted({"".join(lang.choice(list("aeioubdgklmnprst"), size=4)) for _ in range(200)})[:N]
    table = lang.integers(N, size=(N, N))
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n_lines):
        a, b = rng.integers(N, size=2)
        words = [vocab[a], vocab[b]]
        for _ in range(int(rng.integers(10, 25))):
            c = table[a, b] if rng.random() < 0.85 else rng.integers(N)
            words.append(vocab[c])
            a, b = b, c
        lines.append(" " + " ".join(words) + " \n")
    return lines


def main():
    (HERE / "healthy" / "data").mkdir(parents=True, exist_ok=True)
    (HERE / "healthy" / "heldout").mkdir(parents=True, exist_ok=True)
    (HERE / "healthy" / "data" / "train.txt").write_text("".join(stream(1100, 1)), encoding="utf-8")
    (HERE / "healthy" / "heldout" / "test.txt").write_text("".join(stream(120, 2)), encoding="utf-8")


if __name__ == "__main__":
    main()
