"""Word-level LM data at Wikitext-2's size, generated (no download): 33 278 word types with Zipf-like
frequencies, 2 088 628 training and 217 646 validation tokens, batchified time-major and cut into bptt-long
chunks the way pytorch/examples/word_language_model does it.

Every word is drawn from a Zipf-Mandelbrot distribution over the vocabulary (the shape of real word counts);
every second word is, with probability 0.6, its predecessor's fixed successor instead, so there is something
to learn below the unigram entropy. ``shift=0`` gives the broken twin: targets equal their inputs (RD309).
"""

import importlib.util
from pathlib import Path

import torch

VOCAB = 33278
TRAIN_TOKENS = 2088628
VALID_TOKENS = 217646


def zipf_stream(tokens, vocab=VOCAB, seed=0):
    ranks = torch.arange(vocab, dtype=torch.float64)
    weights = 1.0 / (ranks + 2.7) ** 1.1
    language = torch.Generator().manual_seed(1234)  # the same successors in every split
    successor = torch.randperm(vocab, generator=language)
    g = torch.Generator().manual_seed(seed)
    stream = torch.multinomial(weights.float(), tokens, replacement=True, generator=g)
    follow = torch.rand(tokens // 2, generator=g) < 0.6
    odd = stream[1 : 2 * (tokens // 2) : 2]
    odd[follow] = successor[stream[0 : 2 * (tokens // 2) : 2][follow]]
    return stream


def _upstream():
    """batchify and get_batch as tests/realworld/word_lm has them from pytorch/examples (one copy)."""
    path = Path(__file__).resolve().parents[2] / "tests" / "realworld" / "word_lm" / "data.py"
    spec = importlib.util.spec_from_file_location("word_lm_upstream_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_UPSTREAM = _upstream()


def _batches(source, bptt, shift):
    return _UPSTREAM._batches(source, bptt, shift)


def batchify(data, bsz):
    return _UPSTREAM.batchify(data, bsz)


def train_batches(batch_size=20, bptt=35, shift=1, tokens=TRAIN_TOKENS, vocab=VOCAB):
    return _batches(batchify(zipf_stream(tokens, vocab, seed=0), batch_size), bptt, shift)


def val_batches(batch_size=10, bptt=35, shift=1, tokens=VALID_TOKENS, vocab=VOCAB):
    return _batches(batchify(zipf_stream(tokens, vocab, seed=1), batch_size), bptt, shift)
