"""Synthetic multi-label tagging of short token sequences (think: topics of a support ticket).

Each of the 6 tags has its own trigger words; a sequence carries a tag when one or two of that tag's trigger
words occur in it. Tags are independent and fairly rare (10%-30% of sequences each), so a sequence may have
no tag, one, or several. Targets are float multi-hot rows (N, 6) for BCEWithLogitsLoss.
"""
import torch
from torch.utils.data import DataLoader, Dataset

VOCAB_SIZE = 150
NUM_TAGS = 6
TAG_RATES = [0.30, 0.25, 0.20, 0.20, 0.15, 0.10]
TRIGGERS = [list(range(1 + 5 * t, 6 + 5 * t)) for t in range(NUM_TAGS)]  # ids 1..30
FILLER = list(range(31, VOCAB_SIZE))


class TicketDataset(Dataset):
    def __init__(self, n_samples=1000, seq_len=24, single_label=False, seed=0):
        g = torch.Generator().manual_seed(seed)
        filler = torch.tensor(FILLER)
        self.tokens = filler[torch.randint(0, len(FILLER), (n_samples, seq_len), generator=g)]
        if single_label:
            # every ticket belongs to exactly one category
            cats = torch.multinomial(torch.tensor(TAG_RATES), n_samples, replacement=True, generator=g)
            self.labels = torch.zeros(n_samples, NUM_TAGS)
            self.labels[torch.arange(n_samples), cats] = 1.0
        else:
            self.labels = (torch.rand(n_samples, NUM_TAGS, generator=g) < torch.tensor(TAG_RATES)).float()
        for i in range(n_samples):
            for tag in self.labels[i].nonzero().flatten().tolist():
                n_words = int(torch.randint(1, 3, (1,), generator=g))
                for _ in range(n_words):
                    pos = int(torch.randint(0, seq_len, (1,), generator=g))
                    word = TRIGGERS[tag][int(torch.randint(0, 5, (1,), generator=g))]
                    self.tokens[i, pos] = word

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return self.tokens[idx], self.labels[idx]


def get_loader(batch_size=32, single_label=False):
    dataset = TicketDataset(single_label=single_label)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
