"""Forward part of the training loop: run the acoustic model and pair its outputs with the CTC targets."""


def forward_batch(model, batch):
    inputs, targets, input_lengths, target_lengths = batch
    log_probs = model(inputs, input_lengths)  # (T, N, C)
    return (log_probs, input_lengths), (targets, target_lengths)
