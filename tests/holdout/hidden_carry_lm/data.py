"""A tiny character corpus made from a toy grammar, batchified time-major the way word_language_model does it.

batchify arranges the token stream into `bsz` columns, shape (T_total, bsz); get_batch cuts (bptt, bsz) chunks
with targets the next character, flattened to (bptt * bsz,). Consecutive chunks continue each column, which is
why the hidden state is carried from one batch to the next.
"""
import torch

SUBJECTS = ["the cat", "a dog", "my friend", "the old man", "she", "he", "the bird", "our teacher"]
VERBS = ["sees", "likes", "finds", "follows", "calls", "draws", "hears", "greets"]
OBJECTS = ["the ball", "a red hat", "the river", "her sister", "a small boat", "the moon", "his garden", "a song"]
ENDINGS = [".", " today.", " again.", " at night."]


class Dictionary(object):
    def __init__(self):
        self.char2idx = {}
        self.idx2char = []

    def add_char(self, ch):
        if ch not in self.char2idx:
            self.idx2char.append(ch)
            self.char2idx[ch] = len(self.idx2char) - 1
        return self.char2idx[ch]

    def __len__(self):
        return len(self.idx2char)


class Corpus(object):
    def __init__(self, n_sentences=600, seed=0):
        self.dictionary = Dictionary()
        g = torch.Generator().manual_seed(seed)

        def pick(words):
            return words[int(torch.randint(len(words), (1,), generator=g))]

        text = " ".join(pick(SUBJECTS) + " " + pick(VERBS) + " " + pick(OBJECTS) + pick(ENDINGS)
                        for _ in range(n_sentences))
        for ch in sorted(set(text)):
            self.dictionary.add_char(ch)
        self.train = torch.tensor([self.dictionary.char2idx[ch] for ch in text], dtype=torch.long)


def batchify(data, bsz):
    # Work out how cleanly we can divide the dataset into bsz parts.
    nbatch = data.size(0) // bsz
    # Trim off any extra elements that wouldn't cleanly fit (remainders).
    data = data.narrow(0, 0, nbatch * bsz)
    # Evenly divide the data across the bsz batches.
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def train_batches(batch_size=16, bptt=32):
    corpus = Corpus()
    train_data = batchify(corpus.train, batch_size)
    return [get_batch(train_data, i, bptt) for i in range(0, train_data.size(0) - 1, bptt)]
