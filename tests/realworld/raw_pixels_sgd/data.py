"""Synthetic 16x16 grayscale "glyph" scans in 4 classes, as float pixels in 0-255 (a decoded uint8 image).

Class 0: a horizontal bar, 1: a vertical bar, 2: a diagonal stroke, 3: an anti-diagonal stroke, each at a
random offset and drawn a little brighter (155-210) than the noisy gray background (105-150). The model
reads an image row by row, so a batch is (N, 16, 16). ``normalize=True`` applies the usual ToTensor +
Normalize preprocessing (divide by 255, then subtract the training mean and divide by the training std);
``normalize=False`` feeds the raw 0-255 values.
"""

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_glyphs(num_images=1000, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = 105.0 + 45.0 * torch.rand(num_images, size, size, generator=g)  # gray, noisy scan background
    labels = torch.randint(0, 4, (num_images,), generator=g)
    offsets = torch.randint(-5, 6, (num_images,), generator=g)
    rows = torch.arange(size)[:, None].expand(size, size)
    cols = torch.arange(size)[None, :].expand(size, size)
    for i in range(num_images):
        k, off = int(labels[i]), int(offsets[i])
        if k == 0:
            stroke = (rows - size // 2 - off).abs() <= 1
        elif k == 1:
            stroke = (cols - size // 2 - off).abs() <= 1
        elif k == 2:
            stroke = (rows - cols - off).abs() <= 1
        else:
            stroke = (rows + cols - size + 1 - off).abs() <= 1
        images[i][stroke] = 155.0 + 55.0 * torch.rand(int(stroke.sum()), generator=g)
    return images.round(), labels


def train_loader(batch_size=64, normalize=True):
    images, labels = make_glyphs()
    if normalize:
        images = images / 255.0
        mean, std = images.mean(), images.std()
        images = (images - mean) / std
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
