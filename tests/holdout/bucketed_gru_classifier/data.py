"""Synthetic three-way review sentiment, batched the BucketIterator way.

Reviews are lists of word ids (0 is <pad>, 1 is <unk>); positive reviews carry a few words from a positive
lexicon, negative reviews from a negative one, neutral reviews from neither. Examples are sorted by length
and cut into buckets so that a batch holds reviews of similar length; every batch is padded time-major,
(seq_len, batch), with its lengths sorted in decreasing order for pack_padded_sequence.
"""
import torch
from torch.nn.utils.rnn import pad_sequence

PAD_IDX = 0
UNK_IDX = 1
VOCAB_SIZE = 200
POSITIVE_WORDS = list(range(2, 22))
NEGATIVE_WORDS = list(range(22, 42))
NEUTRAL_WORDS = list(range(42, VOCAB_SIZE))
LABELS = ["negative", "neutral", "positive"]


def make_reviews(n_reviews=960, min_len=6, max_len=36, seed=1234):
    g = torch.Generator().manual_seed(seed)
    reviews = []
    for _ in range(n_reviews):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=g))
        sentiment = LABELS[int(torch.randint(0, 3, (1,), generator=g))]
        idx = torch.randint(0, len(NEUTRAL_WORDS), (length,), generator=g)
        tokens = [NEUTRAL_WORDS[i] for i in idx.tolist()]
        if sentiment != "neutral":
            lexicon = POSITIVE_WORDS if sentiment == "positive" else NEGATIVE_WORDS
            n_marked = int(torch.randint(1, 4, (1,), generator=g))
            where = torch.randperm(length, generator=g)[:n_marked]
            for pos in where.tolist():
                tokens[pos] = lexicon[int(torch.randint(0, len(lexicon), (1,), generator=g))]
        reviews.append((tokens, sentiment))
    return reviews


def build_label_vocab(one_based=False):
    if one_based:
        # label ids counted from 1, the way the ratings are numbered on the website
        return {label: i for i, label in enumerate(LABELS, start=1)}
    return {label: i for i, label in enumerate(LABELS)}


def bucket_iterator(batch_size=32, one_based=False, seed=1234):
    """Returns a list of (text, label, lengths) batches: text (seq_len, batch), label (batch,), lengths (batch,)."""
    label_vocab = build_label_vocab(one_based)
    examples = make_reviews(seed=seed)
    # sort_key=lambda ex: len(ex.text): similar lengths end up in the same bucket
    examples.sort(key=lambda ex: len(ex[0]), reverse=True)
    batches = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        text = pad_sequence([torch.tensor(tokens) for tokens, _ in chunk], padding_value=PAD_IDX)
        label = torch.tensor([label_vocab[sentiment] for _, sentiment in chunk])
        lengths = torch.tensor([len(tokens) for tokens, _ in chunk])
        batches.append((text, label, lengths))
    order = torch.randperm(len(batches), generator=torch.Generator().manual_seed(seed))
    return [batches[i] for i in order.tolist()]
