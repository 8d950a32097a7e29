"""Turn a {"src", "tgt"} batch into (outputs, targets) for the loss."""
import torch

from data import BOS_token


def forward_batch(model, batch):
    src, tgt = batch["src"], batch["tgt"]
    # Teacher forcing: the decoder reads [BOS, y0, ..., y(T-2)] and predicts [y0, ..., y(T-1)].
    bos = torch.full((tgt.size(0), 1), BOS_token, dtype=tgt.dtype, device=tgt.device)
    decoder_input = torch.cat([bos, tgt[:, :-1]], dim=1)
    decoder_outputs = model(src, decoder_input)
    return decoder_outputs.reshape(-1, decoder_outputs.size(-1)), tgt.reshape(-1)


def forward_batch_unshifted(model, batch):
    src, tgt = batch["src"], batch["tgt"]
    decoder_input = tgt  # fed the very tokens it is scored on
    decoder_outputs = model(src, decoder_input)
    return decoder_outputs.reshape(-1, decoder_outputs.size(-1)), tgt.reshape(-1)
