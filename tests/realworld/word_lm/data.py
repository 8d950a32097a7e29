"""Word-level language-model data in the style of pytorch/examples/word_language_model.

Instead of reading wikitext-2 from disk, the corpus is generated: sentences are walks of a fixed Markov chain
over 100 words (each word has three likely successors), so the next word is predictable well below chance.
``batchify`` arranges the token stream into ``bsz`` columns and ``get_batch`` cuts ``bptt``-long chunks whose
target is the same chunk shifted by one token.
"""

import torch


class Dictionary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


def markov_sentences(n_sentences, seed, n_words=100):
    """Sentences of 5-15 words, each word followed by one of its three successors (p = 0.7 / 0.2 / 0.1)."""
    chain = torch.Generator().manual_seed(1234)  # the "language" is the same for every split
    successors = torch.stack([torch.randperm(n_words, generator=chain)[:3] for _ in range(n_words)])
    probs = torch.tensor([0.7, 0.2, 0.1])
    g = torch.Generator().manual_seed(seed)
    lines = []
    for _ in range(n_sentences):
        length = int(torch.randint(5, 16, (1,), generator=g))
        w = int(torch.randint(0, n_words, (1,), generator=g))
        words = []
        for _ in range(length):
            words.append("w%d" % w)
            w = int(successors[w, torch.multinomial(probs, 1, generator=g)])
        lines.append(" ".join(words))
    return lines


class Corpus(object):
    def __init__(self, n_train=400, n_valid=60, n_words=100):
        self.dictionary = Dictionary()
        for i in range(n_words):  # fixed ids, whatever order the words first appear in
            self.dictionary.add_word("w%d" % i)
        self.train = self.tokenize(markov_sentences(n_train, seed=0, n_words=n_words))
        self.valid = self.tokenize(markov_sentences(n_valid, seed=1, n_words=n_words))

    def tokenize(self, lines):
        """Tokenizes lines of text, adding an end-of-sentence token to each, like the upstream reader."""
        idss = []
        for line in lines:
            words = line.split() + ["<eos>"]
            ids = [self.dictionary.add_word(word) for word in words]
            idss.append(torch.tensor(ids).type(torch.int64))
        return torch.cat(idss)


def batchify(data, bsz):
    # Work out how cleanly we can divide the dataset into bsz parts.
    nbatch = data.size(0) // bsz
    # Trim off any extra elements that wouldn't cleanly fit (remainders).
    data = data.narrow(0, 0, nbatch * bsz)
    # Evenly divide the data across the bsz batches.
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt=20, shift=1):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + shift:i + shift + seq_len].view(-1)
    return data, target


def _batches(source, bptt, shift):
    return [get_batch(source, i, bptt, shift) for i in range(0, source.size(0) - 1, bptt)]


def train_batches(batch_size=20, bptt=20, shift=1):
    """The training stream cut into (data (T, N), target (T*N,)) pairs, in order, as upstream's train() walks it."""
    corpus = Corpus()
    return _batches(batchify(corpus.train, batch_size), bptt, shift)


def val_batches(batch_size=10, bptt=20, shift=1):
    corpus = Corpus()
    return _batches(batchify(corpus.valid, batch_size), bptt, shift)
