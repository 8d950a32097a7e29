"""Forward part of the training loop: build the teacher-forcing decoder input and flatten for the loss."""

import torch

SOS_token = 1


def forward_batch(model, batch):
    src, tgt = batch
    # The decoder starts from SOS and is fed the previous target token: [SOS, y_0, ..., y_{S-2}].
    sos = torch.full_like(tgt[:, :1], SOS_token)
    tgt_in = torch.cat([sos, tgt[:, :-1]], dim=1)
    logits = model(src, tgt_in)
    return logits.reshape(-1, logits.size(-1)), tgt.reshape(-1)


def forward_batch_unshifted(model, batch):
    """The same forward with the decoder fed the target sequence itself."""
    src, tgt = batch
    tgt_in = tgt
    logits = model(src, tgt_in)
    return logits.reshape(-1, logits.size(-1)), tgt.reshape(-1)
