"""Fix snippets speak the user's code (issue 28 §3): every rule's snippet that touches the recurrent layer
names the model's own layer, of its own type, and runs when pasted: against a GRU called `encoder` and
against a 2-layer bidirectional LSTM called `rnn`."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import torch
from torch import nn

from rnndoctor import diagnose
from rnndoctor.core.catalogue import all_rules
from rnndoctor.core.findings import Finding, Severity
from rnndoctor.core.snippets import GENERIC, RecurrentLayer, attribute, personalize
from rnndoctor.runtime.recurrence import named_layers

BATCH, STEPS, FEATURES, HIDDEN = 4, 7, 5, 16

SAMPLE_WORDS: dict[str, Any] = {
    "received_features": FEATURES,
    "input_size": FEATURES,
    "hidden_size": HIDDEN,
    "flag": "batch_first=True",
    "dropout": 0.3,
    "axis": "epoch",
    "best_epoch": 3.0,
}
"""Values for the ``{...}`` fields of the remedies below (the judges take them from the measurement)."""

HARDCODED = re.compile(r"self\.(lstm|gru|rnn)\b|\(h_n, _\)|\(h_n, c_n\)|h_n\[-2\]|lstm\.named_parameters")
"""A recurrent layer written into a template instead of the ``$`` placeholders of `rnndoctor.core.snippets`."""


class GruEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.GRU(FEATURES, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, 3)


class StackedBiLstm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(FEATURES, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * HIDDEN, 3)


MODELS = {"gru-encoder": GruEncoder, "bilstm-rnn": StackedBiLstm}


def _wordings() -> list[tuple[str, str | None, str]]:
    """Every (code, variant, remedy template) of the catalogue."""
    found = []
    for rule in all_rules():
        found.append((rule.code, None, rule.remedy))
        found += [(rule.code, name, wording.remedy) for name, wording in rule.variants.items() if wording.remedy]
    return found


SNIPPETS = [(code, variant, text) for code, variant, text in _wordings() if "$" in text and "```python" in text]


def test_no_template_names_a_layer_of_its_own() -> None:
    """A fix template never hard-codes `self.lstm` or an LSTM's state tuple: the snippet would not run on
    a GRU called anything else."""
    for code, variant, text in _wordings():
        assert not HARDCODED.search(text), f"{code} {variant or ''}: {HARDCODED.search(text)}"


def test_the_recurrent_snippets_are_all_covered() -> None:
    codes = {code for code, _, _ in SNIPPETS}
    assert {"RD108", "RD201", "RD202", "RD206", "RD207", "RD211", "RD212", "RD403", "RD601"} <= codes


def _code_block(fix: str) -> str:
    match = re.search(r"```python\n(.*?)```", fix, re.S)
    assert match, fix
    return match.group(1)


def _rendered(code: str, text: str, layers: list[RecurrentLayer]) -> str:
    finding = Finding(code, Severity.ERROR, "t", "m", text.format(**SAMPLE_WORDS), {"layer": layers[0].path})
    personalize([finding], layers)
    assert "$" not in finding.fix, finding.fix
    return finding.fix


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize(("code", "variant", "text"), SNIPPETS, ids=[f"{c}-{v or ''}" for c, v, _ in SNIPPETS])
def test_every_snippet_runs_on_the_users_model(name: str, code: str, variant: str | None, text: str) -> None:
    model = MODELS[name]()
    (layer,) = named_layers(model)
    before = getattr(model, layer.path)
    snippet = _code_block(_rendered(code, text, [layer]))
    assert f"self.{layer.path}" in snippet or f"model.{layer.path}" in snippet or "self." not in snippet, snippet

    torch.manual_seed(0)
    namespace: dict[str, Any] = {
        "torch": torch,
        "nn": nn,
        "self": model,
        "model": model,
        "x": torch.randn(BATCH, STEPS, FEATURES),
        "lengths": torch.tensor([7, 5, 3, 2]),
        "input_size": FEATURES,
        "hidden_size": HIDDEN,
        "mean": 0.0,
        "std": 1.0,
    }
    model.hidden = None  # the attribute a carried-state model keeps (RD212)
    for _ in range(2):  # twice: the second batch starts from the carried state
        exec(compile(snippet, f"<{code} fix>", "exec"), namespace)  # the snippet under test

    directions = 2 if layer.bidirectional else 1
    for readout in ("last", "features"):
        if readout in namespace:
            assert tuple(namespace[readout].shape) == (BATCH, directions * HIDDEN), f"{readout}: {snippet}"
    rebuilt = getattr(model, layer.path)
    if rebuilt is not before and code != "RD203":  # RD203 swaps a vanilla RNN for a gated cell on purpose
        assert type(rebuilt) is type(before) and rebuilt.bidirectional == before.bidirectional, snippet
        out, _ = rebuilt(copy.deepcopy(namespace["x"]))
        assert out.shape[-1] == directions * HIDDEN


def test_generic_names_without_a_model() -> None:
    """A training log has no model: the snippet names a plain `self.rnn = nn.LSTM(...)`."""
    (text,) = [t for c, v, t in SNIPPETS if c == "RD601" and v is None]
    fix = _rendered("RD601", text, [GENERIC])
    assert "self.rnn = nn.LSTM(input_size, hidden_size, num_layers=2, dropout=0.3" in fix


def test_nested_and_listed_layers_are_named_as_code_reaches_them() -> None:
    assert attribute("body.rnn") == "body.rnn"
    assert attribute("layers.0") == "layers[0]" and attribute("blocks.1.gru") == "blocks[1].gru"


class PaddedGru(nn.Module):
    """Reads the last padded step of an unpacked GRU: the padding leaks into the output (RD206)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.GRU(FEATURES, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, 2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)
        return self.head(out[:, -1])


def test_a_real_diagnosis_writes_the_fix_for_the_users_gru() -> None:
    """The issue's case: an `nn.GRU` called `encoder` read at its last padded step."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(4):
        lengths = torch.randint(3, 12, (16,), generator=generator)
        x = (
            torch.randn(16, 12, FEATURES, generator=generator)
            * (torch.arange(12)[None, :] < lengths[:, None])[..., None]
        )
        batches.append((x, (x[:, 0, 0] > 0).long(), lengths))
    report = diagnose(model=PaddedGru(), train_data=batches, loss=nn.CrossEntropyLoss(), select=["RD206"])
    (finding,) = [f for f in report.findings if f.code == "RD206"]
    snippet = _code_block(finding.fix)
    assert "_, h_n = self.encoder(packed)" in snippet and "last = h_n[-1]" in snippet
    assert "lstm" not in snippet.lower()
