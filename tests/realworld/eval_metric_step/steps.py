"""Training steps that also log a metric (mean absolute error) computed in eval mode."""

import torch

history = {"loss": [], "mae": []}


def train_step(model, batch, optimizer, loss_fn):
    x, y = batch
    optimizer.zero_grad()
    pred = model(x)
    loss = loss_fn(pred, y)
    loss.backward()
    optimizer.step()

    model.eval()
    with torch.no_grad():
        mae = (model(x) - y).abs().mean().item()
    model.train()
    history["loss"].append(loss.item())
    history["mae"].append(mae)
    return loss


def train_step_metric_first(model, batch, optimizer, loss_fn):
    x, y = batch
    model.eval()
    with torch.no_grad():
        mae = (model(x) - y).abs().mean().item()

    optimizer.zero_grad()
    pred = model(x)
    loss = loss_fn(pred, y)
    loss.backward()
    optimizer.step()
    model.train()
    history["loss"].append(loss.item())
    history["mae"].append(mae)
    return loss
