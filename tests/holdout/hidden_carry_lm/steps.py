"""Truncated backpropagation through time: the hidden state lives on the model from one batch to the next."""
import torch


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    else:
        return tuple(repackage_hidden(v) for v in h)


def _state_for(model, bsz):
    if model.hidden is None or model.hidden[0].size(1) != bsz:
        model.hidden = model.init_hidden(bsz)
    return model.hidden


def train_step(model, batch, optimizer, loss_fn, clip=0.25):
    data, targets = batch
    model.train()
    _state_for(model, data.size(1))
    # Starting each batch, we detach the hidden state from how it was previously produced.
    # If we didn't, the model would try backpropagating all the way to start of the dataset.
    model.hidden = repackage_hidden(model.hidden)
    optimizer.zero_grad()
    output, model.hidden = model(data, model.hidden)
    loss = loss_fn(output, targets)
    loss.backward()
    # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss


def train_step_keep_state(model, batch, optimizer, loss_fn, clip=0.25):
    data, targets = batch
    model.train()
    _state_for(model, data.size(1))
    optimizer.zero_grad()
    output, model.hidden = model(data, model.hidden)  # still attached to the previous batch's graph
    loss = loss_fn(output, targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss
