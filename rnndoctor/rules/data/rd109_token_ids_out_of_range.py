"""RD109: token ids outside the model's embedding table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnndoctor.core.catalogue import CrashSignature, Rule, Wording, snippet
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.judging import judges
from rnndoctor.measurements.data import TokenRange

RULE = Rule(
    code="RD109",
    crashes=(CrashSignature(r"index out of range in self|device-side assert", ("forward",)),),
    checks=("inputs",),
    message=(
        "{out_of_range} of {tokens} sampled token ids fall outside the embedding table '{module}' "
        "({num_embeddings} rows, valid ids 0..{last_id}); the ids span {min_id}..{max_id}. On the CPU this raises "
        "'index out of range in self'; on CUDA a device-side assert that poisons the whole process."
    ),
    remedy=(
        "Size the embedding from the vocabulary (counting padding and unknown tokens):\n\n"
        "```python\nself.{attribute} = nn.Embedding(len(vocab), embedding_dim, padding_idx=pad_id)\n"
        "# and map unseen tokens to an <unk> id instead of a new number\n```"
    ),
    variants={
        "crash": Wording(
            message="The {stage_words} raised an error: a token id is outside the embedding table. {error}",
            remedy=(
                "Size nn.Embedding to the vocabulary (num_embeddings = max id + 1) or map unknown tokens to <unk>."
            ),
        ),
    },
    title="token ids outside the embedding table",
    severity=Severity.ERROR,
    what=(
        "For a model whose input goes through an nn.Embedding, compares the smallest and largest token "
        "id in the sampled batches with the embedding's num_embeddings."
    ),
    why=(
        "An embedding lookup selects a row by id, and an id that is negative or not smaller than the "
        "table size has no row. It raises on the CPU and triggers a device-side assert on CUDA. Typical "
        "causes are a table sized without the special tokens (padding, unknown), or a vocabulary built "
        "on the training split and applied to validation text that holds unseen words."
    ),
    symptoms=(
        '"IndexError: index out of range in self" or a CUDA device-side assert, often only on some '
        "batches or only during validation."
    ),
    fix=(
        "Size the embedding as the full vocabulary including special tokens, and map every unknown token "
        "to a reserved <unk> id."
    ),
    before=snippet(
        """
        vocab = {tok: i + 1 for i, tok in enumerate(words)}       # 0 is kept for padding
        model.embed = nn.Embedding(len(words), 128)               # one row short
        ids = [vocab[tok] for tok in tokens]                      # unseen words raise KeyError
        """
    ),
    after=snippet(
        """
        vocab = {tok: i + 2 for i, tok in enumerate(words)}       # 0 = <pad>, 1 = <unk>
        model.embed = nn.Embedding(len(words) + 2, 128, padding_idx=0)
        ids = [vocab.get(tok, 1) for tok in tokens]
        """
    ),
    explains=("RD503", "RD505"),
)


@judges(RULE, TokenRange)
def token_range(tokens: TokenRange, options: Mapping[str, Any]) -> list[Finding]:
    """Token ids at or above the embedding table size, or negative."""
    if tokens.out_of_range == 0:
        return []
    evidence = {
        "max_id": tokens.max_id,
        "min_id": tokens.min_id,
        "num_embeddings": tokens.num_embeddings,
        "module": tokens.module,
        "out_of_range": tokens.out_of_range,
        "tokens": tokens.total,
    }
    words = {"last_id": tokens.num_embeddings - 1, "attribute": tokens.module or "embedding"}
    return [RULE.finding(evidence, words)]
