"""Loss factory: BCEWithLogitsLoss with a per-tag pos_weight (negatives / positives, counted offline)."""
import torch
import torch.nn as nn


def make_criterion(pos_weight):
    return nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, dtype=torch.float32))
