"""A stateful LSTM language model: the hidden state lives on the module and is carried between calls."""

import torch
from torch import nn


class StatefulLSTMLM(nn.Module):
    def __init__(self, ntoken=200, ninp=32, nhid=64, nlayers=1, dropout=0.2, tie_weights=False,
                 detach_hidden=True):
        super().__init__()
        torch.manual_seed(0)
        self.ntoken, self.nhid, self.nlayers = ntoken, nhid, nlayers
        self.detach_hidden = detach_hidden
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout if nlayers > 1 else 0.0, batch_first=True)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.hidden = None

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))

    def reset_hidden(self):
        self.hidden = None

    def forward(self, input):
        bsz = input.size(0)
        if self.hidden is None or self.hidden[0].size(1) != bsz:
            self.hidden = self.init_hidden(bsz)
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, self.hidden)
        if self.detach_hidden:
            # truncated BPTT: keep the values, cut the graph at the batch boundary
            self.hidden = tuple(h.detach() for h in hidden)
        else:
            self.hidden = hidden
        output = self.drop(output)
        return self.decoder(output)  # (N, T, ntoken)
