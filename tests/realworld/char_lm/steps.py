"""Forward and training step of a char-RNN training loop (clip, Adam step, StepLR step per batch)."""

import weakref

import torch
from torch import nn

clip = 5.0

# The loop creates its scheduler once, next to the optimizer; here it is made on first use and kept per optimizer.
_schedulers = weakref.WeakKeyDictionary()


def forward_batch(model, batch):
    x, y = batch
    h = model.init_hidden(x.size(0))
    output, h = model(x, h)
    # Flatten (batch, seq, chars) scores and (batch, seq) targets for CrossEntropyLoss.
    return output.reshape(-1, output.size(-1)), y.reshape(-1)


def _scheduler(optimizer):
    if optimizer not in _schedulers:
        _schedulers[optimizer] = torch.optim.lr_scheduler.StepLR(optimizer, step_size=500, gamma=0.5)
    return _schedulers[optimizer]


def train_step(model, batch, optimizer, loss_fn):
    scheduler = _scheduler(optimizer)
    model.train()
    optimizer.zero_grad()
    output, targets = forward_batch(model, batch)
    loss = loss_fn(output, targets)
    loss.backward()
    # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    scheduler.step()
    return loss


def train_step_clip_after_step(model, batch, optimizer, loss_fn):
    """The same step with the clipping line placed after optimizer.step()."""
    scheduler = _scheduler(optimizer)
    model.train()
    optimizer.zero_grad()
    output, targets = forward_batch(model, batch)
    loss = loss_fn(output, targets)
    loss.backward()
    optimizer.step()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    scheduler.step()
    return loss
