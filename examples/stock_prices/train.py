"""A next-day price forecaster fed raw prices in the hundreds (RD106).

Run it, or diagnose it as it is: ``rnndoctor check examples/stock_prices/train.py``.
"""

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent / ".." / "common"))
from data import train_loader
from models import LSTMForecaster

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--lr", type=float, default=1e-3)
args = parser.parse_args()

torch.manual_seed(0)
loader = train_loader()
model = LSTMForecaster(hidden_size=32)
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
criterion = nn.MSELoss()
for epoch in range(args.epochs):
    total = 0.0
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item()
    print(f"epoch {epoch}: loss {total / len(loader):.4f}")
