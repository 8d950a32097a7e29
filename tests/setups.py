"""Small broken and healthy training setups that the tests run rnndoctor over.

Each builder returns the keyword arguments of `rnndoctor.diagnose` (model, train_data, loss, ...).
Data are made here, deterministic and tiny, so every setup runs in well under a second.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

Setup = dict[str, Any]


class SequenceClassifier(nn.Module):
    def __init__(self, features: int = 4, hidden: int = 16, classes: int = 2, cell: str = "lstm") -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = rnn(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class TokenClassifier(nn.Module):
    """Embeds token ids, packs by length, classifies from the final hidden state."""

    def __init__(self, vocab: int = 50, classes: int = 3, hidden: int = 16, pad: int | None = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8, padding_idx=pad)
        self.rnn = nn.GRU(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        e = self.embed(x)
        if lengths is not None:
            packed = nn.utils.rnn.pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, h = self.rnn(packed)
        else:
            _, h = self.rnn(e)
        return self.head(h[-1])


class Tagger(nn.Module):
    """Per-timestep tagger whose outputs are (N, C, T), as CrossEntropyLoss wants them."""

    def __init__(self, vocab: int = 30, tags: int = 5, hidden: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8, padding_idx=0)
        self.rnn = nn.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out).permute(0, 2, 1)


class LanguageModel(nn.Module):
    def __init__(self, vocab: int = 40, hidden: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.rnn = nn.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out)


class Forecaster(nn.Module):
    def __init__(self, features: int = 1, hidden: int = 16) -> None:
        super().__init__()
        self.rnn = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def loader(*tensors: torch.Tensor, batch_size: int = 32, shuffle: bool = True) -> DataLoader:
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle, generator=generator(0))


def drift_data(n: int = 512, classes: int = 2, seed: int = 0, steps: int = 12, features: int = 4):
    g = generator(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, steps, features, generator=g)
    x[:, :, 0] += (y.float() - (classes - 1) / 2)[:, None]
    return x, y


def classifier(**kwargs: Any) -> Setup:
    torch.manual_seed(0)
    classes = kwargs.pop("classes", 2)
    x, y = drift_data(classes=classes)
    setup: Setup = {
        "model": SequenceClassifier(classes=classes),
        "train_data": loader(x, y),
        "loss": nn.CrossEntropyLoss(),
    }
    setup.update(kwargs)
    return setup


# -- healthy setups --------------------------------------------------------------------------------


def healthy_classifier() -> Setup:
    xv, yv = drift_data(n=256, seed=1)
    return classifier(val_data=loader(xv, yv, shuffle=False))


def healthy_multiclass_gru() -> Setup:
    torch.manual_seed(0)
    x, y = drift_data(classes=4)
    return {"model": SequenceClassifier(classes=4, cell="gru"), "train_data": loader(x, y), "loss": "CrossEntropyLoss"}


def padded_tokens(n: int = 256, vocab: int = 50, classes: int = 3, max_len: int = 12, min_len: int = 6, seed: int = 0):
    g = generator(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    x = torch.randint(1, vocab, (n, max_len), generator=g)
    x[torch.arange(max_len)[None, :] >= lengths[:, None]] = 0
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y, lengths


def healthy_packed_tokens() -> Setup:
    torch.manual_seed(0)
    x, y, lengths = padded_tokens()
    batches = [(x[i : i + 32], y[i : i + 32], lengths[i : i + 32]) for i in range(0, len(x), 32)]
    return {"model": TokenClassifier(), "train_data": batches, "loss": nn.CrossEntropyLoss()}


def healthy_tagger() -> Setup:
    torch.manual_seed(0)
    g = generator(0)
    x, _, _ = padded_tokens(vocab=30)
    tags = (x + torch.randint(0, 2, x.shape, generator=g)) % 5  # mostly determined by the token
    tags[x == 0] = -100
    return {"model": Tagger(), "train_data": loader(x, tags), "loss": nn.CrossEntropyLoss(ignore_index=-100)}


def lm_forward(model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = batch[0]
    logits = model(tokens[:, :-1])
    return logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1)


def healthy_language_model() -> Setup:
    torch.manual_seed(0)
    g = generator(0)
    tokens = torch.randint(0, 40, (256, 16), generator=g)
    return {
        "model": LanguageModel(),
        "train_data": loader(tokens),
        "loss": nn.CrossEntropyLoss(),
        "forward": lm_forward,
    }


def sine_windows(n: int = 256, steps: int = 24, seed: int = 0, scale: float = 1.0, offset: float = 0.0):
    g = generator(seed)
    phase = torch.rand(n, 1, generator=g) * 6.28
    t = torch.arange(steps + 1)[None, :] * 0.3 + phase
    series = torch.sin(t) * scale + offset
    return series[:, :steps, None], series[:, steps]


def healthy_regression() -> Setup:
    torch.manual_seed(0)
    x, y = sine_windows()
    return {"model": Forecaster(), "train_data": loader(x, y), "loss": nn.MSELoss()}


def healthy_multilabel() -> Setup:
    torch.manual_seed(0)
    g = generator(0)
    x = torch.randn(256, 10, 4, generator=g)
    y = (torch.rand(256, 3, generator=g) < 0.4).float()
    return {"model": SequenceClassifier(classes=3), "train_data": loader(x, y), "loss": nn.BCEWithLogitsLoss()}


def healthy_binary_bce() -> Setup:
    torch.manual_seed(0)
    x, y = drift_data()
    return {
        "model": SequenceClassifier(classes=1),
        "train_data": loader(x, y.float()[:, None]),
        "loss": nn.BCEWithLogitsLoss(),
    }


def healthy_time_first() -> Setup:
    """An RNN with batch_first=False fed (T, N, F) batches: the layout must be read from the targets."""
    torch.manual_seed(0)
    x, y = drift_data()

    class TimeFirst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(4, 16)
            self.head = nn.Linear(16, 2)

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            _, (h, _) = self.rnn(seq)
            return self.head(h[-1])

    batches = [(x[i : i + 32].transpose(0, 1).contiguous(), y[i : i + 32]) for i in range(0, 512, 32)]
    return {"model": TimeFirst(), "train_data": batches, "loss": nn.CrossEntropyLoss()}


def healthy_sorted_dataset() -> Setup:
    """A dataset sorted by label behind an unshuffled loader: sampling must not see only class 0."""
    x, y = drift_data(n=2048)
    order = torch.argsort(y, stable=True)
    return classifier(train_data=loader(x[order], y[order], shuffle=False))


class PackedClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(4, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, packed: nn.utils.rnn.PackedSequence) -> torch.Tensor:
        _, h = self.rnn(packed)
        return self.head(h[-1])


def healthy_packed_float_inputs() -> Setup:
    """Batches whose inputs are already PackedSequence objects."""
    torch.manual_seed(0)
    x, y = drift_data(n=256)
    lengths = torch.randint(4, 13, (256,), generator=generator(2))
    batches = []
    for i in range(0, 256, 32):
        packed = nn.utils.rnn.pack_padded_sequence(
            x[i : i + 32], lengths[i : i + 32], batch_first=True, enforce_sorted=False
        )
        batches.append((packed, y[i : i + 32]))
    return {"model": PackedClassifier(), "train_data": batches, "loss": nn.CrossEntropyLoss()}


def casting_forward(model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, labels = batch
    return model(inputs), labels.long()


def healthy_forward_casts_targets() -> Setup:
    """Float labels in the loader are fine when the user's forward casts them before the loss."""
    x, y = drift_data()
    return classifier(train_data=loader(x, y.float()), forward=casting_forward)


