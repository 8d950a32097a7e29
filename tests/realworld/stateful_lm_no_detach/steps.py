"""Flatten the language model's (N, T, V) scores and (N, T) targets for CrossEntropyLoss."""


def forward_batch(model, batch):
    x, y = batch
    output = model(x)
    return output.reshape(-1, model.ntoken), y.reshape(-1)
