"""Writes healthy/data/eng-fra.txt (the tutorial's format: 'English<TAB>French' per line, English first) and
heldout.tsv (pairs the script never sees, used only by measure.py).

A small French->English grammar: subject x (plain | very | too | not) x adjective, e.g.
'We are not tired.<TAB>Nous ne sommes pas fatigues.' ('ne ... pas' wraps the verb, so word order differs),
plus the four sentences the tutorial translates after training (their words must be in the vocabulary).
Every English side starts with one of the tutorial's eng_prefixes. 20 % of the grammar's pairs are held out.
Deterministic."""

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUBJECTS = [
    ("I am", "Je suis", "je"),
    ("He is", "Il est", "il"),
    ("She is", "Elle est", "elle"),
    ("You are", "Vous etes", "vous"),
    ("We are", "Nous sommes", "nous"),
    ("They are", "Ils sont", "ils"),
]
ADJECTIVES = [
    ("cold", "froid"),
    ("small", "petit"),
    ("tall", "grand"),
    ("happy", "heureux"),
    ("tired", "fatigue"),
    ("young", "jeune"),
    ("old", "vieux"),
    ("rich", "riche"),
    ("sad", "triste"),
    ("ready", "pret"),
    ("hungry", "affame"),
    ("busy", "occupe"),
]
EXTRA = [
    ("She is five years younger than me.", "Elle a cinq ans de moins que moi."),
    ("I am not afraid of dying.", "Je ne crains pas de mourir."),
    ("He is a young director full of talent.", "C est un jeune directeur plein de talent."),
    ("I am too cold.", "Je suis trop froid."),
    ("She is too small.", "Elle est trop petit."),
]


def grammar():
    pairs = []
    for en_subj, fr_subj, fr_pron in SUBJECTS:
        fr_verb = fr_subj.split(" ")[1]
        for en_adj, fr_adj in ADJECTIVES:
            pairs.append((f"{en_subj} {en_adj}.", f"{fr_subj} {fr_adj}."))
            pairs.append((f"{en_subj} very {en_adj}.", f"{fr_subj} tres {fr_adj}."))
            pairs.append((f"{en_subj} too {en_adj}.", f"{fr_subj} trop {fr_adj}."))
            pairs.append((f"{en_subj} not {en_adj}.", f"{fr_pron.capitalize()} ne {fr_verb} pas {fr_adj}."))
    return pairs


def main():
    pairs = sorted(set(grammar()) - set(EXTRA))
    random.Random(0).shuffle(pairs)
    n_test = len(pairs) // 5
    test, train = pairs[:n_test], pairs[n_test:] + EXTRA
    random.Random(1).shuffle(train)
    out = HERE / "healthy" / "data"
    out.mkdir(parents=True, exist_ok=True)
    (out / "eng-fra.txt").write_text("".join(f"{en}\t{fr}\n" for en, fr in train), encoding="utf-8")
    (HERE / "healthy" / "heldout.tsv").write_text("".join(f"{en}\t{fr}\n" for en, fr in test), encoding="utf-8")


if __name__ == "__main__":
    main()