HEALTHY = {
    "packed_float_inputs": healthy_packed_float_inputs,
    "forward_casts_targets": healthy_forward_casts_targets,
    "classifier": healthy_classifier,
    "multiclass_gru": healthy_multiclass_gru,
    "packed_tokens": healthy_packed_tokens,
    "tagger_ignore_index": healthy_tagger,
    "language_model": healthy_language_model,
    "regression": healthy_regression,
    "multilabel": healthy_multilabel,
    "binary_bce": healthy_binary_bce,
    "time_first": healthy_time_first,
    "sorted_dataset": healthy_sorted_dataset,
}


# -- broken setups: one per data code ---------------------------------------------------------------


def single_class() -> Setup:
    x, y = drift_data()
    return classifier(train_data=loader(x, torch.zeros_like(y)))


def imbalanced() -> Setup:
    g = generator(3)
    x, _ = drift_data(n=1024)
    y = (torch.rand(1024, generator=g) < 0.04).long()
    return classifier(train_data=loader(x, y))


def one_based_labels() -> Setup:
    x, y = drift_data(classes=3)
    return classifier(classes=3, train_data=loader(x, y + 1))


def float_class_ids() -> Setup:
    x, y = drift_data()
    return classifier(train_data=loader(x, y.float()))


def integer_bce_targets() -> Setup:
    setup = healthy_binary_bce()
    x, y = drift_data()
    setup["train_data"] = loader(x, y[:, None])
    return setup


