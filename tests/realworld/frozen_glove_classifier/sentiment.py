"""Sentiment-style classification of padded token sequences with a synthetic "GloVe" table.

Vocabulary of 200 words (0 = <pad>, 1 = <unk>). Word vectors are made to carry meaning: positive and negative
words share a sentiment direction with opposite signs, the rest are noise. A review is labelled positive
(1) when its positive words outnumber its negative ones. Batches are (text, label, lengths) with right
padding, as a torchtext-style collate function builds them. The model (frozen embedding -> packed
bidirectional LSTM -> cat(final forward, final backward) -> Linear) is at the bottom, as in a one-file script.
"""

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

VOCAB_SIZE = 200
EMBEDDING_DIM = 32
PAD_IDX = 0


def _word_polarity():
    g = torch.Generator().manual_seed(42)
    polarity = torch.zeros(VOCAB_SIZE)
    ids = torch.randperm(VOCAB_SIZE - 2, generator=g) + 2
    polarity[ids[:40]] = 1.0    # positive words
    polarity[ids[40:80]] = -1.0  # negative words
    return polarity


def pretrained_vectors():
    """Stand-in for vocab.vectors after build_vocab(..., vectors="glove.6B.100d")."""
    g = torch.Generator().manual_seed(7)
    polarity = _word_polarity()
    direction = torch.randn(EMBEDDING_DIM, generator=g)
    direction = direction / direction.norm()
    vectors = 0.5 * torch.randn(VOCAB_SIZE, EMBEDDING_DIM, generator=g)
    vectors = vectors + 1.5 * polarity[:, None] * direction[None, :]
    vectors[PAD_IDX] = 0.0
    return vectors


def make_reviews(n, seed):
    g = torch.Generator().manual_seed(seed)
    polarity = _word_polarity()
    texts, labels = [], []
    for _ in range(n):
        length = int(torch.randint(8, 31, (1,), generator=g))
        words = torch.randint(2, VOCAB_SIZE, (length,), generator=g)
        score = polarity[words].sum()
        if score == 0:  # break ties with one more opinion word at the end
            words[-1] = int(torch.nonzero(polarity > 0)[int(torch.randint(0, 40, (1,), generator=g))])
            score = polarity[words].sum()
        texts.append(words)
        labels.append(int(score > 0))
    return texts, labels


def collate_batch(batch):
    texts = [t for t, _ in batch]
    labels = torch.tensor([l for _, l in batch], dtype=torch.long)
    lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    text = pad_sequence(texts, batch_first=True, padding_value=PAD_IDX)
    return text, labels, lengths


def train_loader(batch_size=32):
    texts, labels = make_reviews(1000, seed=0)
    return DataLoader(list(zip(texts, labels)), batch_size=batch_size, shuffle=True, collate_fn=collate_batch,
                      generator=torch.Generator().manual_seed(0))


def valid_loader(batch_size=100):
    texts, labels = make_reviews(200, seed=1)
    return DataLoader(list(zip(texts, labels)), batch_size=batch_size, collate_fn=collate_batch)


# ---- model ----


class RNN(nn.Module):
    def __init__(self, embedding_vectors, hidden_dim, output_dim, n_layers=1, bidirectional=True, dropout=0.0,
                 detach_encoder=False):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(embedding_vectors, freeze=True, padding_idx=PAD_IDX)
        self.rnn = nn.LSTM(embedding_vectors.size(1), hidden_dim, num_layers=n_layers,
                           bidirectional=bidirectional, dropout=dropout if n_layers > 1 else 0.0,
                           batch_first=True)
        self.fc = nn.Linear(hidden_dim * 2, output_dim)
        self.dropout = nn.Dropout(dropout)
        self.detach_encoder = detach_encoder

    def forward(self, text, text_lengths):
        # text = [batch size, sent len]
        embedded = self.dropout(self.embedding(text))
        packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_lengths.cpu(), batch_first=True,
                                                            enforce_sorted=False)
        packed_output, (hidden, cell) = self.rnn(packed_embedded)
        # hidden = [num layers * num directions, batch size, hid dim]
        hidden = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
        if self.detach_encoder:
            hidden = hidden.detach()  # left over from a feature-extraction experiment
        return self.fc(self.dropout(hidden))


def build_model(hidden_dim=32, output_dim=2, dropout=0.2, detach_encoder=False):
    torch.manual_seed(0)
    return RNN(pretrained_vectors(), hidden_dim, output_dim, dropout=dropout, detach_encoder=detach_encoder)
