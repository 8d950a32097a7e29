"""Short product reviews as token ids (vocabulary of 300, id 0 reserved for <pad>).

Ids 1-20 are "positive" words, 21-40 "negative" words, the rest neutral. A review's label is 1 when it has
more positive than negative words. ``fixed_length=True`` gives every review exactly 24 tokens (so the
batches contain no padding at all); ``fixed_length=False`` gives reviews of 6-36 tokens, collated with
``pad_sequence`` into right-padded batches without their lengths.
"""

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

VOCAB_SIZE = 300
PAD_IDX = 0


def make_reviews(num_reviews=1000, fixed_length=True, seq_len=24, min_len=6, max_len=36, seed=0):
    g = torch.Generator().manual_seed(seed)
    reviews = []
    for _ in range(num_reviews):
        n = seq_len if fixed_length else int(torch.randint(min_len, max_len + 1, (1,), generator=g))
        tokens = torch.randint(41, VOCAB_SIZE, (n,), generator=g)
        label = int(torch.randint(0, 2, (1,), generator=g))
        n_major = int(torch.randint(3, 6, (1,), generator=g))
        n_minor = int(torch.randint(0, 2, (1,), generator=g))
        pos = torch.randperm(n, generator=g)[: n_major + n_minor]
        major_lo, minor_lo = (1, 21) if label == 1 else (21, 1)
        tokens[pos[:n_major]] = torch.randint(major_lo, major_lo + 20, (n_major,), generator=g)
        tokens[pos[n_major:]] = torch.randint(minor_lo, minor_lo + 20, (n_minor,), generator=g)
        reviews.append((tokens, label))
    return reviews


def collate_batch(batch):
    texts = [text for text, _ in batch]
    labels = torch.tensor([label for _, label in batch], dtype=torch.long)
    return pad_sequence(texts, batch_first=True, padding_value=PAD_IDX), labels


def train_loader(batch_size=32, fixed_length=True):
    reviews = make_reviews(fixed_length=fixed_length)
    return DataLoader(reviews, batch_size=batch_size, shuffle=True, collate_fn=collate_batch,
                      generator=torch.Generator().manual_seed(0))
