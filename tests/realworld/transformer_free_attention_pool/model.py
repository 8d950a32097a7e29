"""BiGRU encoder with additive (Bahdanau-style) attention pooling over time, masked by the lengths."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class AdditiveAttention(nn.Module):
    def __init__(self, hidden_dim, attn_dim=32):
        super().__init__()
        self.proj = nn.Linear(hidden_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, outputs, mask=None):
        # outputs: (N, T, H); mask: (N, T) True at real steps
        scores = self.v(torch.tanh(self.proj(outputs))).squeeze(-1)  # (N, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = F.softmax(scores, dim=1)
        context = torch.bmm(weights.unsqueeze(1), outputs).squeeze(1)  # (N, H)
        return context, weights


class BiGRUAttentionClassifier(nn.Module):
    def __init__(self, input_dim=5, hidden_dim=32, num_classes=2, attn_dim=32, use_mask=True):
        super().__init__()
        torch.manual_seed(0)
        self.use_mask = use_mask
        self.gru = nn.GRU(input_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.attention = AdditiveAttention(2 * hidden_dim, attn_dim)
        self.fc = nn.Linear(2 * hidden_dim, num_classes)

    def forward(self, x, lengths):
        total_length = x.size(1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, _ = self.gru(packed)
        outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=total_length)
        mask = torch.arange(total_length, device=x.device)[None, :] < lengths.to(x.device)[:, None]
        context, _ = self.attention(outputs, mask if self.use_mask else None)
        return self.fc(context)
