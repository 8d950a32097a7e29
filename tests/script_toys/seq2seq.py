"""An encoder-decoder stepped by hand with two optimizers and teacher forcing drawn at random per pair."""

import random, torch, torch.nn as nn, torch.nn.functional as F
from torch import optim
SOS, EOS = 0, 1
random.seed(0); torch.manual_seed(0)
V = 20
pairs = []
for _ in range(300):
    n = random.randint(3, 6); src = [random.randint(2, V-1) for _ in range(n)]
    pairs.append((src, list(reversed(src))))
def tensor(seq): return torch.tensor(seq + [EOS], dtype=torch.long).view(-1, 1)
class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__(); self.hidden_size = hidden_size
        self.embedding = nn.Embedding(input_size, hidden_size); self.gru = nn.GRU(hidden_size, hidden_size)
    def forward(self, input, hidden):
        embedded = self.embedding(input).view(1, 1, -1); output, hidden = self.gru(embedded, hidden); return output, hidden
    def initHidden(self): return torch.zeros(1, 1, self.hidden_size)
class DecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size):
        super().__init__(); self.hidden_size = hidden_size
        self.embedding = nn.Embedding(output_size, hidden_size); self.gru = nn.GRU(hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, output_size); self.softmax = nn.LogSoftmax(dim=1)
    def forward(self, input, hidden):
        output = self.embedding(input).view(1, 1, -1); output = F.relu(output)
        output, hidden = self.gru(output, hidden); output = self.softmax(self.out(output[0])); return output, hidden
teacher_forcing_ratio = 0.5
def train(input_tensor, target_tensor, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion):
    encoder_hidden = encoder.initHidden()
    encoder_optimizer.zero_grad(); decoder_optimizer.zero_grad()
    input_length = input_tensor.size(0); target_length = target_tensor.size(0)
    loss = 0
    for ei in range(input_length):
        encoder_output, encoder_hidden = encoder(input_tensor[ei], encoder_hidden)
    decoder_input = torch.tensor([[SOS]]); decoder_hidden = encoder_hidden
    use_teacher_forcing = True if random.random() < teacher_forcing_ratio else False
    if use_teacher_forcing:
        for di in range(target_length):
            decoder_output, decoder_hidden = decoder(decoder_input, decoder_hidden)
            loss += criterion(decoder_output, target_tensor[di])
            decoder_input = target_tensor[di]  # Teacher forcing
    else:
        for di in range(target_length):
            decoder_output, decoder_hidden = decoder(decoder_input, decoder_hidden)
            topv, topi = decoder_output.topk(1)
            decoder_input = topi.squeeze().detach()
            loss += criterion(decoder_output, target_tensor[di])
            if decoder_input.item() == EOS: break
    loss.backward(); encoder_optimizer.step(); decoder_optimizer.step()
    return loss.item() / target_length
encoder = EncoderRNN(V, 64); decoder = DecoderRNN(64, V)
encoder_optimizer = optim.SGD(encoder.parameters(), lr=0.01); decoder_optimizer = optim.SGD(decoder.parameters(), lr=0.01)
training_pairs = [(tensor(s), tensor(t)) for s, t in (random.choice(pairs) for i in range(20000))]
criterion = nn.NLLLoss()
total = 0
for iter in range(1, 20001):
    input_tensor, target_tensor = training_pairs[iter - 1]
    total += train(input_tensor, target_tensor, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion)
    if iter % 1000 == 0: print(iter, total / 1000); total = 0
