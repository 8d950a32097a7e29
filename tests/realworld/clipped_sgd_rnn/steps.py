"""Plain SGD step with gradient-norm clipping, as in word_language_model's train()."""

import torch

clip = 0.5


def train_step(model, batch, optimizer, loss_fn):
    data, targets = batch
    model.zero_grad()
    output = model(data)
    loss = loss_fn(output, targets)
    loss.backward()
    # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss
