"""CTC loss taking (log_probs, input_lengths) as outputs and (targets, target_lengths) as targets."""

import torch.nn.functional as F


def ctc_loss(outputs, targets):
    log_probs, input_lengths = outputs
    labels, target_lengths = targets
    return F.ctc_loss(log_probs, labels, input_lengths, target_lengths, blank=0, reduction='mean',
                      zero_infinity=True)
