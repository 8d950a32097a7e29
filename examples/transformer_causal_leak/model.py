"""A tiny GPT-style character language model built from ``nn.TransformerEncoder`` with a causal mask.

The buggy variant builds its mask with a helper ported from an old tutorial, but without the tutorial's
``.transpose(0, 1)``: the allowed (0.0) entries end up in the upper triangle, so position t attends to
positions t, t+1, ... (the character it must predict included) instead of 0..t.
"""

from __future__ import annotations

import torch
from torch import nn


def square_subsequent_mask(size: int) -> torch.Tensor:
    """Float attention mask, 0.0 where attention is allowed and -inf where it is not."""
    mask = torch.triu(torch.ones(size, size)) == 1
    mask = mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)
    return mask


class CharTransformerLM(nn.Module):
    def __init__(
        self,
        vocab_size: int = 30,
        d_model: int = 32,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        block_size: int = 32,
        dropout: float = 0.1,
        builtin_mask: bool = True,
    ) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.builtin_mask = builtin_mask
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(block_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers)
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """idx: (N, T) character ids. Returns (N, T, vocab_size) next-character scores."""
        _, t = idx.shape
        pos = torch.arange(t, device=idx.device)
        x = self.token_embedding(idx) + self.position_embedding(pos)
        if self.builtin_mask:
            mask = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        else:
            mask = square_subsequent_mask(t).to(idx.device)
        x = self.blocks(x, mask=mask)
        return self.lm_head(self.ln_f(x))
