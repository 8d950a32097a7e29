"""One iteration of upstream's train() loop, as a train_step: hidden state carried, clipping, manual SGD."""

import torch

clip = 0.25

# Upstream keeps `hidden` as a local of train() that lives across batches; here it lives in a module-level dict.
_state = {}


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    else:
        return tuple(repackage_hidden(v) for v in h)


def _carried_hidden(model, bsz):
    hidden = _state.get("hidden")
    if hidden is None:
        return model.init_hidden(bsz)
    first = hidden[0] if isinstance(hidden, tuple) else hidden
    weight = next(model.parameters())
    if first.size(1) != bsz or first.device != weight.device or first.size(0) != model.nlayers:
        return model.init_hidden(bsz)
    return repackage_hidden(hidden)


def train_step(model, batch, optimizer, loss_fn):
    data, targets = batch
    lr = optimizer.param_groups[0]['lr']
    model.train()
    # Starting each batch, we detach the hidden state from how it was previously produced.
    # If we didn't, the model would try backpropagating all the way to start of the dataset.
    hidden = _carried_hidden(model, data.size(1))
    model.zero_grad()
    output, hidden = model(data, hidden)
    _state["hidden"] = repackage_hidden(hidden)
    loss = loss_fn(output, targets)
    loss.backward()

    # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    for p in model.parameters():
        if p.grad is not None:
            p.data.add_(p.grad, alpha=-lr)
    return loss
