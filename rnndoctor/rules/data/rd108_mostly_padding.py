"""RD108: batches that are mostly padding, or sequence lengths that differ extremely."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import Rule, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.core.options import Option
from rnndoctor.measurements.data import PaddingStats

RULE = Rule(
    code="RD108",
    options=(
        Option(
            "max_padding_share",
            0.5,
            "RD108: share of padded positions in the sampled batches",
            meaning='Share of padded positions in the sampled batches above which batches are "mostly padding".',
            guards=("RD108",),
        ),
        Option(
            "max_length_ratio",
            10.0,
            "RD108: longest/shortest sequence length in the sampled batches",
            meaning=(
                "Ratio of the longest to the shortest sequence in the sampled batches above which the length spread "
                "is extreme."
            ),
            guards=("RD108",),
        ),
    ),
    checks=("inputs",),
    message=(
        "{padding_share:.0%} of the sampled time steps are padding (lengths {min_length} to {max_length}, median "
        "{median_length}, padded to {padded_length}; from {source}). The RNN spends most of its compute on "
        "padding, and unless every read-out and the loss are masked, padding leaks into the result."
    ),
    remedy=(
        "Bucket sequences of similar length into the same batch and pack them:\n\n"
        "```python\npacked = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=$batch_first,\n"
        "                                              enforce_sorted=False)\n"
        "out, $state = $rnn(packed)\n```"
    ),
    title="batches are mostly padding / extreme length spread",
    severity=Severity.INFO,
    what=(
        "Uses the batch lengths (given, or inferred from trailing padding) to compute the share of "
        "padded positions in each batch and the ratio between the longest and the shortest sequence."
    ),
    why=(
        "Padded positions cost compute and memory but carry no signal. Wherever the model or the loss "
        "does not mask them, short sequences are swamped by padding; and when lengths vary widely, a "
        "short sequence's final hidden state may have run through hundreds of pad steps before it is "
        "read."
    ),
    symptoms=(
        "Epochs are slow for the amount of data; short sequences are predicted badly; results change "
        "with the batch size or the order in which samples are batched."
    ),
    fix=(
        "Pad per batch instead of to a global maximum, group sequences of similar length into the same "
        "batch (bucketing), and pack the batch with pack_padded_sequence."
    ),
    before=snippet(
        """
        x = pad_sequence(all_seqs, batch_first=True)          # padded to the longest sequence overall
        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
        """
    ),
    after=snippet(
        """
        def collate(batch):
            seqs, ys = zip(*batch)
            lengths = torch.tensor([len(s) for s in seqs])
            return pad_sequence(seqs, batch_first=True), torch.tensor(ys), lengths

        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]))
        batches = [order[i:i + 32] for i in range(0, len(order), 32)]   # similar lengths together
        random.shuffle(batches)
        loader = DataLoader(pairs, batch_sampler=batches, collate_fn=collate)
        """
    ),
)


@judges(RULE, PaddingStats)
def padding(stats: PaddingStats, options: Mapping[str, Any]) -> list[Finding]:
    """Padding above ``max_padding_share`` of the positions, or longest/shortest length above
    ``max_length_ratio``."""
    max_share, max_ratio = float(options["max_padding_share"]), float(options["max_length_ratio"])
    lengths = [n for n in stats.lengths if n > 0]
    if len(lengths) < 2 or stats.max_steps == 0:
        return []
    share = stats.padding_share
    ratio = max(lengths) / min(lengths)
    if share <= max_share and ratio <= max_ratio:
        return []
    ordered = sorted(lengths)
    median = ordered[len(ordered) // 2]
    evidence = {
        "padding_share": share,
        "min_length": min(lengths),
        "median_length": median,
        "max_length": max(lengths),
        "padded_length": stats.max_steps,
        "length_ratio": ratio,
        "source": stats.source,
    }
    return [RULE.finding(evidence)]
