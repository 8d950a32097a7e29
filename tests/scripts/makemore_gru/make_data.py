"""Writes healthy/names.txt in makemore's format (one lowercase word per line): 4000 made-up names built from
onset-vowel-coda syllables with name-like endings, so the next character is predictable well above chance.
Deterministic."""

import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "healthy" / "names.txt"
ONSETS = ["b", "d", "k", "l", "m", "n", "r", "s", "t", "v", "br", "tr", "sh", "ch"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea"]
CODAS = ["", "", "", "n", "r", "l", "s"]
ENDINGS = ["a", "ia", "ella", "son", "ton", "ie", "o", "an", "ette", "ina"]


def main():
    rng = random.Random(0)
    names = set()
    while len(names) < 4000:
        syllables = [rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(rng.randint(1, 2))]
        names.add("".join(syllables) + rng.choice(ENDINGS))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(sorted(names)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
