"""Layout inference and sample views: which axis holds the samples, and how outputs map back to them."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, TensorDataset

from rnndoctor.runtime.layout import (
    BATCH_FIRST,
    FLAT_BATCH_FIRST,
    FLAT_TIME_FIRST,
    SINGLE,
    TIME_FIRST,
    infer_layout,
    loader_stacks_batch_first,
    sequence_lengths,
    take_samples,
)

G = torch.Generator().manual_seed(0)


def tokens(*shape: int, low: int = 1, high: int = 50) -> torch.Tensor:
    return torch.randint(low, high, shape, generator=G)


def test_targets_decide_between_batch_first_and_time_major() -> None:
    assert infer_layout(torch.randn(32, 20, 4), targets=torch.zeros(32)).kind == BATCH_FIRST
    layout = infer_layout(torch.randn(20, 32, 4), targets=torch.zeros(32))
    assert layout is not None and (layout.kind, layout.samples, layout.steps) == (TIME_FIRST, 32, 20)


def test_next_token_targets_reveal_the_time_axis_even_when_flattened() -> None:
    stream = tokens(21 * 8)
    source = stream.view(8, 21).t().contiguous()  # batchify: (T_total, N)
    data, target = source[:20], source[1:21].reshape(-1)
    layout = infer_layout(data, targets=target, recurrent_batch_first=True)  # the layer's flag is not evidence
    assert layout is not None and layout.kind == TIME_FIRST and layout.samples == 8
    rows = tokens(8, 21)
    layout = infer_layout(rows[:, :-1], targets=rows[:, 1:].reshape(-1), recurrent_batch_first=False)
    assert layout is not None and layout.kind == BATCH_FIRST


def test_padding_runs_reveal_the_time_axis() -> None:
    sequences = [tokens(n) for n in (5, 9, 12, 7)]
    time_major = pad_sequence(sequences)  # (T, N), pad_sequence's default
    layout = infer_layout(time_major, targets=time_major.clone(), recurrent_batch_first=True)
    assert layout is not None and layout.kind == TIME_FIRST and layout.samples == 4
    found = sequence_lengths(time_major, layout, None, None)
    assert found is not None and found[0] == [5, 9, 12, 7]


def test_one_token_that_equals_the_pad_id_by_chance_is_no_evidence() -> None:
    # A large vocabulary: one id-0 token happens to sit in the last row; flattened next-token targets of a
    # random stream do not show the time axis either. The layer's batch_first decides, not the stray token.
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(1, 30000, (32, 200), generator=generator)
    x[31, 100] = 0
    targets = torch.randint(1, 30000, (32 * 200,), generator=generator)
    layout = infer_layout(x, targets=targets, recurrent_batch_first=True)
    assert layout is not None and layout.kind == BATCH_FIRST and layout.samples == 32, layout


def test_ambiguous_shapes_fall_back_to_the_loader_then_the_layer() -> None:
    x = torch.randn(16, 16, 3)
    loader = DataLoader(TensorDataset(x, torch.zeros(16)), batch_size=16)
    assert loader_stacks_batch_first(loader)
    stacked = infer_layout(x, targets=torch.zeros(16), loader_batch_first=True, recurrent_batch_first=False)
    assert stacked is not None and stacked.kind == BATCH_FIRST
    listed = infer_layout(x, targets=torch.zeros(16), recurrent_batch_first=False)
    assert listed is not None and listed.kind == TIME_FIRST and listed.from_layer


def test_declared_layout_wins() -> None:
    layout = infer_layout(torch.randn(32, 20, 4), targets=torch.zeros(32), declared=TIME_FIRST)
    assert layout is not None and layout.kind == TIME_FIRST and layout.reason == "layout: in the config"


def test_one_dimensional_sequence_is_one_sample() -> None:
    layout = infer_layout(tokens(12), targets=tokens(12))
    assert layout is not None and layout.kind == SINGLE and layout.samples == 1


def test_flattened_time_major_rows_map_back_to_samples() -> None:
    steps, n, vocab = 5, 3, 7
    code = torch.arange(steps)[:, None, None] * 100 + torch.arange(n)[None, :, None] * 10  # value = 100 t + 10 n
    outputs = (code + torch.zeros(steps, n, vocab)).reshape(-1, vocab)  # (T*N, V), as .view(-1, ntoken)
    layout = infer_layout(tokens(steps, n), targets=tokens(steps * n), recurrent_batch_first=False)
    assert layout is not None
    view = layout.view(outputs)
    assert view is not None and view.arrangement == FLAT_TIME_FIRST and view.steps == steps
    canonical = view.canonical(outputs)
    assert canonical.shape == (n, steps, vocab)
    assert int(canonical[2, 4, 0]) == 420
    assert view.take(outputs, 2).shape == (steps * 2, vocab)
    assert set(view.take(outputs, 2)[:, 0].remainder(100).tolist()) == {0, 10}


def test_flattened_batch_first_rows() -> None:
    layout = infer_layout(torch.randn(4, 6, 2), targets=torch.zeros(4, 6))
    assert layout is not None
    view = layout.view(torch.randn(24, 3))
    assert view is not None and view.arrangement == FLAT_BATCH_FIRST and view.steps == 6


def test_class_axis_is_never_taken_for_time() -> None:
    layout = infer_layout(tokens(4, 12), targets=tokens(4, 12, low=0, high=12), recurrent_batch_first=True)
    assert layout is not None
    view = layout.view(torch.randn(4, 12, 12), class_axis=1)
    assert view is not None and view.time_axis == 2


def test_take_samples_cuts_every_part_consistently() -> None:
    data = tokens(20, 16)
    target = tokens(20 * 16)
    lengths = torch.full((16,), 20)
    layout = infer_layout(data, targets=target, lengths=lengths, recurrent_batch_first=False)
    assert layout is not None and layout.kind == TIME_FIRST
    view = layout.view(target)
    cut = take_samples((data, target, lengths), layout, (0, 1), view, 8)
    assert cut[0].shape == (20, 8) and cut[1].shape == (160,) and cut[2].shape == (8,)
    assert torch.equal(cut[1].view(20, 8), target.view(20, 16)[:, :8])


@pytest.mark.parametrize("real_zeros", [False, True])
def test_token_zero_is_padding_only_where_it_behaves_like_padding(real_zeros: bool) -> None:
    x = tokens(32, 12, low=0 if real_zeros else 1, high=20)
    if not real_zeros:
        for i in range(0, 32, 3):
            x[i, 12 - (i % 5) - 1 :] = 0
    layout = infer_layout(x, targets=torch.zeros(32))
    assert layout is not None
    found = sequence_lengths(x, layout, None, None)
    assert found is not None
    padded = found[1] != "no padding found"
    assert padded is not real_zeros


def test_lengths_decide_the_layout_before_the_layers_flag() -> None:
    """16 lengths for a (20, 16, 3) batch: the batch is on axis 1, whatever batch_first the RNN declares."""
    data = torch.zeros(20, 16, 3)
    layout = infer_layout(data, lengths=torch.full((16,), 20), recurrent_batch_first=True)
    assert layout is not None
    assert (layout.kind, layout.samples, layout.steps) == (TIME_FIRST, 16, 20)


@pytest.mark.parametrize("layer_batch_first", [True, False])
def test_a_size_one_axis_is_one_sequence_whatever_the_layer_reads(layer_batch_first: bool) -> None:
    """A (1, T, F) batch of per-step targets is one sequence of T steps: a layer built with the other
    batch_first must not make it T one-step sequences (that is RD202 to find, not a layout to adopt)."""
    x = torch.randn(1, 10, 1)
    layout = infer_layout(x, targets=torch.randn(1, 10, 1), recurrent_batch_first=layer_batch_first)
    assert layout is not None and (layout.kind, layout.samples, layout.steps) == (BATCH_FIRST, 1, 10)
    time_major = infer_layout(x.transpose(0, 1), targets=torch.randn(10, 1, 1), recurrent_batch_first=True)
    assert time_major is not None and (time_major.kind, time_major.samples, time_major.steps) == (TIME_FIRST, 1, 10)


def test_one_step_of_a_batch_is_read_from_the_targets() -> None:
    layout = infer_layout(torch.randn(1, 10, 4), targets=torch.zeros(10), recurrent_batch_first=False)
    assert layout is not None and (layout.kind, layout.samples, layout.steps) == (TIME_FIRST, 10, 1)
