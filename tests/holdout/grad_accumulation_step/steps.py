"""Training steps with gradient accumulation: each batch is processed as 2 micro-batches (to fit in memory)."""
import torch

ACCUMULATION_STEPS = 2


def train_step(model, batch, optimizer, loss_fn):
    inputs, targets = batch
    total = 0.0
    for x, y in zip(inputs.chunk(ACCUMULATION_STEPS), targets.chunk(ACCUMULATION_STEPS)):
        loss = loss_fn(model(x), y) / ACCUMULATION_STEPS  # average over the accumulated micro-batches
        loss.backward()
        total += loss.item()
    optimizer.step()
    optimizer.zero_grad()  # clear the accumulated gradients for the next batch
    return torch.tensor(total)


def train_step_no_zero_grad(model, batch, optimizer, loss_fn):
    inputs, targets = batch
    total = 0.0
    for x, y in zip(inputs.chunk(ACCUMULATION_STEPS), targets.chunk(ACCUMULATION_STEPS)):
        loss = loss_fn(model(x), y) / ACCUMULATION_STEPS
        loss.backward()
        total += loss.item()
    optimizer.step()
    return torch.tensor(total)
