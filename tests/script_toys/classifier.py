"""An LSTM classifier trained from a DataLoader, with argparse flags, a checkpoint and printed progress."""

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=200)
parser.add_argument("--workers", type=int, default=0)
parser.add_argument("--save", default="model.pt")
args = parser.parse_args()

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(3, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


features = torch.randn(512, 12, 3)
labels = (features[:, :, 0].sum(1) > 0).long()
loader = DataLoader(TensorDataset(features, labels), batch_size=32, shuffle=True, num_workers=args.workers)
model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
criterion = nn.CrossEntropyLoss()
for epoch in range(args.epochs):
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    print(f"epoch {epoch} loss {total / len(loader):.4f}")
    torch.save(model.state_dict(), args.save)
