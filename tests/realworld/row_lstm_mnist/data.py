"""A tiny MNIST stand-in: 12x12 grayscale "digits" stored as uint8, like torchvision's MNIST.data.

Each class has its own stroke pattern (bars, diagonals, boxes) drawn with random jitter, thickness noise and
background noise. The Dataset converts each image the way transforms.ToTensor() + Normalize((0.1307,),
(0.3081,)) would; with scale=False it hands back the raw 0-255 pixel values instead.
"""

import torch
from torch.utils.data import DataLoader, Dataset

MEAN, STD = 0.1307, 0.3081


def _stroke_templates(size=12):
    t = torch.zeros(10, size, size)
    r = torch.arange(size)
    t[0, 2:10, 2] = 1; t[0, 2:10, 9] = 1; t[0, 2, 2:10] = 1; t[0, 9, 2:10] = 1  # box
    t[1, 1:11, 6] = 1  # vertical bar
    t[2, 2, 2:10] = 1; t[2, r, r] = 1  # top bar + diagonal
    t[3, 2, 2:10] = 1; t[3, 6, 3:10] = 1; t[3, 9, 2:10] = 1  # three bars
    t[4, 1:7, 3] = 1; t[4, 6, 3:10] = 1; t[4, 1:11, 8] = 1  # four
    t[5, 2, 2:10] = 1; t[5, 2:6, 2] = 1; t[5, 6, 2:10] = 1; t[5, 6:10, 9] = 1  # five
    t[6, 2:10, 2] = 1; t[6, 6, 2:10] = 1; t[6, 9, 2:10] = 1  # six
    t[7, 2, 2:10] = 1; t[7, r, size - 1 - r] = 1  # top bar + anti-diagonal
    t[8, 5, 2:10] = 1; t[8, 2:10, 5] = 1  # cross
    t[9, 2, 2:10] = 1; t[9, 2:6, 2] = 1; t[9, 6, 2:10] = 1; t[9, 2:11, 9] = 1  # nine
    return t


class SyntheticDigits(Dataset):
    def __init__(self, n=1000, seed=0, scale=True):
        g = torch.Generator().manual_seed(seed)
        templates = _stroke_templates()
        self.targets = torch.randint(0, 10, (n,), generator=g)
        imgs = templates[self.targets]
        # jitter each image by up to one pixel and add speckle noise
        shifts = torch.randint(-1, 2, (n, 2), generator=g)
        for i in range(n):
            imgs[i] = torch.roll(imgs[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])), dims=(0, 1))
        imgs = imgs * (0.7 + 0.3 * torch.rand(n, 1, 1, generator=g))
        imgs = imgs + 0.15 * torch.rand(n, 12, 12, generator=g)
        self.data = (imgs.clamp(0, 1) * 255).to(torch.uint8)  # like MNIST.data
        self.scale = scale

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        img = self.data[index].float().unsqueeze(0)  # (1, 12, 12)
        if self.scale:
            img = img / 255.0  # ToTensor()
            img = (img - MEAN) / STD  # Normalize((0.1307,), (0.3081,))
        return img, int(self.targets[index])


def train_loader(batch_size=64, scale=True):
    dataset = SyntheticDigits(1000, seed=0, scale=scale)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))


def test_loader(batch_size=256, scale=True):
    dataset = SyntheticDigits(300, seed=1, scale=scale)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False)
