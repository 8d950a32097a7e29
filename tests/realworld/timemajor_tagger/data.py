"""POS-style tagging data, collated time-major with pad_sequence (batch_first=False, the default).

Vocabulary of 100 ids (0 is padding). Ids 1-59 are unambiguous words whose tag is ``id % 4`` (tags 0-3);
ids 60-99 are ambiguous words tagged 4 after a word tagged 0 or 1 and 5 otherwise, so the tagger needs the
left context. Sentences have 10-24 tokens; a batch is (tokens (T, N), tags (T, N)) with tags -100 on padding.
"""

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

PAD_IDX = 0
PAD_TAG = -100


def make_sentences(n, seed, vocab=100, min_len=10, max_len=24):
    g = torch.Generator().manual_seed(seed)
    sentences = []
    for _ in range(n):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=g))
        words = torch.randint(1, vocab, (length,), generator=g)
        tags = torch.empty(length, dtype=torch.long)
        prev = 0
        for t, w in enumerate(words.tolist()):
            tags[t] = w % 4 if w < 60 else (4 if prev in (0, 1) else 5)
            prev = int(tags[t])
        sentences.append((words, tags))
    return sentences


def collate_batch(batch):
    words = [w for w, _ in batch]
    tags = [t for _, t in batch]
    return pad_sequence(words, padding_value=PAD_IDX), pad_sequence(tags, padding_value=PAD_TAG)


def train_loader(batch_size=16):
    return DataLoader(make_sentences(800, seed=0), batch_size=batch_size, shuffle=True,
                      collate_fn=collate_batch, generator=torch.Generator().manual_seed(0))


def val_loader(batch_size=16):
    return DataLoader(make_sentences(160, seed=1), batch_size=batch_size, collate_fn=collate_batch)