def one_hot_long_targets() -> Setup:
    x, y = drift_data(classes=3)
    return classifier(classes=3, train_data=loader(x, nn.functional.one_hot(y, 3)))


def nan_inputs() -> Setup:
    x, y = drift_data()
    x[5, 3, 1] = float("nan")
    x[100, 0, 2] = float("inf")
    return classifier(train_data=loader(x, y, shuffle=False))


def unscaled_inputs() -> Setup:
    x, y = sine_windows(scale=40.0, offset=300.0)
    return {"model": Forecaster(), "train_data": loader(x, y), "loss": nn.MSELoss()}


def disparate_scales() -> Setup:
    x, y = drift_data()
    x[:, :, 1] *= 1e-2
    x[:, :, 2] *= 20
    return classifier(train_data=loader(x, y))


def constant_feature() -> Setup:
    x, y = drift_data()
    x[:, :, 3] = 1.0
    return classifier(train_data=loader(x, y))


def mostly_padding() -> Setup:
    torch.manual_seed(0)
    x, y, lengths = padded_tokens(max_len=60, min_len=2)
    x[:, 10:] = 0
    lengths = lengths.clamp(max=10)
    batches = [(x[i : i + 32], y[i : i + 32], lengths[i : i + 32]) for i in range(0, len(x), 32)]
    return {"model": TokenClassifier(), "train_data": batches, "loss": nn.CrossEntropyLoss()}


def tokens_beyond_embedding() -> Setup:
    torch.manual_seed(0)
    x, y, lengths = padded_tokens(vocab=60)
    batches = [(x[i : i + 32], y[i : i + 32], lengths[i : i + 32]) for i in range(0, len(x), 32)]
    return {"model": TokenClassifier(vocab=50), "train_data": batches, "loss": nn.CrossEntropyLoss()}


def label_shift() -> Setup:
    xv, _ = drift_data(n=256, seed=1)
    yv = (torch.rand(256, generator=generator(5)) < 0.9).long()
    return classifier(val_data=loader(xv, yv))


def leaked_validation() -> Setup:
    x, y = drift_data()
    return classifier(val_data=loader(x[:128].clone(), y[:128].clone(), shuffle=False))


BROKEN = {
    "RD101": single_class,
    "RD102": imbalanced,
    "RD103": one_based_labels,
    "RD104": float_class_ids,
    "RD105": nan_inputs,
    "RD106": unscaled_inputs,
    "RD107": constant_feature,
    "RD108": mostly_padding,
    "RD109": tokens_beyond_embedding,
    "RD110": label_shift,
    "RD111": leaked_validation,
}


# -- broken setups: model structure and loss --------------------------------------------------------


def wrong_input_size() -> Setup:
    return classifier(model=SequenceClassifier(features=7))


class TimeMajorLSTM(nn.Module):
    """batch_first=False, but fed the loader's (N, T, F) batches."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[-1])


def swapped_axes() -> Setup:
    return classifier(model=TimeMajorLSTM())


def vanilla_long() -> Setup:
    torch.manual_seed(0)
    x, y = drift_data(n=128, steps=240)
    return {"model": SequenceClassifier(cell="rnn"), "train_data": loader(x, y), "loss": nn.CrossEntropyLoss()}


def relu_rnn() -> Setup:
    torch.manual_seed(0)
    model = SequenceClassifier(cell="rnn")
    model.rnn = nn.RNN(4, 16, batch_first=True, nonlinearity="relu")
    return classifier(model=model)


def useless_dropout() -> Setup:
    torch.manual_seed(0)
    model = SequenceClassifier()
    model.rnn = nn.LSTM(4, 16, batch_first=True, dropout=0.3)
    return classifier(model=model)


def exploding_recurrent_init() -> Setup:
    torch.manual_seed(0)
    model = SequenceClassifier(hidden=64)
    nn.init.normal_(model.rnn.weight_hh_l0, std=1.0)
    return classifier(model=model)


class StatefulLSTM(nn.Module):
    """Carries its hidden state across batches without detaching it."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 16, batch_first=True)
        self.head = nn.Linear(16, 2)
        self.hidden: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hidden is not None and self.hidden[0].shape[1] != x.shape[0]:
            self.hidden = None
        out, self.hidden = self.rnn(x, self.hidden)
        return self.head(out[:, -1])


