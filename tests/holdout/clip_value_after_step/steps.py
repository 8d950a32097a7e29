"""Training steps with element-wise gradient clipping."""
from torch.nn.utils import clip_grad_value_

CLIP_VALUE = 0.1


def train_step(model, batch, optimizer, loss_fn):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    y_pred = model(x)
    loss = loss_fn(y_pred, y)
    loss.backward()
    clip_grad_value_(model.parameters(), CLIP_VALUE)
    optimizer.step()
    return loss


def train_step_clip_late(model, batch, optimizer, loss_fn):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    y_pred = model(x)
    loss = loss_fn(y_pred, y)
    loss.backward()
    optimizer.step()
    clip_grad_value_(model.parameters(), CLIP_VALUE)
    return loss
