"""The forward part of the training loop: flatten time-major scores and tags for CrossEntropyLoss."""


def forward_batch(model, batch):
    text, tags = batch
    predictions = model(text)
    # predictions = [sent len, batch size, output dim]; tags = [sent len, batch size]
    predictions = predictions.view(-1, predictions.shape[-1])
    tags = tags.view(-1)
    return predictions, tags
