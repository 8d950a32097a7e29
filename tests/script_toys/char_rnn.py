"""A character RNN classifier stepped by hand, one name at a time, updated without an optimizer."""

import random

import torch
from torch import nn

random.seed(1)
letters = "abcdefghijklmnopqrstuvwxyz"
categories = ["vowels", "consonants", "rare"]
pools = {"vowels": "aeiou", "consonants": "bcdfghklmnpst", "rare": "jqvwxyz"}
names = {c: ["".join(random.choice(pools[c]) for _ in range(random.randint(3, 8))) for _ in range(200)] for c in categories}


def line_tensor(line):
    tensor = torch.zeros(len(line), 1, len(letters))
    for i, letter in enumerate(line):
        tensor[i][0][letters.index(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.softmax(self.i2o(combined))
        return output, hidden

    def init_hidden(self):
        return torch.zeros(1, self.hidden_size)


rnn = RNN(len(letters), 64, len(categories))
criterion = nn.NLLLoss()
learning_rate = 0.005


def train(category_tensor, tensor):
    hidden = rnn.init_hidden()
    rnn.zero_grad()
    for i in range(tensor.size()[0]):
        output, hidden = rnn(tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return loss.item()


for iteration in range(1, 100001):
    category = random.choice(categories)
    line = random.choice(names[category])
    loss = train(torch.tensor([categories.index(category)]), line_tensor(line))
    if iteration % 1000 == 0:
        print(iteration, loss)
