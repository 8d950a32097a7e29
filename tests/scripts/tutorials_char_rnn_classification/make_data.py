"""Writes healthy/data/names/<Language>.txt (one surname per line, as in the tutorial's data.zip) for six
made-up "languages", and healthy/heldout.tsv (name<TAB>language, never read by the script, used by measure.py).

Each language builds names from its own syllables and endings, with a share of syllables common to all, so a
character RNN can learn the language from the spelling but not from one letter. Deterministic."""

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMON = ["ra", "le", "to", "mi", "sa", "ne"]
LANGUAGES = {
    "Italian": (["ro", "ma", "ri", "ni", "lo", "ca", "gi", "vi"], ["ini", "etti", "ello", "one", "ari", "ucci"]),
    "Russian": (["vo", "ko", "sha", "by", "zh", "pe", "gr"], ["ov", "ev", "sky", "enko", "in", "ikov"]),
    "Japanese": (["ka", "ta", "mo", "shi", "ya", "na", "ha", "ki"], ["moto", "mura", "kawa", "da", "no", "shita"]),
    "German": (["schm", "ber", "hau", "wal", "kle", "mei", "wo"], ["mann", "berg", "er", "stein", "feld", "hardt"]),
    "Chinese": (["zh", "ch", "w", "l", "x", "y"], ["ang", "ong", "ei", "ui", "ao", "un"]),
    "Irish": (["mc", "o", "fl", "br", "ke", "do"], ["ey", "an", "agh", "ahy", "ell", "oran"]),
}


def name(rng, syllables, endings):
    parts = [rng.choice(syllables + COMMON) for _ in range(rng.randint(1, 2))]
    return ("".join(parts) + rng.choice(endings)).capitalize()


def main():
    rng = random.Random(0)
    out = HERE / "healthy" / "data" / "names"
    out.mkdir(parents=True, exist_ok=True)
    heldout = []
    for language, (syllables, endings) in LANGUAGES.items():
        names = []
        while len(names) < 400:
            n = name(rng, syllables, endings)
            if n not in names:
                names.append(n)
        (out / f"{language}.txt").write_text("\n".join(names[:300]) + "\n", encoding="utf-8")
        heldout += [(n, language) for n in names[300:]]
    (HERE / "healthy" / "heldout.tsv").write_text("".join(f"{n}\t{c}\n" for n, c in heldout), encoding="utf-8")


if __name__ == "__main__":
    main()
