"""A synthetic word-level corpus, batchified batch-first and cut into BPTT chunks.

The "language" is a first-order Markov chain over 200 word ids in which every word is followed by one of
three likely successors, so a model can get well below the unigram entropy (ln 200 = 5.3 nats). The token
stream is batchified into (batch_size, L) columns; ``get_batch`` returns x = data[:, i:i+T] and the targets
y = data[:, i+1:i+1+T] shifted by one word, so consecutive batches continue each row's text (which is what
makes carrying the hidden state between batches meaningful).
"""

import torch

NTOKENS = 200


def make_corpus(num_tokens=12000, seed=0):
    g = torch.Generator().manual_seed(seed)
    successors = torch.randint(0, NTOKENS, (NTOKENS, 3), generator=g)
    probs = torch.tensor([0.6, 0.3, 0.1])
    stream = torch.empty(num_tokens, dtype=torch.long)
    stream[0] = 0
    choices = torch.multinomial(probs, num_tokens, replacement=True, generator=g)
    noise = torch.rand(num_tokens, generator=g) < 0.05
    random_words = torch.randint(0, NTOKENS, (num_tokens,), generator=g)
    for i in range(1, num_tokens):
        stream[i] = random_words[i] if noise[i] else successors[stream[i - 1], choices[i]]
    return stream


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).contiguous()  # (bsz, L): row b is a contiguous slice of the text


def get_batch(source, i, bptt):
    seq_len = min(bptt, source.size(1) - 1 - i)
    x = source[:, i:i + seq_len]
    y = source[:, i + 1:i + 1 + seq_len]
    return x, y


def train_batches(batch_size=16, bptt=20):
    train_data = batchify(make_corpus(), batch_size)
    return [get_batch(train_data, i, bptt) for i in range(0, train_data.size(1) - 1, bptt)]
