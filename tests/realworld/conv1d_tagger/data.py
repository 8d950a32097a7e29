"""Fixed-length tagging data: token ids (N, 12) and one tag per token (N, 12), 12 tag classes.

Every word belongs to one tag class (a fixed random lexicon), except that a word right after the marker
word 1 takes tag 0, so the tagger also needs left context. Sentences are exactly 12 tokens long, the same
number as there are tags, on purpose.
"""

import torch
from torch.utils.data import DataLoader, TensorDataset

SEQ_LEN = 12
NUM_TAGS = 12
VOCAB = 100


def make_corpus(n, seed, vocab=VOCAB, num_tags=NUM_TAGS, seq_len=SEQ_LEN):
    g = torch.Generator().manual_seed(1234)
    lexicon = torch.randint(1, num_tags, (vocab,), generator=g)  # word id -> its usual tag
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(2, vocab, (n, seq_len), generator=g)
    markers = torch.rand(n, seq_len, generator=g) < 0.15
    words[markers] = 1
    tags = lexicon[words]
    after_marker = torch.zeros_like(markers)
    after_marker[:, 1:] = words[:, :-1] == 1
    tags[after_marker] = 0
    return words, tags


def train_loader(batch_size=32):
    words, tags = make_corpus(1000, seed=0)
    return DataLoader(TensorDataset(words, tags), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=100):
    words, tags = make_corpus(200, seed=1)
    return DataLoader(TensorDataset(words, tags), batch_size=batch_size)