def carried_hidden_state() -> Setup:
    torch.manual_seed(0)
    return classifier(model=StatefulLSTM())


class ListOfLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = [nn.LSTM(4, 16, batch_first=True), nn.LSTM(16, 16, batch_first=True)]
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x, _ = layer(x)
        return self.head(x[:, -1])


def unregistered_layers() -> Setup:
    torch.manual_seed(0)
    return classifier(model=ListOfLayers())


def mse_on_one_hot() -> Setup:
    x, y = drift_data(classes=3)
    return classifier(classes=3, train_data=loader(x, nn.functional.one_hot(y, 3).float()), loss=nn.MSELoss())


class SoftmaxClassifier(SequenceClassifier):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(super().forward(x), dim=-1)


def double_softmax() -> Setup:
    torch.manual_seed(0)
    return classifier(model=SoftmaxClassifier(classes=3), classes=3)


def nll_on_raw_scores() -> Setup:
    return classifier(classes=3, loss=nn.NLLLoss())


def unsqueezed_regression() -> Setup:
    setup = healthy_regression()

    class NoSqueeze(Forecaster):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    torch.manual_seed(0)
    setup["model"] = NoSqueeze()
    return setup


class UnpermutedTagger(Tagger):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out)


def class_axis_silent() -> Setup:
    """(N, T, C) logits with T == C: CrossEntropyLoss raises nothing and trains on scrambled targets."""
    torch.manual_seed(0)
    g = generator(0)
    x = torch.randint(1, 30, (256, 5), generator=g)
    tags = torch.randint(0, 5, (256, 5), generator=g)
    return {"model": UnpermutedTagger(tags=5), "train_data": loader(x, tags), "loss": nn.CrossEntropyLoss()}


def class_axis_crash() -> Setup:
    setup = healthy_tagger()
    torch.manual_seed(0)
    setup["model"] = UnpermutedTagger()
    return setup


def padded_targets_scored() -> Setup:
    setup = healthy_tagger()
    g = generator(1)
    xs, _, _ = padded_tokens(vocab=30)
    tags = torch.randint(1, 5, xs.shape, generator=g)
    tags[xs == 0] = 0
    setup["train_data"] = loader(xs, tags)
    setup["loss"] = nn.CrossEntropyLoss()
    return setup


def huge_initial_logits() -> Setup:
    torch.manual_seed(0)
    model = SequenceClassifier(classes=4)
    with torch.no_grad():
        model.head.weight.mul_(60)
    x, y = drift_data(classes=4)
    return {"model": model, "train_data": loader(x, y), "loss": nn.CrossEntropyLoss()}


def bce_on_one_hot() -> Setup:
    x, y = drift_data(classes=3)
    return classifier(classes=3, train_data=loader(x, nn.functional.one_hot(y, 3).float()), loss=nn.BCEWithLogitsLoss())


BROKEN_MODEL_AND_LOSS = {
    "RD201": wrong_input_size,
    "RD202": swapped_axes,
    "RD203": vanilla_long,
    "RD204": relu_rnn,
    "RD205": useless_dropout,
    "RD208": exploding_recurrent_init,
    "RD212": carried_hidden_state,
    "RD213": unregistered_layers,
    "RD301": mse_on_one_hot,
    "RD302": double_softmax,
    "RD303": nll_on_raw_scores,
    "RD304": unsqueezed_regression,
    "RD305": class_axis_silent,
    "RD306": padded_targets_scored,
    "RD307": huge_initial_logits,
    "RD308": bce_on_one_hot,
}


# -- healthy variants that resemble the broken ones -------------------------------------------------


class DetachingStatefulLSTM(StatefulLSTM):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hidden is not None and self.hidden[0].shape[1] == x.shape[0]:
            self.hidden = (self.hidden[0].detach(), self.hidden[1].detach())
        else:
            self.hidden = None
        out, self.hidden = self.rnn(x, self.hidden)
        return self.head(out[:, -1])


