"""A batched GRU encoder-decoder as in the PyTorch "NLP From Scratch: Translation with a Sequence to Sequence
Network" tutorial (without attention), decoding with teacher forcing from a given decoder input sequence."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super(EncoderRNN, self).__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input):
        embedded = self.dropout(self.embedding(input))
        output, hidden = self.gru(embedded)
        return output, hidden


class DecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size):
        super(DecoderRNN, self).__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, encoder_hidden, decoder_inputs):
        """Teacher forcing: at step i the decoder is fed decoder_inputs[:, i]."""
        decoder_hidden = encoder_hidden
        decoder_outputs = []
        for i in range(decoder_inputs.size(1)):
            decoder_input = decoder_inputs[:, i].unsqueeze(1)
            decoder_output, decoder_hidden = self.forward_step(decoder_input, decoder_hidden)
            decoder_outputs.append(decoder_output)
        return torch.cat(decoder_outputs, dim=1), decoder_hidden

    def forward_step(self, input, hidden):
        output = self.embedding(input)
        output = F.relu(output)
        output, hidden = self.gru(output, hidden)
        output = self.out(output)
        return output, hidden


class Seq2Seq(nn.Module):
    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.encoder = EncoderRNN(vocab_size, hidden_size)
        self.decoder = DecoderRNN(hidden_size, vocab_size)

    def forward(self, src, tgt_in):
        """src (N, S) ids, tgt_in (N, S) decoder inputs -> logits (N, S, vocab)."""
        _, encoder_hidden = self.encoder(src)
        logits, _ = self.decoder(encoder_hidden, tgt_in)
        return logits


def build_model(vocab_size=23, hidden_size=64, seed=0):
    torch.manual_seed(seed)
    return Seq2Seq(vocab_size, hidden_size)
