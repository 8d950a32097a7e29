"""LSTM encoder and an additive-attention (Bahdanau) LSTM decoder, trained with teacher forcing."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super(EncoderRNN, self).__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input):
        embedded = self.dropout(self.embedding(input))
        output, hidden = self.lstm(embedded)
        return output, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super(BahdanauAttention, self).__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        # query: (B, 1, H) decoder state, keys: (B, S, H) encoder outputs
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))  # (B, S, 1)
        scores = scores.squeeze(2).unsqueeze(1)  # (B, 1, S)
        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)  # (B, 1, H)
        return context, weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1):
        super(AttnDecoderRNN, self).__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.lstm = nn.LSTM(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)

    def forward_step(self, input, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(input))  # (B, 1, H)
        query = hidden[0].permute(1, 0, 2)  # (B, 1, H)
        context, attn_weights = self.attention(query, encoder_outputs)
        input_lstm = torch.cat((embedded, context), dim=2)
        output, hidden = self.lstm(input_lstm, hidden)
        output = self.out(output)
        return output, hidden, attn_weights

    def forward(self, encoder_outputs, encoder_hidden, decoder_input):
        # Teacher forcing: decoder_input (B, T) holds the token fed at every step.
        decoder_hidden = encoder_hidden
        decoder_outputs = []
        for i in range(decoder_input.size(1)):
            decoder_output, decoder_hidden, _ = self.forward_step(
                decoder_input[:, i].unsqueeze(1), decoder_hidden, encoder_outputs)
            decoder_outputs.append(decoder_output)
        return torch.cat(decoder_outputs, dim=1)  # (B, T, V)


class Seq2Seq(nn.Module):
    def __init__(self, vocab_size=16, hidden_size=64, dropout_p=0.1):
        super(Seq2Seq, self).__init__()
        torch.manual_seed(0)
        self.encoder = EncoderRNN(vocab_size, hidden_size, dropout_p)
        self.decoder = AttnDecoderRNN(hidden_size, vocab_size, dropout_p)

    def forward(self, src, decoder_input):
        encoder_outputs, encoder_hidden = self.encoder(src)
        return self.decoder(encoder_outputs, encoder_hidden, decoder_input)