class LogSoftmaxClassifier(SequenceClassifier):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(super().forward(x), dim=-1)


class SigmoidClassifier(SequenceClassifier):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(super().forward(x)).squeeze(-1)


class LogSoftmaxTagger(Tagger):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(super().forward(x), dim=1)


def healthy_detached_state() -> Setup:
    torch.manual_seed(0)
    return classifier(model=DetachingStatefulLSTM())


def healthy_nll_on_log_softmax() -> Setup:
    torch.manual_seed(0)
    return classifier(model=LogSoftmaxClassifier(classes=3), classes=3, loss=nn.NLLLoss())


def healthy_bce_on_sigmoid() -> Setup:
    torch.manual_seed(0)
    x, y = drift_data()
    return {"model": SigmoidClassifier(classes=1), "train_data": loader(x, y.float()), "loss": nn.BCELoss()}


def healthy_nll_tagger() -> Setup:
    setup = healthy_tagger()
    torch.manual_seed(0)
    setup["model"] = LogSoftmaxTagger()
    setup["loss"] = nn.NLLLoss(ignore_index=-100)
    return setup


def healthy_square_tagger() -> Setup:
    """T == C with the class axis correctly permuted: must not be mistaken for RD305."""
    setup = class_axis_silent()
    torch.manual_seed(0)
    setup["model"] = Tagger(tags=5)
    return setup


HEALTHY.update(
    {
        "detached_state": healthy_detached_state,
        "nll_on_log_softmax": healthy_nll_on_log_softmax,
        "bce_on_sigmoid": healthy_bce_on_sigmoid,
        "nll_tagger": healthy_nll_tagger,
        "square_tagger": healthy_square_tagger,
    }
)


class InputNormalizingClassifier(nn.Module):
    """Normalizes raw features with BatchNorm before the LSTM: unscaled data is fine here."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(4)
        self.rnn = nn.LSTM(4, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def healthy_batchnorm_on_inputs() -> Setup:
    torch.manual_seed(0)
    x, y = drift_data()
    return classifier(model=InputNormalizingClassifier(), train_data=loader(x * 30 + 100, y))


HEALTHY["batchnorm_on_inputs"] = healthy_batchnorm_on_inputs


def unscaled_through_projection() -> Setup:
    """A linear projection before the RNN does not normalize: still RD106."""

    class Projected(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 8)
            self.rnn = nn.GRU(8, 16, batch_first=True)
            self.head = nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.proj(x))[1][-1])

    torch.manual_seed(0)
    x, y = drift_data()
    return classifier(model=Projected(), train_data=loader(x * 30 + 100, y))


# -- broken setups: gradients, probes and the training step -------------------------------------------


def swapped_axes_silent() -> Setup:
    """batch_first=False on (N, T, F) batches with N == T: no shape error anywhere."""
    torch.manual_seed(0)
    x, y = drift_data(n=240, steps=12)
    return {"model": TimeMajorLSTM(), "train_data": loader(x, y, batch_size=12), "loss": nn.CrossEntropyLoss()}


class LastStepReader(nn.Module):
    """Runs the RNN over right-padded batches without packing and reads out[:, -1]."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 8, padding_idx=0)
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out[:, -1])


def padded_last_step_readout() -> Setup:
    torch.manual_seed(0)
    x, y, lengths = padded_tokens()
    batches = [(x[i : i + 32], y[i : i + 32], lengths[i : i + 32]) for i in range(0, len(x), 32)]
    return {"model": LastStepReader(), "train_data": batches, "loss": nn.CrossEntropyLoss()}


class FlattenedStates(nn.Module):
    """h_n.view(batch, -1) on a 2-layer LSTM: mixes samples across the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.rnn(x)
        return self.head(h_n.view(x.shape[0], -1))


def h_n_view() -> Setup:
    torch.manual_seed(0)
    return classifier(model=FlattenedStates())


def saturated_gates() -> Setup:
    torch.manual_seed(0)
    model = SequenceClassifier()
    with torch.no_grad():
        model.rnn.weight_ih_l0.mul_(25)
    return classifier(model=model)


class DetachedEncoder(SequenceClassifier):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1].detach())


def detached_encoder() -> Setup:
    torch.manual_seed(0)
    return classifier(model=DetachedEncoder())


class LastStepBidirectional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 16, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def bidirectional_last_step() -> Setup:
    torch.manual_seed(0)
    return classifier(model=LastStepBidirectional())


class SafeSqrtFeatures(SequenceClassifier):
    """torch.where(h > 0, h.sqrt(), 0): finite forward, but the unselected sqrt branch sends NaN back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        h = out[:, -1]
        return self.head(torch.where(h > 0, h.sqrt(), torch.zeros_like(h)))


