"""Gaussian negative log-likelihood on packed (mean, var) outputs."""

import torch.nn.functional as F


def gaussian_nll(outputs, targets):
    mean, var = outputs[:, 0], outputs[:, 1]
    return F.gaussian_nll_loss(mean, targets, var)
