"""LSTM tagger: one independent logit per tag from the max-pooled LSTM outputs."""
import torch
import torch.nn as nn


class MultiLabelLSTM(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_dim, num_labels):
        super(MultiLabelLSTM, self).__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.classifier = nn.Linear(hidden_dim, num_labels)

    def forward(self, x):
        embeds = self.embedding(x)
        lstm_out, _ = self.lstm(embeds)
        # max-pool over time: a tag's trigger word may sit anywhere in the sequence
        pooled, _ = torch.max(lstm_out, dim=1)
        logits = self.classifier(pooled)
        return logits  # raw scores; sigmoid only at prediction time