def non_finite_gradients() -> Setup:
    torch.manual_seed(0)
    return classifier(model=SafeSqrtFeatures())


def deep_stack() -> Setup:
    torch.manual_seed(0)
    model = SequenceClassifier()
    model.rnn = nn.LSTM(4, 16, num_layers=10, batch_first=True)
    return classifier(model=model)


def short_memory() -> Setup:
    torch.manual_seed(0)
    model = SequenceClassifier(cell="rnn")
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(0.2)
    x, y = drift_data(steps=40)
    return classifier(model=model, train_data=loader(x, y))


def step_without_zero_grad(model: nn.Module, batch: Any, optimizer: torch.optim.Optimizer, loss_fn: Any) -> Any:
    x, y = batch
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def missing_zero_grad() -> Setup:
    return classifier(train_step=step_without_zero_grad)


def tiny_learning_rate() -> Setup:
    """In the --quick profile (no learning-rate sweep) the size of one update is the first sign."""
    setup = classifier(quick=True)
    setup["optimizer"] = torch.optim.SGD(setup["model"].parameters(), lr=1e-9)
    return setup


class DropoutClassifier(SequenceClassifier):
    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(self.drop(out[:, -1]))


def step_in_eval_mode(model: nn.Module, batch: Any, optimizer: torch.optim.Optimizer, loss_fn: Any) -> Any:
    x, y = batch
    model.eval()  # left over from validation
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def eval_mode_updates() -> Setup:
    torch.manual_seed(0)
    return classifier(model=DropoutClassifier(), train_step=step_in_eval_mode)


BROKEN_PROBES = {
    "RD202": swapped_axes_silent,
    "RD206": padded_last_step_readout,
    "RD207": h_n_view,
    "RD209": saturated_gates,
    "RD210": detached_encoder,
    "RD211": bidirectional_last_step,
    "RD401": non_finite_gradients,
    "RD402": deep_stack,
    "RD403": short_memory,
    "RD404": missing_zero_grad,
    "RD405": tiny_learning_rate,
    "RD406": eval_mode_updates,
}


def proper_step(model: nn.Module, batch: Any, optimizer: torch.optim.Optimizer, loss_fn: Any) -> Any:
    x, y = batch
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def eval_without_dropout_step(model: nn.Module, batch: Any, optimizer: torch.optim.Optimizer, loss_fn: Any) -> Any:
    """Calls model.eval() before stepping, on a model where modes make no difference."""
    x, y = batch
    model.eval()
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def zero_grad_after_step(model: nn.Module, batch: Any, optimizer: torch.optim.Optimizer, loss_fn: Any) -> Any:
    x, y = batch
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss


class BidirectionalHN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(4, 16, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h_n = self.rnn(x)
        return self.head(torch.cat([h_n[-2], h_n[-1]], dim=-1))


class BidirectionalMeanPool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 16, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out.mean(dim=1))


class MaskedLastStep(LastStepReader):
    """Reads each sequence's last valid step: padding does not matter."""

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out[torch.arange(x.shape[0]), lengths - 1])


def healthy_masked_last_step() -> Setup:
    setup = padded_last_step_readout()
    torch.manual_seed(0)
    setup["model"] = MaskedLastStep()
    return setup


def healthy_long_lstm() -> Setup:
    """A default LSTM on 120-step sequences: short memory at initialization is normal, not RD403."""
    torch.manual_seed(0)
    x, y = drift_data(n=256, steps=120)
    return classifier(train_data=loader(x, y))


