"""Writes healthy/data/names/<Language>.txt (one name per line, as in the tutorial's data.zip) for six made-up
"languages" named like the tutorial's (it samples Russian, German, Spanish and Chinese names at the end), and
healthy/heldout.tsv (name<TAB>language, never read by the script, used by measure.py).

Each language spells names from its own syllables and endings, so the next letter depends on the language
and on the letters so far. Deterministic."""

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
LANGUAGES = {
    "Russian": (["vo", "ko", "sha", "bo", "zhe", "pe", "gri"], ["ov", "ev", "sky", "enko", "in"]),
    "German": (["schm", "ber", "hau", "wal", "kle", "mei"], ["mann", "berg", "er", "stein", "feld"]),
    "Spanish": (["ga", "ro", "mar", "fer", "lo", "su"], ["ez", "ado", "ero", "ana", "illa"]),
    "Chinese": (["zh", "ch", "w", "l", "x", "y", "h", "q", "j"], ["ang", "ong", "ei", "ui", "ao", "ing"]),
    "Italian": (["ro", "ma", "ri", "ni", "ca", "gi"], ["ini", "etti", "ello", "one", "ucci"]),
    "Japanese": (["ka", "ta", "mo", "shi", "ya", "na"], ["moto", "mura", "kawa", "da", "shita"]),
}


def main():
    rng = random.Random(1)
    out = HERE / "healthy" / "data" / "names"
    out.mkdir(parents=True, exist_ok=True)
    heldout = []
    for language, (syllables, endings) in LANGUAGES.items():
        names = []
        while len(names) < 250:
            parts = [rng.choice(syllables) for _ in range(rng.randint(1, 3))]
            name = ("".join(parts) + rng.choice(endings)).capitalize()
            if name not in names:
                names.append(name)
        (out / f"{language}.txt").write_text("\n".join(names[:200]) + "\n", encoding="utf-8")
        heldout += [(n, language) for n in names[200:]]
    (HERE / "healthy" / "heldout.tsv").write_text("".join(f"{n}\t{c}\n" for n, c in heldout), encoding="utf-8")


if __name__ == "__main__":
    main()
