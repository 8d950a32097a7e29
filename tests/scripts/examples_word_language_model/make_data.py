"""Writes healthy/data/wikitext-2/{train,valid,test}.txt: a tiny Wikitext-like corpus the upstream reader takes.

Sentences (one per line, words separated by spaces, as in wikitext-2) are walks of a fixed Markov chain over
60 made-up words: each word is followed by one of three successors (p = 0.6 / 0.3 / 0.1), so the next word
is predictable far below the uniform perplexity (61 with <eos>). Deterministic; runs in well under a second.
"""

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "healthy" / "data" / "wikitext-2"
N_WORDS = 60


def words(rng: np.random.Generator) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "be", "da", "fu", "go"]
    out: set[str] = set()
    while len(out) < N_WORDS:
        out.add("".join(rng.choice(syllables, size=rng.integers(1, 3))))
    return sorted(out)


def sentences(n: int, seed: int) -> list[str]:
    lang = np.random.default_rng(1234)  # the "language" is the same for every split
    vocab = words(lang)
    successors = np.stack([lang.permutation(N_WORDS)[:3] for _ in range(N_WORDS)])
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        w = int(rng.integers(N_WORDS))
        line = [vocab[w]]
        for _ in range(int(rng.integers(5, 16)) - 1):
            w = int(successors[w][rng.choice(3, p=[0.6, 0.3, 0.1])])
            line.append(vocab[w])
        lines.append(" " + " ".join(line) + " \n")  # wikitext lines start and end with a space
    return lines


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", 2000, 1), ("valid", 200, 2), ("test", 200, 3)):
        (OUT / f"{split}.txt").write_text("".join(sentences(n, seed)), encoding="utf-8")


if __name__ == "__main__":
    main()