HEALTHY.update(
    {
        "proper_train_step": lambda: classifier(train_step=proper_step),
        "eval_without_dropout_step": lambda: classifier(train_step=eval_without_dropout_step),
        "zero_grad_after_step": lambda: classifier(train_step=zero_grad_after_step),
        "bidirectional_h_n": lambda: classifier(model=BidirectionalHN()),
        "bidirectional_mean_pool": lambda: classifier(model=BidirectionalMeanPool()),
        "masked_last_step": healthy_masked_last_step,
        "long_lstm": healthy_long_lstm,
    }
)


def adam_lr_1e_7() -> Setup:
    setup = classifier()
    setup["optimizer"] = torch.optim.Adam(setup["model"].parameters(), lr=1e-7)
    return setup


def sgd_lr_too_high() -> Setup:
    setup = classifier()
    setup["optimizer"] = torch.optim.SGD(setup["model"].parameters(), lr=30.0)
    return setup


def sgd_healthy() -> Setup:
    setup = classifier()
    setup["optimizer"] = torch.optim.SGD(setup["model"].parameters(), lr=0.3, momentum=0.9)
    return setup


def memorizing_model() -> Setup:
    """Few noisy training samples, a large model and a high rate: validation turns after a few epochs."""
    torch.manual_seed(0)
    x, y = drift_data(n=96, seed=7)
    flip = torch.rand(96, generator=generator(8)) < 0.3
    y = torch.where(flip, 1 - y, y)
    xv, yv = drift_data(n=256, seed=9)
    model = SequenceClassifier(hidden=128)
    return {
        "model": model,
        "train_data": loader(x, y),
        "val_data": loader(xv, yv, shuffle=False),
        "loss": nn.CrossEntropyLoss(),
        "optimizer": torch.optim.Adam(model.parameters(), lr=1e-2),
        "checks": {"overfitting": {"epochs": 30}},
    }


BROKEN_DYNAMICS = {
    "RD501": adam_lr_1e_7,
    "RD502": sgd_lr_too_high,
    "RD601": memorizing_model,
}


class InputIgnoringClassifier(nn.Module):
    """Feeds the RNN a tensor of zeros shaped like the input instead of the input (a classic copy-paste slip)."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(4, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros_like(x)
        out, _ = self.rnn(h0)
        return self.head(out[:, -1])


ERRORS: dict[str, dict[str, frozenset[str]]] = {
    "data": {
        "RD101": frozenset({"RD101"}),
        "RD102": frozenset(),
        "RD103": frozenset({"RD103"}),
        "RD104": frozenset({"RD104"}),
        "RD105": frozenset({"RD105", "RD401", "RD503"}),
        "RD106": frozenset({"RD106", "RD401", "RD501"}),
        "RD107": frozenset(),
        "RD108": frozenset({"RD507"}),
        "RD109": frozenset({"RD109"}),
        "RD110": frozenset(),
        "RD111": frozenset(),
    },
    "model_and_loss": {
        "RD201": frozenset({"RD201"}),
        "RD202": frozenset({"RD202", "RD304"}),
        "RD203": frozenset(),
        "RD204": frozenset(),
        "RD205": frozenset(),
        "RD208": frozenset(),
        "RD212": frozenset({"RD212"}),
        "RD213": frozenset({"RD213", "RD501"}),
        "RD301": frozenset({"RD301"}),
        "RD302": frozenset({"RD302"}),
        "RD303": frozenset({"RD303", "RD501"}),
        "RD304": frozenset({"RD304", "RD503", "RD507"}),
        "RD305": frozenset({"RD305"}),
        "RD306": frozenset(),
        "RD307": frozenset(),
        "RD308": frozenset({"RD308"}),
    },
    "probes": {
        "RD202": frozenset({"RD202", "RD304", "RD507"}),
        "RD206": frozenset({"RD206"}),
        "RD207": frozenset({"RD207", "RD507"}),
        "RD209": frozenset(),
        "RD210": frozenset({"RD210"}),
        "RD211": frozenset({"RD210"}),
        "RD401": frozenset({"RD401", "RD503", "RD507"}),
        "RD402": frozenset({"RD507"}),
        "RD403": frozenset(),
        "RD404": frozenset({"RD404"}),
        "RD405": frozenset(),
        "RD406": frozenset(),
    },
    "dynamics": {
        "RD501": frozenset({"RD501", "RD505"}),
        "RD502": frozenset({"RD502"}),
        "RD601": frozenset(),
    },
}
"""Every code each broken setup yields at error level, by group and setup: its own and the symptoms it causes."""
