"""The LBFGS training step of time_sequence_prediction/train.py, with and without zero_grad in the closure."""


def train_step(model, batch, optimizer, loss_fn):
    input, target = batch

    def closure():
        optimizer.zero_grad()
        out = model(input)
        loss = loss_fn(out, target)
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    return loss


def train_step_no_zero_grad(model, batch, optimizer, loss_fn):
    input, target = batch

    def closure():
        out = model(input)
        loss = loss_fn(out, target)
        loss.backward()  # gradients of every closure call pile up on the previous ones
        return loss

    loss = optimizer.step(closure)
    return loss
