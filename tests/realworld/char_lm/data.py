"""Character-level text for a char-RNN, generated instead of read from anna.txt / tinyshakespeare.

The text is a stream of words drawn from a small fixed lexicon (with a few fixed bigram phrases), so most
characters are predictable from the ones before them. ``get_batches`` cuts the encoded text into
``batch_size`` rows and yields (x (N, T), y (N, T)) windows, y being x shifted one character to the left.
"""

import numpy as np
import torch

LEXICON = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "then", "runs", "away",
    "into", "forest", "where", "old", "owl", "sleeps", "under", "moon", "while", "river", "sings", "softly",
]


def make_text(n_words=1500, seed=0):
    g = torch.Generator().manual_seed(seed)
    words = []
    while len(words) < n_words:
        w = int(torch.randint(0, len(LEXICON), (1,), generator=g))
        words.append(LEXICON[w])
        if LEXICON[w] == "the":  # "the" is always followed by one of four nouns/adjectives
            words.append(["quick", "lazy", "old", "river"][int(torch.randint(0, 4, (1,), generator=g))])
    return " ".join(words) + "."


class CharVocab:
    def __init__(self, text):
        self.chars = tuple(sorted(set(text)))
        self.int2char = dict(enumerate(self.chars))
        self.char2int = {ch: ii for ii, ch in self.int2char.items()}

    def encode(self, text):
        return np.array([self.char2int[ch] for ch in text])


def get_batches(arr, batch_size, seq_length):
    """Create a generator that returns batches of size batch_size x seq_length from arr."""
    batch_size_total = batch_size * seq_length
    n_batches = len(arr) // batch_size_total
    # Keep only enough characters to make full batches
    arr = arr[:n_batches * batch_size_total]
    arr = arr.reshape((batch_size, -1))
    for n in range(0, arr.shape[1], seq_length):
        x = arr[:, n:n + seq_length]
        # The targets, shifted by one
        y = np.zeros_like(x)
        try:
            y[:, :-1], y[:, -1] = x[:, 1:], arr[:, n + seq_length]
        except IndexError:
            y[:, :-1], y[:, -1] = x[:, 1:], arr[:, 0]
        yield torch.from_numpy(x).long(), torch.from_numpy(y).long()


def train_batches(batch_size=16, seq_length=32):
    text = make_text(1500, seed=0)
    vocab = CharVocab(text)
    return list(get_batches(vocab.encode(text), batch_size, seq_length))


def vocab_size():
    return len(CharVocab(make_text(1500, seed=0)).chars)
