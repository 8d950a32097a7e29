"""Documentation for every RD code: the setup codes rnndoctor adds (RD0xx), then the contract's table."""

from __future__ import annotations

import textwrap

from rnndoctor.findings import Severity
from rnndoctor.rules import Rule

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO


def _code(text: str) -> str:
    """Snippets are written indented inside the table; store them flush left, without blank edges."""
    return textwrap.dedent(text).strip("\n")


RULES: tuple[Rule, ...] = (
    Rule(
        code="RD001",
        title="the user's code raised an error during a check",
        severity=E,
        what=(
            "Runs the model, loss, data loader and training step on sampled batches; when one of them raises "
            "and the message matches no known cause (such as an input-size mismatch), the error itself is "
            "reported with the stage it happened in and the line of your code that raised it."
        ),
        why=(
            "A setup that crashes on its first batches cannot train at all, and the checks that need that "
            "stage cannot measure anything until the crash is fixed."
        ),
        symptoms="The training script stops with a traceback on the first batch or the first epoch.",
        fix=(
            "Read the quoted error and the file and line given in the evidence; run that stage by hand on one "
            "batch (next(iter(loader))) to reproduce it."
        ),
        before=_code(
            """
            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(out[:, -1]).view(self.batch_size, -1)  # fails on the last, smaller batch
            """
        ),
        after=_code(
            """
            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(out[:, -1])
            """
        ),
    ),
    Rule(
        code="RD002",
        title="the data yields no usable batches",
        severity=E,
        what=(
            "Draws the first batches from the training (and validation) data and reports when there are none, "
            "or when a batch is not (inputs, targets), (inputs, targets, lengths) or a dict with those keys "
            "and no forward function says how to use it."
        ),
        why=(
            "An empty loader trains nothing: every epoch ends at once and the weights never change. A batch in "
            "an unexpected layout means the model is called with the wrong arguments."
        ),
        symptoms=(
            "Epochs that finish instantly with no loss printed, or a loss that is never computed; a DataLoader "
            "with drop_last=True and a batch size larger than the dataset."
        ),
        fix=(
            "Make the loader yield (inputs, targets[, lengths]) batches (check len(loader) > 0, drop_last, the "
            "dataset's filters), or give `forward: steps.py:forward_batch` in the config for another layout."
        ),
        before=_code(
            """
            loader = DataLoader(dataset, batch_size=256, drop_last=True)  # only 200 samples
            """
        ),
        after=_code(
            """
            loader = DataLoader(dataset, batch_size=32, shuffle=True)
            assert len(loader) > 0
            """
        ),
    ),
    Rule(
        code="RD101",
        title="all training targets are one class",
        severity=E,
        what=(
            "Counts class ids over the sampled training batches, leaving out positions equal to the loss's "
            "ignore_index, and reports when every remaining target has the same value."
        ),
        why=(
            "With a single class in the data, the loss is minimised by a constant prediction that ignores "
            "the input: the output bias learns it and no weight ever receives a signal to tell inputs apart. "
            "The model looks perfect on the training set and has learned nothing. The usual causes are a "
            "label column overwritten or read from the wrong field, a filter that dropped the other classes, "
            "or a dataset sorted by label and read without shuffling, so that the first batches all share "
            "one class."
        ),
        symptoms=(
            "Training loss drops almost at once to near zero and training accuracy is 100%, yet the model "
            "predicts the same class for every input on validation or new data."
        ),
        fix=(
            "Check the label pipeline end to end (print torch.bincount of the targets) and shuffle the "
            "training loader so that every batch mixes classes."
        ),
        before=_code(
            """
            dataset = TensorDataset(x, y)                    # rows stored sorted by label
            loader = DataLoader(dataset, batch_size=32)      # the first batches hold class 0 only
            """
        ),
        after=_code(
            """
            dataset = TensorDataset(x, y)
            print(torch.bincount(y))                         # several classes, each with samples
            loader = DataLoader(dataset, batch_size=32, shuffle=True)
            """
        ),
    ),
    Rule(
        code="RD102",
        title="strong class imbalance",
        severity=W,
        what=(
            "Counts how often each class id occurs in the sampled training batches and reports when the "
            "ratio between the most and the least frequent class, or the share of the majority class, passes "
            "a threshold."
        ),
        why=(
            "A loss averaged over samples is dominated by the frequent class, so always predicting it is a "
            "deep, easy minimum. Gradients from the rare classes are few and get outweighed in every batch, "
            "and the model may never leave the constant prediction. Plain accuracy then rewards that "
            "failure."
        ),
        symptoms=(
            "Accuracy looks good but equals the majority share (say 95%); recall on the rare classes is "
            "zero, the confusion matrix has one filled column, and macro-F1 is low."
        ),
        fix=(
            "Weight the loss by inverse class frequency (CrossEntropyLoss(weight=...)) or oversample rare "
            "classes with a WeightedRandomSampler, and track per-class recall or macro-F1 instead of "
            "accuracy."
        ),
        before=_code(
            """
            loss_fn = nn.CrossEntropyLoss()
            loader = DataLoader(train_ds, batch_size=32, shuffle=True)   # 95% of the labels are class 0
            """
        ),
        after=_code(
            """
            counts = torch.bincount(train_labels, minlength=num_classes).float()
            weights = counts.sum() / (num_classes * counts.clamp(min=1))
            loss_fn = nn.CrossEntropyLoss(weight=weights)
            loader = DataLoader(train_ds, batch_size=32, shuffle=True)
            """
        ),
    ),
    Rule(
        code="RD103",
        title="class ids outside the model's output range",
        severity=E,
        what=(
            "Compares the smallest and largest class id in the sampled targets with the size of the model's "
            "class axis, and reports any id that is negative (other than the loss's ignore_index) or not "
            "smaller than the number of output classes."
        ),
        why=(
            "Class-index losses such as CrossEntropyLoss and NLLLoss use the target to index the output, so "
            "an id past the end has no score to pick. On the CPU this raises; on CUDA it triggers a "
            "device-side assert that leaves the CUDA context unusable and is often reported at a later, "
            "unrelated line. The usual causes are labels numbered from 1 instead of 0, or an output layer "
            "sized for fewer classes than the data contains."
        ),
        symptoms=(
            '"IndexError: Target 10 is out of bounds" on the first batch, or "CUDA error: device-side assert '
            'triggered" that may only show up on some batches.'
        ),
        fix=(
            "Remap the labels to 0 .. C-1 (for example subtract 1 from 1-based labels) and size the final "
            "layer to the real number of classes."
        ),
        before=_code(
            """
            num_classes = 10
            model.head = nn.Linear(hidden_size, num_classes)
            y = torch.tensor(labels)                  # labels numbered 1 .. 10
            loss = loss_fn(model(x), y)
            """
        ),
        after=_code(
            """
            num_classes = 10
            model.head = nn.Linear(hidden_size, num_classes)
            y = torch.tensor(labels) - 1              # 0 .. 9, as the loss expects
            loss = loss_fn(model(x), y)
            """
        ),
    ),
    Rule(
        code="RD104",
        title="target dtype or encoding does not fit the loss",
        severity=E,
        what=(
            "Checks the dtype and shape of the targets against what the configured loss expects: integer "
            "(long) class ids without a class axis for CrossEntropyLoss and NLLLoss, float targets of the "
            "output's shape for BCE losses, and floating-point values for regression losses."
        ),
        why=(
            "Each loss reads its target in one specific way. A mismatched dtype usually raises at the first "
            "loss call; a mismatched encoding can be worse, because it is silently read as something else, "
            "for example float targets with a class axis taken by CrossEntropyLoss as soft probabilities, or "
            "one-hot rows given to a loss that expects ids."
        ),
        symptoms=(
            'A RuntimeError such as "expected target dtype to be Long or Byte, but got Float" or "result '
            "type Float can't be cast to the desired output type Long\" on the first batch, or a loss value "
            "that makes no sense for the task."
        ),
        fix=(
            "Convert the targets where batches are built: .long() class ids for CrossEntropyLoss and "
            "NLLLoss, .float() values shaped like the output for BCEWithLogitsLoss and regression losses."
        ),
        before=_code(
            """
            y = torch.tensor(labels, dtype=torch.float32)     # class ids stored as floats
            loss = nn.CrossEntropyLoss()(logits, y)
            """
        ),
        after=_code(
            """
            y = torch.tensor(labels, dtype=torch.long)        # class ids, shape (batch,)
            loss = nn.CrossEntropyLoss()(logits, y)
            """
        ),
    ),
    Rule(
        code="RD105",
        title="NaN or Inf in inputs or targets",
        severity=E,
        what=(
            "Runs torch.isfinite over every sampled training and validation batch and counts the NaN and Inf "
            "values in inputs and targets, naming the features or positions where they occur."
        ),
        why=(
            "A single NaN in an input flows through the recurrence into every later hidden state and into "
            "the loss. Its gradient is NaN as well, and one optimizer step then writes NaN into the weights, "
            "which ruins the model for good. An Inf behaves the same as soon as it meets a zero or another "
            "Inf."
        ),
        symptoms=(
            "Loss is nan from the first batch, or turns nan suddenly in the middle of an epoch on one "
            "particular batch and stays nan; every output is nan afterwards."
        ),
        fix=(
            "Clean the data where it is loaded: fill or drop missing values, fix divisions by zero in "
            "feature engineering, and assert torch.isfinite on each tensor before it reaches the model."
        ),
        before=_code(
            """
            df = pd.read_csv("train.csv")                     # some cells are empty
            x = torch.tensor(df[feature_cols].values, dtype=torch.float32)
            """
        ),
        after=_code(
            """
            df = pd.read_csv("train.csv")
            df[feature_cols] = df[feature_cols].fillna(df[feature_cols].mean())
            x = torch.tensor(df[feature_cols].values, dtype=torch.float32)
            assert torch.isfinite(x).all()
            """
        ),
    ),
    Rule(
        code="RD106",
        title="inputs not normalized (large or disparate feature scales)",
        severity=W,
        what=(
            "Computes the mean and standard deviation of each floating-point input feature over the sampled "
            "batches and reports when values are far from unit scale, or when the scales of different "
            "features differ by orders of magnitude."
        ),
        why=(
            "RNN gates apply sigmoid and tanh to a weighted sum of the input; large inputs push them into "
            "saturation at the first step, where their derivatives are close to zero and little gradient "
            "gets through. Features on very different scales also make the loss surface badly conditioned: a "
            "learning rate small enough for the weights of large features is far too small for the rest."
        ),
        symptoms=(
            "Loss falls very slowly or stalls early, training is touchy about the learning rate, and the "
            "loss sometimes spikes."
        ),
        fix=(
            "Standardize each feature with the mean and standard deviation of the training split, and apply "
            "the same numbers to validation and test data; log-transform heavy-tailed features first."
        ),
        before=_code(
            """
            x_train = torch.tensor(raw_train, dtype=torch.float32)   # price ~1e4, volume ~1e7, return ~1e-3
            x_val = torch.tensor(raw_val, dtype=torch.float32)
            """
        ),
        after=_code(
            """
            x_train = torch.tensor(raw_train, dtype=torch.float32)
            x_val = torch.tensor(raw_val, dtype=torch.float32)
            mean = x_train.mean(dim=(0, 1), keepdim=True)
            std = x_train.std(dim=(0, 1), keepdim=True).clamp(min=1e-8)
            x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
            """
        ),
    ),
    Rule(
        code="RD107",
        title="constant input features",
        severity=I,
        what=(
            "Computes the standard deviation of each input feature across samples and time steps of the "
            "sampled batches and lists the features whose spread is zero, or within a tiny tolerance of it."
        ),
        why=(
            "A constant feature carries no information; its input weights only act as an extra bias. It does "
            "no harm by itself, but it often points to a bug upstream, such as a column filled with a "
            "default value or zeroed during preprocessing, and standardizing it divides by a zero standard "
            "deviation."
        ),
        symptoms=(
            "Usually nothing visible; sometimes NaN appears right after normalization, or the model is "
            "weaker than expected because a feature that should carry signal is empty."
        ),
        fix=(
            "Find out why the feature is constant and fix its source, or drop it; guard the normalization "
            "against a zero standard deviation."
        ),
        before=_code(
            """
            mean, std = x_train.mean(dim=(0, 1)), x_train.std(dim=(0, 1))
            x_train = (x_train - mean) / std              # std is 0 for a constant column -> NaN
            """
        ),
        after=_code(
            """
            mean, std = x_train.mean(dim=(0, 1)), x_train.std(dim=(0, 1))
            keep = std > 0                                # drop features that never change
            x_train = (x_train[..., keep] - mean[keep]) / std[keep]
            """
        ),
    ),
    Rule(
        code="RD108",
        title="batches are mostly padding / extreme length spread",
        severity=I,
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
        before=_code(
            """
            x = pad_sequence(all_seqs, batch_first=True)          # padded to the longest sequence overall
            loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
            """
        ),
        after=_code(
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
    ),
    Rule(
        code="RD109",
        title="token ids outside the embedding table",
        severity=E,
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
        before=_code(
            """
            vocab = {tok: i + 1 for i, tok in enumerate(words)}       # 0 is kept for padding
            model.embed = nn.Embedding(len(words), 128)               # one row short
            ids = [vocab[tok] for tok in tokens]                      # unseen words raise KeyError
            """
        ),
        after=_code(
            """
            vocab = {tok: i + 2 for i, tok in enumerate(words)}       # 0 = <pad>, 1 = <unk>
            model.embed = nn.Embedding(len(words) + 2, 128, padding_idx=0)
            ids = [vocab.get(tok, 1) for tok in tokens]
            """
        ),
    ),
    Rule(
        code="RD110",
        title="train and validation label distributions differ",
        severity=W,
        what=(
            "Compares the class frequencies of the sampled training and validation targets (total variation "
            "distance) and lists classes present in one split but missing from the other; for regression "
            "targets it compares the means of the two splits in units of standard deviation."
        ),
        why=(
            "Validation then measures a different problem from the one being trained, so its loss and "
            "accuracy misjudge progress, and early stopping or model selection pick the wrong model. The "
            "usual cause is a split by position in a file ordered by label or time instead of a shuffled or "
            "stratified one."
        ),
        symptoms=(
            "Validation accuracy is far from training accuracy from the first epoch on, not only late in "
            "training; validation loss stays high while training loss falls; a class shows up in validation "
            "that training never contained."
        ),
        fix=(
            "Shuffle before splitting, or split with stratification on the label; if the shift is real (the "
            "data you deploy on differs), measure it explicitly and reweight."
        ),
        before=_code(
            """
            n_train = int(0.8 * len(ds))
            train_ds = Subset(ds, range(n_train))                 # the file is sorted by label
            val_ds = Subset(ds, range(n_train, len(ds)))
            """
        ),
        after=_code(
            """
            from sklearn.model_selection import train_test_split

            idx = list(range(len(ds)))
            idx_train, idx_val = train_test_split(idx, test_size=0.2, stratify=labels, random_state=0)
            train_ds, val_ds = Subset(ds, idx_train), Subset(ds, idx_val)
            """
        ),
    ),
    Rule(
        code="RD111",
        title="identical samples in train and validation",
        severity=W,
        what=(
            "Hashes each sampled input sequence, with its padding stripped, in the training and validation "
            "batches and counts validation samples whose exact copy also occurs in training."
        ),
        why=(
            "A validation sample that also sits in the training set can be answered from memory, so "
            "validation rewards memorisation. Validation metrics then overstate how well the model "
            "generalizes and hide overfitting, which misleads early stopping and model selection."
        ),
        symptoms=(
            "Validation accuracy is suspiciously close to training accuracy, and the model does much worse "
            "on truly new data than validation promised."
        ),
        fix=(
            "Remove duplicates before splitting, and split by source (speaker, document, recording) so that "
            "near-copies from one source all land on the same side."
        ),
        before=_code(
            """
            ds = TensorDataset(x, y)                              # x contains repeated rows
            train_ds, val_ds = random_split(ds, [0.8, 0.2])
            """
        ),
        after=_code(
            """
            flat = x.reshape(len(x), -1).numpy()
            _, keep = np.unique(flat, axis=0, return_index=True)   # first copy of each distinct sample
            keep = torch.as_tensor(np.sort(keep))
            ds = TensorDataset(x[keep], y[keep])
            train_ds, val_ds = random_split(ds, [0.8, 0.2])
            """
        ),
    ),
    Rule(
        code="RD201",
        title="input feature size differs from the RNN's input_size",
        severity=E,
        what=(
            "Records, with a forward pre-hook on every recurrent layer, the feature size of what the layer "
            "actually receives and compares it with its input_size; the pass stops at the first mismatch, so the "
            'finding carries both numbers. A crash with "input.size(-1) must be equal to input_size" elsewhere is'
            " reported under this code too, quoting the error."
        ),
        why=(
            "A recurrent layer multiplies each step's input by a weight matrix with input_size columns, so "
            "any other feature count cannot be computed. It usually means the features changed (a column "
            "added, a one-hot encoding widened) without updating the constructor, or a univariate series was "
            "passed as (batch, time) without a trailing feature axis of size 1."
        ),
        symptoms=(
            '"RuntimeError: input.size(-1) must be equal to input_size. Expected 8, got 50" on the first '
            "batch (for a (batch, time) tensor the second number is the sequence length)."
        ),
        fix=(
            "Build the layer with input_size equal to the input's last dimension (derive it from the data), "
            "and add a feature axis to univariate series with x.unsqueeze(-1)."
        ),
        before=_code(
            """
            rnn = nn.LSTM(input_size=8, hidden_size=64, batch_first=True)
            x = series_batch                          # (batch, time): no feature axis
            out, _ = rnn(x)
            """
        ),
        after=_code(
            """
            x = series_batch.unsqueeze(-1)            # (batch, time, 1)
            rnn = nn.LSTM(input_size=x.size(-1), hidden_size=64, batch_first=True)
            out, _ = rnn(x)
            """
        ),
    ),
    Rule(
        code="RD202",
        title="time and batch axes swapped (batch_first mismatch)",
        severity=E,
        what=(
            "Records the shape each recurrent layer receives and compares the axis its batch_first flag reads as "
            "the batch with the batch size of the targets; it reports when the batch sits on the other axis, i.e."
            " the layer would run over the samples as if they were time steps."
        ),
        why=(
            "A (batch, time, features) tensor given to a layer built with batch_first=False is a valid "
            "shape, so nothing raises. The recurrence then runs across the samples of the batch while real "
            "time steps are treated as independent sequences: information leaks between samples and no "
            "sample's own history is ever modelled."
        ),
        symptoms=(
            "No error at all; the loss barely falls, validation stays near chance, and results change with "
            "batch size or shuffling."
        ),
        fix=(
            "Set batch_first=True when the data is (batch, time, features), or transpose the input to (time, "
            "batch, features); then read the output along the matching axis."
        ),
        before=_code(
            """
            rnn = nn.LSTM(input_size=16, hidden_size=64)       # expects (time, batch, features)
            out, _ = rnn(batch_x)                              # batch_x: (batch, time, features)
            last = out[:, -1]
            """
        ),
        after=_code(
            """
            rnn = nn.LSTM(input_size=16, hidden_size=64, batch_first=True)
            out, _ = rnn(batch_x)                              # out: (batch, time, hidden)
            last = out[:, -1]
            """
        ),
    ),
    Rule(
        code="RD203",
        title="vanilla RNN on long sequences",
        severity=W,
        what=(
            "Finds plain nn.RNN (Elman) layers and the number of time steps they actually receive, and reports "
            "when a sequence is longer than the `long_sequence` threshold (100 steps by default)."
        ),
        why=(
            "The gradient flowing back through a tanh RNN is multiplied at every step by the recurrent "
            "weights and the tanh derivative, so it shrinks or grows geometrically with the number of steps. "
            "Dependencies further back than a few dozen steps receive practically no gradient. LSTM and GRU "
            "carry their state through gated, mostly additive updates that keep a path with gain near one."
        ),
        symptoms=(
            "The model only uses the last few steps of each sequence; tasks that need long memory stay at "
            "chance; the gradient reaching early time steps is tiny (see RD403)."
        ),
        fix=(
            "Replace nn.RNN with nn.GRU or nn.LSTM (same call, but an LSTM's state is a pair (h, c)), or cut "
            "the sequences into shorter pieces."
        ),
        before=_code(
            """
            self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
            out, h_n = self.rnn(x)                    # x: (batch, 500, features)
            """
        ),
        after=_code(
            """
            self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
            out, h_n = self.rnn(x)
            """
        ),
    ),
    Rule(
        code="RD204",
        title="ReLU vanilla RNN without safeguards",
        severity=W,
        what=(
            "Finds nn.RNN layers built with nonlinearity='relu', whose hidden state is unbounded; the spectral "
            "radius of their recurrent weights is given as evidence."
        ),
        why=(
            "ReLU does not saturate, so nothing bounds the hidden state. With a recurrent matrix whose "
            "spectral radius is above one, state and gradients grow geometrically with the number of steps "
            "until they overflow to Inf and NaN. ReLU RNNs train only with identity-like recurrent "
            "initialization, a modest learning rate and gradient clipping."
        ),
        symptoms=(
            "Loss explodes to inf or nan within the first steps or epochs, sooner on longer sequences; "
            "hidden activations reach huge values."
        ),
        fix=(
            "Use tanh, a GRU or an LSTM; if you keep ReLU, initialize the recurrent weights to a scaled "
            "identity with zero recurrent bias and clip the gradient norm at every step."
        ),
        before=_code(
            """
            rnn = nn.RNN(16, 128, nonlinearity="relu", batch_first=True)
            loss.backward()
            optimizer.step()
            """
        ),
        after=_code(
            """
            rnn = nn.RNN(16, 128, nonlinearity="relu", batch_first=True)
            with torch.no_grad():
                rnn.weight_hh_l0.copy_(torch.eye(128))
                rnn.bias_hh_l0.zero_()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(rnn.parameters(), max_norm=1.0)
            optimizer.step()
            """
        ),
    ),
    Rule(
        code="RD205",
        title="RNN dropout has no effect with num_layers=1",
        severity=I,
        what=(
            "Reads the dropout and num_layers settings of every nn.RNN, nn.LSTM and nn.GRU and reports "
            "layers that set dropout above zero with a single layer."
        ),
        why=(
            "The built-in dropout of PyTorch's recurrent layers is applied only between stacked layers, to "
            "the output of every layer except the last. With one layer there is nowhere to apply it, so the "
            "model trains with no regularization from it at all; PyTorch only warns once when the layer is "
            "built."
        ),
        symptoms=(
            "A UserWarning at construction saying dropout is added after all but the last recurrent layer; "
            "the model overfits exactly as much as without the setting."
        ),
        fix=("Apply nn.Dropout to the RNN's output before the head, or stack more layers if that is what you want."),
        before=_code(
            """
            self.rnn = nn.LSTM(32, 128, num_layers=1, dropout=0.3, batch_first=True)
            self.head = nn.Linear(128, num_classes)
            """
        ),
        after=_code(
            """
            self.rnn = nn.LSTM(32, 128, num_layers=1, batch_first=True)
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(128, num_classes)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(self.drop(out[:, -1]))
            """
        ),
    ),
    Rule(
        code="RD206",
        title="output depends on padding positions",
        severity=E,
        what=(
            "For a batch whose padding is known (explicit lengths, or token ids equal to an embedding's "
            "padding_idx), appends extra padding steps to every sequence with the true lengths unchanged, runs "
            "the forward pass again in eval mode and reports when the outputs at real positions move. A model "
            "that packs, masks or reads each sequence's last valid step is unaffected by how much padding "
            "follows."
        ),
        why=(
            "Padding is an artifact of batching; if it changes the output, the prediction for a sequence "
            "depends on how long its batch neighbours happen to be. The typical cause is reading out[:, -1] "
            "from an unpacked RNN, which for short sequences is the state after running over pad steps, or "
            "pooling over all steps without a mask."
        ),
        symptoms=(
            "Predictions for the same sequence change with the batch it lands in; short sequences are "
            "predicted badly; evaluating with batch size 1 gives different numbers from larger batches."
        ),
        fix=(
            "Pack the batch with pack_padded_sequence(..., enforce_sorted=False) and read the final hidden "
            "state, or gather each sequence's output at lengths - 1; mask padded steps in any pooling."
        ),
        before=_code(
            """
            out, _ = self.rnn(x)               # x padded to the longest sequence in the batch
            return self.head(out[:, -1])       # the last step is padding for shorter sequences
            """
        ),
        after=_code(
            """
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, h_n = self.rnn(packed)          # h_n: the state at each sequence's real last step
            return self.head(h_n[-1])
            """
        ),
    ),
    Rule(
        code="RD207",
        title="a sample's output depends on other samples in the batch",
        severity=E,
        what=(
            "In eval mode (so batch norm's intended coupling is off), backpropagates one sample's output (a "
            "random projection of it) to the inputs, or to the first embedding's output for token ids, for a few "
            "samples, and reports when any share of the input gradient lands on other samples."
        ),
        why=(
            "Samples in a batch must be processed independently; mixing lets each prediction draw on other "
            "samples, which are not there when the model is used on a single input. Common causes are a "
            "view() or reshape() used to reorder axes (it reinterprets memory instead of transposing), "
            "swapped batch and time axes, or a normalization computed across the batch axis."
        ),
        symptoms=(
            "Training loss looks reasonable, but predictions change with batch composition, shuffling or "
            "batch size, and evaluation one sample at a time is much worse."
        ),
        fix=(
            "Find the operation that mixes the batch axis: use permute() or transpose() instead of view() to "
            "reorder axes, and keep batch_first consistent with the data."
        ),
        before=_code(
            """
            out, _ = self.rnn(x)                           # (batch, time, hidden)
            out = out.view(out.size(1), out.size(0), -1)   # meant as (time, batch, hidden)
            logits = self.head(out[-1])
            """
        ),
        after=_code(
            """
            out, _ = self.rnn(x)                           # (batch, time, hidden)
            out = out.transpose(0, 1)                      # a real axis swap: (time, batch, hidden)
            logits = self.head(out[-1])
            """
        ),
    ),
    Rule(
        code="RD208",
        title="recurrent weight scale far from stable",
        severity=W,
        what=(
            "Computes the spectral radius (largest absolute eigenvalue) of each recurrent weight matrix, per "
            "gate block for LSTM and GRU, and reports values far above or far below 1."
        ),
        why=(
            "Every step multiplies the hidden state, and on the way back the gradient, by the recurrent "
            "weights. A radius well above one amplifies both geometrically and drives the gates into "
            "saturation; a radius well below one makes them fade, so the network forgets within a few steps. "
            "Custom initializations such as normal_(std=1) on a large hidden size, or very small values, "
            "land far from one."
        ),
        symptoms=(
            "Above one: loss spikes, saturated gates, nan. Below one: the model only uses the last few steps "
            "and the gradient through time vanishes."
        ),
        fix=(
            "Initialize each recurrent gate block orthogonally (nn.init.orthogonal_), the input weights with "
            "a Xavier scheme and the biases to zero, instead of a fixed-std normal."
        ),
        before=_code(
            """
            for name, p in lstm.named_parameters():
                nn.init.normal_(p, std=1.0)               # spectral radius ~ sqrt(hidden_size)
            """
        ),
        after=_code(
            """
            for name, p in lstm.named_parameters():
                if "weight_hh" in name:
                    for block in p.data.chunk(4, dim=0):  # the four LSTM gates
                        nn.init.orthogonal_(block)
                elif "weight_ih" in name:
                    nn.init.xavier_uniform_(p)
                else:
                    nn.init.zeros_(p)
            """
        ),
    ),
    Rule(
        code="RD209",
        title="saturated activations or gates",
        severity=W,
        what=(
            "Captures what each recurrent layer receives on a few real samples, recomputes every gate pre-"
            "activation from the layer's weights (fused LSTM/GRU kernels do not expose them), and measures the "
            "share of sigmoid gates below 0.01 or above 0.99 and of tanh units beyond ±0.99; nn.Tanh and "
            "nn.Sigmoid modules are read with hooks."
        ),
        why=(
            "The derivative of tanh is 1 - tanh^2 and that of a sigmoid is s(1 - s): both are close to zero "
            "in saturation. A saturated unit passes almost no gradient, so the weights feeding it stop "
            "learning and a gate stuck open or shut cannot adapt. Unscaled inputs, large initial weights and "
            "too high a learning rate are the usual causes."
        ),
        symptoms=(
            "Loss plateaus early; gradient norms of the recurrent layers are tiny; hidden states sit at +1 and -1."
        ),
        fix=(
            "Normalize the inputs, shrink the weight initialization or the learning rate, and consider a "
            "LayerNorm on the layer's input."
        ),
        before=_code(
            """
            x = torch.tensor(raw_features, dtype=torch.float32)    # values in the thousands
            out, _ = lstm(x)                                        # gates pinned at 0 or 1
            """
        ),
        after=_code(
            """
            x = torch.tensor(raw_features, dtype=torch.float32)
            x = (x - train_mean) / train_std                        # statistics of the training split
            out, _ = lstm(x)
            """
        ),
    ),
    Rule(
        code="RD210",
        title="parameters receive no gradient (detached, frozen, unused)",
        severity=E,
        what=(
            "Runs backward passes on two training batches and lists trainable parameters whose .grad stays None "
            "or exactly zero; it also reports parameters frozen with requires_grad=False that were given to the "
            "optimizer, and trainable parameters the optimizer does not hold."
        ),
        why=(
            "A parameter without a gradient never changes. When it sits on the main path, because the output "
            "was detached, round-tripped through NumPy or .item(), or the layer was frozen by mistake, the "
            "part of the model before it never trains; a layer that is defined but never called is dead "
            "weight."
        ),
        symptoms=(
            "Loss plateaus high or does not fall; some layers' weights are identical to their initial "
            'values; errors such as "element 0 of tensors does not require grad and does not have a '
            'grad_fn".'
        ),
        fix=(
            "Remove .detach(), .numpy() and torch.tensor(...) round-trips from the forward pass, re-enable "
            "requires_grad where it was switched off, and call or delete layers that are never used."
        ),
        before=_code(
            """
            def forward(self, x):
                out, _ = self.rnn(x)
                feats = torch.tensor(out[:, -1].detach().numpy())   # cuts the graph
                return self.head(feats)
            """
        ),
        after=_code(
            """
            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])
            """
        ),
    ),
    Rule(
        code="RD211",
        title="bidirectional RNN read out at the last step only",
        severity=W,
        what=(
            "For every bidirectional recurrent layer, backpropagates the model's output to the layer's output "
            "sequence and reports when the backward direction's half receives its gradient only at each "
            "sequence's last step, i.e. the read-out takes out[:, -1]."
        ),
        why=(
            "At the last position the forward direction has read the whole sequence, but the backward "
            "direction has read only the last element; its summary of the sequence sits at position 0. Half "
            "of the features given to the head are therefore close to useless."
        ),
        symptoms=(
            "The bidirectional model is no better, or worse, than a unidirectional one; doubling the width "
            "gains nothing."
        ),
        fix=(
            "Concatenate both directions' final states from h_n (h_n[-2] and h_n[-1] for the top layer), and "
            "with padded batches use a packed sequence so these are the states at each real end."
        ),
        before=_code(
            """
            self.rnn = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
            out, _ = self.rnn(x)
            return self.head(out[:, -1])            # backward half has seen one step
            """
        ),
        after=_code(
            """
            self.rnn = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
            _, (h_n, _) = self.rnn(x)
            summary = torch.cat([h_n[-2], h_n[-1]], dim=1)   # forward and backward final states
            return self.head(summary)
            """
        ),
    ),
    Rule(
        code="RD212",
        title="hidden state carried across batches without detach",
        severity=E,
        what=(
            "When a module keeps a tensor that is part of an autograd graph as an attribute after the forward "
            "pass (a stored hidden state), runs two training steps on the same batch and reports when the second "
            "backward fails because the stored state still points into the first batch's freed graph."
        ),
        why=(
            "Carrying the state from batch to batch (truncated backpropagation through time) without "
            "detaching it links each batch's graph to all earlier ones. Backward then either raises, because "
            "the earlier graph was already freed, or, with retain_graph=True, runs through the whole history "
            "so that time and memory grow with every step."
        ),
        symptoms=(
            '"RuntimeError: Trying to backward through the graph a second time" on the second batch; or, '
            "with retain_graph=True, steps that get slower and memory that climbs until CUDA runs out of "
            "memory."
        ),
        fix=(
            "Detach the hidden state at each batch boundary (both h and c for an LSTM) and do not use "
            "retain_graph=True as a workaround."
        ),
        before=_code(
            """
            hidden = None
            for x, y in loader:
                out, hidden = model(x, hidden)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            """
        ),
        after=_code(
            """
            hidden = None
            for x, y in loader:
                if hidden is not None:
                    hidden = tuple(h.detach() for h in hidden)   # LSTM state (h, c)
                out, hidden = model(x, hidden)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            """
        ),
    ),
    Rule(
        code="RD213",
        title="submodules held in a plain list or dict (parameters unregistered)",
        severity=E,
        what=(
            "Walks the model's attributes for Python lists, tuples and dicts holding nn.Module or "
            "nn.Parameter objects and reports the parameters inside them that model.parameters() does not "
            "return."
        ),
        why=(
            "nn.Module registers a submodule only when it is assigned as an attribute directly or held in a "
            "ModuleList, ModuleDict or ParameterList. Anything inside a plain container is invisible to "
            "model.parameters(), so the optimizer never updates it, .to(device) does not move it and "
            "state_dict() does not save it."
        ),
        symptoms=(
            'Those layers never change during training; "Expected all tensors to be on the same device" '
            "after model.to('cuda'); weights missing after reloading a checkpoint."
        ),
        fix=(
            "Hold submodules in nn.ModuleList or nn.ModuleDict, and loose parameters in nn.ParameterList or "
            "nn.ParameterDict."
        ),
        before=_code(
            """
            self.layers = [nn.GRU(64, 64, batch_first=True) for _ in range(3)]
            self.heads = {"tag": nn.Linear(64, 17), "chunk": nn.Linear(64, 9)}
            """
        ),
        after=_code(
            """
            self.layers = nn.ModuleList(nn.GRU(64, 64, batch_first=True) for _ in range(3))
            self.heads = nn.ModuleDict({"tag": nn.Linear(64, 17), "chunk": nn.Linear(64, 9)})
            """
        ),
    ),
    Rule(
        code="RD214",
        title="the decoder sees the token it must predict (teacher forcing not shifted)",
        severity=E,
        what=(
            "Looks for a tensor the model receives besides its main input (a decoder input) that equals the "
            "targets position for position, then changes that tensor at one step and measures whether the "
            "output at the same step moves. Both together mean each prediction is computed from its own answer."
        ),
        why=(
            "Teacher forcing feeds the decoder the previous target token, [SOS] + y[:-1]. Fed y itself, the "
            "decoder learns to copy its input: the training loss falls to near zero within a few steps, and at "
            "inference, where the answer is not available, it produces nonsense."
        ),
        symptoms=(
            "Training loss near zero and perfect teacher-forced accuracy almost at once, while greedy decoding "
            "or validation without teacher forcing is no better than chance."
        ),
        fix="Shift the decoder input one step right and start it with the start-of-sequence token.",
        before=_code(
            """
            logits = model(src, tgt)                     # decoder input = the targets
            loss = loss_fn(logits.reshape(-1, V), tgt.reshape(-1))
            """
        ),
        after=_code(
            """
            sos = torch.full_like(tgt[:, :1], SOS)
            tgt_in = torch.cat([sos, tgt[:, :-1]], dim=1)   # [SOS, y0, ..., y(S-2)]
            logits = model(src, tgt_in)
            loss = loss_fn(logits.reshape(-1, V), tgt.reshape(-1))
            """
        ),
    ),
    Rule(
        code="RD301",
        title="regression loss on class-like targets",
        severity=E,
        what=(
            "When the loss is a regression loss (MSELoss, L1Loss, SmoothL1Loss, HuberLoss), looks at the "
            "targets and reports when they are whole numbers drawn from a small set of values, that is, "
            "class ids."
        ),
        why=(
            "Regressing on class ids imposes an order and a distance between classes that do not exist "
            "(class 2 becomes halfway between 1 and 3), and the optimum is the average id, which rounds to a "
            "middle class. For 0/1 targets behind a sigmoid, the squared error also gives almost no gradient "
            "when the model is confidently wrong."
        ),
        symptoms=(
            "Predictions bunch around the mean label (0.5, or a middle class id); rounded accuracy stays "
            "near the majority share; loss plateaus."
        ),
        fix=(
            "Output one score per class and use CrossEntropyLoss with long targets, or BCEWithLogitsLoss on "
            "a single logit for a binary task."
        ),
        before=_code(
            """
            self.head = nn.Linear(hidden_size, 1)
            loss_fn = nn.MSELoss()
            loss = loss_fn(model(x).squeeze(-1), y.float())     # y in {0, 1, 2, 3, 4}
            """
        ),
        after=_code(
            """
            self.head = nn.Linear(hidden_size, 5)               # one logit per class
            loss_fn = nn.CrossEntropyLoss()
            loss = loss_fn(model(x), y.long())
            """
        ),
    ),
    Rule(
        code="RD302",
        title="probabilities fed to a loss that expects logits",
        severity=E,
        what=(
            "For losses that apply their own softmax or sigmoid, checks one batch's outputs: for "
            "CrossEntropyLoss, rows already in [0, 1] that sum to 1 along its class axis; for BCEWithLogitsLoss, "
            "outputs produced by a sigmoid (strictly inside (0, 1))."
        ),
        why=(
            "The loss normalizes again values that are already squashed into [0, 1], so its scores can "
            "differ by at most 1 and its distribution stays close to uniform. The loss then has a high floor "
            "it cannot go below, and the extra squashing shrinks every gradient, so learning is slow and "
            "soon stalls."
        ),
        symptoms=(
            "Loss falls a little and then plateaus well above zero (for two classes it cannot go below about "
            "0.31 = ln(1 + 1/e)); accuracy may improve while the loss hardly does."
        ),
        fix=(
            "Remove the final Softmax or Sigmoid from the model and give the loss raw logits; apply softmax "
            "only where you need probabilities, at inference."
        ),
        before=_code(
            """
            self.head = nn.Sequential(nn.Linear(128, num_classes), nn.Softmax(dim=-1))
            loss_fn = nn.CrossEntropyLoss()
            """
        ),
        after=_code(
            """
            self.head = nn.Linear(128, num_classes)
            loss_fn = nn.CrossEntropyLoss()
            probs = model(x).softmax(dim=-1)        # only when probabilities are needed
            """
        ),
    ),
    Rule(
        code="RD303",
        title="raw scores fed to a loss that expects probabilities or log-probabilities",
        severity=E,
        what=(
            "For NLLLoss, checks that the outputs are log-probabilities (a logsumexp of about 0 along the class "
            "axis); for BCELoss, that they lie in [0, 1]. Both are measured before the loss is called, so the "
            "finding carries the output range even when BCELoss then raises."
        ),
        why=(
            "NLLLoss only picks minus the output at the target class; it does no normalization of its own. "
            "On raw scores it is minimised by making the target's score ever larger, with no lower bound, "
            "and the other classes are never pushed down. BCELoss on raw scores raises or takes the log of "
            "values outside (0, 1)."
        ),
        symptoms=(
            'Loss goes negative and keeps falling toward -inf while accuracy does not follow; or "all '
            'elements of input should be between 0 and 1" with BCELoss.'
        ),
        fix=(
            "Use CrossEntropyLoss on raw logits (it is log_softmax plus NLLLoss), or add log_softmax before "
            "NLLLoss; use BCEWithLogitsLoss instead of BCELoss on raw scores."
        ),
        before=_code(
            """
            logits = self.head(h)
            loss = nn.NLLLoss()(logits, y)               # NLLLoss expects log-probabilities
            """
        ),
        after=_code(
            """
            logits = self.head(h)
            loss = nn.CrossEntropyLoss()(logits, y)      # log_softmax + NLLLoss in one
            """
        ),
    ),
    Rule(
        code="RD304",
        title="output and target shapes differ (silent broadcasting)",
        severity=E,
        what=(
            "Compares the shapes of the outputs and the targets as they enter the loss, and for element-wise "
            "losses reports shapes that differ but broadcast, such as (batch, 1) against (batch,)."
        ),
        why=(
            "Element-wise losses broadcast their inputs: (batch, 1) against (batch,) becomes a (batch, "
            "batch) table in which every prediction is compared with every target. The best the model can do "
            "is predict the batch mean for all samples, so it learns nothing sample-specific. MSELoss and "
            "L1Loss only issue a warning."
        ),
        symptoms=(
            "Loss stalls at about the variance of the targets and the model predicts nearly the same value "
            "for every sample; a UserWarning says the target size differs from the input size."
        ),
        fix=("Make both shapes identical before the loss: squeeze the output's trailing axis or unsqueeze the target."),
        before=_code(
            """
            pred = model(x)                     # (batch, 1)
            loss = nn.MSELoss()(pred, y)        # y: (batch,) -> broadcast to (batch, batch)
            """
        ),
        after=_code(
            """
            pred = model(x).squeeze(-1)         # (batch,)
            loss = nn.MSELoss()(pred, y)
            """
        ),
    ),
    Rule(
        code="RD305",
        title="class axis misplaced for a per-timestep loss",
        severity=E,
        what=(
            "Uses the fact that the gradient of a class-index loss with respect to its class scores sums to zero "
            "along the axis it treats as classes: it backpropagates the loss to the output of the model's last "
            "layer and reports when the gradient does not sum to zero along that layer's output axis. When time "
            "steps and classes differ in number, the loss raises and the (N, T, C) shapes are reported instead."
        ),
        why=(
            "CrossEntropyLoss always takes dimension 1 as the class axis ((batch, classes, time...)). Given "
            "(batch, time, classes) outputs, it applies the softmax over time steps, so the model learns to "
            "spread probability across positions instead of choosing a class. When the shapes happen to line "
            "up (as many steps as classes, soft targets, or targets reshaped to fit) nothing raises."
        ),
        symptoms=(
            'Loss falls a little but per-step accuracy stays near chance; or an error such as "Expected '
            'target size [32, 20], got [32, 50]" once the shapes stop lining up.'
        ),
        fix=(
            "Move the class axis to dimension 1 with permute(0, 2, 1) before the loss, or flatten outputs to "
            "(batch * time, classes) and targets to (batch * time,)."
        ),
        before=_code(
            """
            logits = model(x)                                   # (batch, time, num_classes)
            loss = nn.CrossEntropyLoss()(logits, y)             # y: (batch, time)
            """
        ),
        after=_code(
            """
            logits = model(x)                                   # (batch, time, num_classes)
            loss = nn.CrossEntropyLoss()(logits.permute(0, 2, 1), y)
            # or: nn.CrossEntropyLoss()(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            """
        ),
    ),
    Rule(
        code="RD306",
        title="padding positions counted by the loss",
        severity=W,
        what=(
            "For per-timestep targets in a batch with known lengths (explicit lengths or padding tokens), counts "
            "the padded positions whose targets the loss scores, i.e. that are not equal to its ignore_index."
        ),
        why=(
            "Padded positions become training targets: the model learns to emit the padding label (often 0, "
            "also a real class) at the ends of sequences, and the averaged loss is diluted by easy fake "
            "positions. The more padding a batch holds, the more of the training signal is spent on it."
        ),
        symptoms=(
            "The model over-predicts the padding class or class 0; per-token accuracy looks high because "
            "padding is easy to predict, while accuracy on real tokens stalls."
        ),
        fix=(
            "Fill padded target positions with the loss's ignore_index (-100 by default for "
            "CrossEntropyLoss), or compute the loss with reduction='none' and average it over the valid "
            "positions only."
        ),
        before=_code(
            """
            y = pad_sequence(tag_seqs, batch_first=True, padding_value=0)      # 0 is also a real tag
            loss = nn.CrossEntropyLoss()(logits.transpose(1, 2), y)
            """
        ),
        after=_code(
            """
            y = pad_sequence(tag_seqs, batch_first=True, padding_value=-100)
            loss = nn.CrossEntropyLoss(ignore_index=-100)(logits.transpose(1, 2), y)
            """
        ),
    ),
    Rule(
        code="RD307",
        title="loss at initialization far from chance level",
        severity=W,
        what=(
            "Computes the loss of the model as given, before any training step, on one sampled batch and compares"
            " it with chance: ln(C) for C-class cross-entropy (0.693 for two classes), ln 2 per label for binary "
            "losses, the target variance for MSELoss (the loss of always predicting the mean)."
        ),
        why=(
            "A freshly initialized classifier should be about uniform. A much higher starting loss means "
            "confident, wrong outputs (large output weights or bias, unscaled inputs): the first steps are "
            "spent undoing the scale, with large gradients that can saturate units or diverge. A loss well "
            "below chance before any training suggests the target leaks into the input or the loss is "
            "computed wrongly."
        ),
        symptoms=(
            "A first loss such as 25 for a 10-class problem (chance is 2.30); a hockey-stick loss curve; "
            "early instability or nan."
        ),
        fix=(
            "Initialize the output layer small, with zero bias or the log of the class priors, and normalize "
            "the inputs; if the loss starts below chance, look for label leakage."
        ),
        before=_code(
            """
            self.head = nn.Linear(256, num_classes)
            nn.init.normal_(self.head.weight, std=1.0)      # large logits before any step
            """
        ),
        after=_code(
            """
            self.head = nn.Linear(256, num_classes)
            nn.init.normal_(self.head.weight, std=0.01)
            nn.init.zeros_(self.head.bias)
            """
        ),
    ),
    Rule(
        code="RD308",
        title="multi-label loss on single-label one-hot targets",
        severity=E,
        what=(
            "When the loss is a multi-label one (BCELoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss) over "
            "several outputs, checks whether every target row holds exactly one 1, which makes the task "
            "single-label."
        ),
        why=(
            "A multi-label loss treats each class as an independent yes/no question, so the classes do not "
            'compete. With C classes, C - 1 of the answers in each row are "no", and predicting "no" '
            "everywhere already gives a low loss. The outputs are not a distribution over classes, so the "
            "argmax is poorly trained and the probabilities do not sum to one."
        ),
        symptoms=(
            "Loss drops quickly to a small value while accuracy stays low; all sigmoid outputs are small; "
            "predicted probabilities do not sum to 1."
        ),
        fix=(
            "Use CrossEntropyLoss with class ids (y_onehot.argmax(dim=1)); keep BCE losses for targets where "
            "several classes can be true at once."
        ),
        before=_code(
            """
            y_onehot = F.one_hot(y, num_classes).float()
            loss = nn.BCEWithLogitsLoss()(logits, y_onehot)
            """
        ),
        after=_code(
            """
            loss = nn.CrossEntropyLoss()(logits, y)     # y: class ids, shape (batch,)
            """
        ),
    ),
    Rule(
        code="RD309",
        title="targets are not aligned with the inputs (equal to them, unshifted, or transposed apart)",
        severity=E,
        what=(
            "Compares per-step targets with the model's input tokens. Targets equal to the inputs at the same "
            "positions, with an output that depends on the input at its own position, mean the model is asked "
            "to copy what it already sees (a language model without the +1 shift). Targets that are the next "
            "token only when read in the other axis order mean the inputs and the targets were laid out "
            "differently (one transposed, the other not)."
        ),
        why=(
            "A language model must predict token t+1 from tokens up to t. With targets equal to the inputs the "
            "task is copying: the loss falls to near zero, perplexity looks superb, and the model has learned "
            "nothing about the language. With targets laid out in another axis order, each output is scored "
            "against a token from another sequence or another step, and the loss stalls near chance."
        ),
        symptoms=(
            "Training loss near zero within a few hundred steps and generated text that repeats the prompt; or "
            "a loss that never leaves ln(vocabulary) although the model and data look fine."
        ),
        fix=(
            "Build targets as the inputs shifted by one step along time, in the same layout as the inputs "
            "(and flatten both the same way)."
        ),
        before=_code(
            """
            data = source[i:i + seq_len]
            target = source[i:i + seq_len].reshape(-1)       # the same tokens
            """
        ),
        after=_code(
            """
            data = source[i:i + seq_len]
            target = source[i + 1:i + 1 + seq_len].reshape(-1)   # the next token of each position
            """
        ),
    ),
    Rule(
        code="RD401",
        title="exploding or non-finite gradients",
        severity=E,
        what=(
            "Backpropagates a real training batch and reports any NaN or infinite parameter gradient (naming the "
            "one nearest the output) or a total gradient norm above `exploding_norm` (1000 by default)."
        ),
        why=(
            "An update of learning rate times a huge gradient moves the weights far outside the region where "
            "the gradient was measured. In RNNs the repeated multiplication by the recurrent Jacobian makes "
            "such spikes likely on long sequences. One such step can saturate the network or overflow to Inf "
            "and NaN, and training does not recover."
        ),
        symptoms=(
            "Loss spikes suddenly and then turns nan; weights become nan; training goes well for a while and "
            "then diverges on particular batches."
        ),
        fix=(
            "Clip the gradient norm between backward() and step(), lower the learning rate, and remove the "
            "source of non-finite values (log of 0, division by 0, sqrt at 0) if there is one."
        ),
        before=_code(
            """
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            """
        ),
        after=_code(
            """
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            """
        ),
    ),
    Rule(
        code="RD402",
        title="vanishing gradients across layers",
        severity=W,
        what=(
            "After a backward pass, compares the root-mean-square gradient of the earliest recurrent layer's "
            "hidden-to-hidden weights with that of the last layer's weights (both act on bounded hidden states) "
            "and reports a ratio below `vanishing_ratio` (1e-3)."
        ),
        why=(
            "Backpropagation multiplies the Jacobians of all layers on the way down; saturating activations, "
            "deep stacks without residual connections or normalization, and poor initialization each shrink "
            "the signal. The early layers then hardly learn, and the network acts like a shallow model on "
            "top of random features."
        ),
        symptoms=(
            "Loss plateaus; the first layers' weights barely change during training; adding layers makes "
            "results worse instead of better."
        ),
        fix=(
            "Add residual connections and normalization (LayerNorm) between stacked recurrent layers, prefer "
            "non-saturating activations in feed-forward parts, or use fewer layers."
        ),
        before=_code(
            """
            self.rnns = nn.ModuleList(nn.LSTM(128, 128, batch_first=True) for _ in range(6))

            def forward(self, x):
                for rnn in self.rnns:
                    x, _ = rnn(x)
                return x
            """
        ),
        after=_code(
            """
            self.rnns = nn.ModuleList(nn.LSTM(128, 128, batch_first=True) for _ in range(6))
            self.norms = nn.ModuleList(nn.LayerNorm(128) for _ in range(6))

            def forward(self, x):
                for rnn, norm in zip(self.rnns, self.norms):
                    out, _ = rnn(norm(x))
                    x = x + out                        # residual path for the gradient
                return x
            """
        ),
    ),
    Rule(
        code="RD403",
        title="gradient vanishes through time",
        severity=W,
        what=(
            "Backpropagates the output at each probed sample's last step to the inputs (or embedding outputs) and"
            " measures the input-gradient norm at every earlier step; the effective memory is how many steps back"
            " it stays within `memory_orders` (3) orders of magnitude of the last step. Reported when that is "
            "under `min_memory_steps` (6) on sequences at least four times as long; a default LSTM keeps about a "
            "dozen steps at initialization."
        ),
        why=(
            "How a late output depends on an early input passes through the product of the per-step "
            "recurrent Jacobians. When their norms are below one, that product decays exponentially with the "
            "distance, so the model gets no signal to use early information and can learn only short-range "
            "patterns."
        ),
        symptoms=(
            "The model fails whenever the answer depends on the start of the sequence (long-sequence "
            "classification stays at chance); cutting off the early steps does not change the results."
        ),
        fix=(
            "Use an LSTM or GRU instead of a plain RNN, set the LSTM forget-gate bias to 1 at "
            "initialization, and give early steps a short path to the loss (pooling or attention over all "
            "steps), or shorten the sequences."
        ),
        before=_code(
            """
            self.rnn = nn.RNN(n_in, hidden, batch_first=True)   # sequences of 1000 steps

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])
            """
        ),
        after=_code(
            """
            self.rnn = nn.LSTM(n_in, hidden, batch_first=True)
            with torch.no_grad():
                self.rnn.bias_ih_l0[hidden:2 * hidden].fill_(1.0)   # forget gate

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out.mean(dim=1))          # every step reaches the loss directly
            """
        ),
    ),
    Rule(
        code="RD404",
        title="gradients accumulate across steps (no zero_grad)",
        severity=E,
        what=(
            "Runs the configured train_step twice on the same batch, at the same weights and random state: if the"
            " step clears gradients the second call leaves the same gradients as the first, if it does not, twice"
            " as many. zero_grad calls are counted as supporting evidence."
        ),
        why=(
            "PyTorch adds each new gradient into .grad. Without optimizer.zero_grad(), every step uses the "
            "sum of all gradients since the start, so the step grows with the iteration count and keeps "
            "pointing in stale directions, like momentum that never decays."
        ),
        symptoms=(
            "Loss falls for a few steps, then oscillates or blows up; the gradient norm grows steadily; a "
            "lower learning rate only delays the divergence."
        ),
        fix=(
            "Call optimizer.zero_grad() once per step before backward(); if you accumulate on purpose over "
            "several batches, zero right after each optimizer.step()."
        ),
        before=_code(
            """
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            """
        ),
        after=_code(
            """
            for x, y in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            """
        ),
    ),
    Rule(
        code="RD405",
        title="update-to-weight ratio out of range",
        severity=W,
        what=(
            "Takes one real step with the configured optimizer and learning rate after a backward pass (then "
            "restores everything) and computes, for each weight matrix, the norm of the change divided by the "
            "norm of the weights; it reports when the median ratio is outside 1e-6 to 0.1 (healthy is about "
            "1e-3)."
        ),
        why=(
            "The ratio says how much one step changes a weight compared with its size. Far above 1e-3 the "
            "weights are largely rewritten at every step and training is noisy or unstable; far below, they "
            "barely move and training crawls. Ratios that differ widely between layers mean one learning "
            "rate fits only some of them."
        ),
        symptoms=(
            "Too high: the loss jumps around or diverges. Too low: the loss falls very slowly and some "
            "layers' weights hardly change at all."
        ),
        fix=(
            "Scale the learning rate so typical ratios land near 1e-3, and give layers with very different "
            "ratios their own learning rate through parameter groups."
        ),
        before=_code(
            """
            optimizer = torch.optim.SGD(model.parameters(), lr=1.0)     # |dw| / |w| ~ 0.3 per step
            """
        ),
        after=_code(
            """
            optimizer = torch.optim.Adam(
                [
                    {"params": model.embed.parameters(), "lr": 1e-2},   # sparse rows, updated rarely
                    {"params": model.rnn.parameters()},
                    {"params": model.head.parameters()},
                ],
                lr=1e-3,
            )
            """
        ),
    ),
    Rule(
        code="RD406",
        title="optimizer steps taken in eval mode",
        severity=W,
        what=(
            "Wraps optimizer.step() while the configured train_step runs and records, at each call, modules whose"
            " behaviour depends on the mode (dropout, batch norm, multi-layer RNN dropout) that are in eval mode;"
            " other modules in eval mode do not matter."
        ),
        why=(
            "In eval mode dropout is off and batch normalization uses, without updating, its running "
            "statistics, so the model trains without the intended regularization and with a different "
            "normalization. The usual cause is a validation pass that calls model.eval() and a training loop "
            "that never calls model.train() again. On CUDA, a cuDNN RNN refuses to backpropagate in eval "
            "mode."
        ),
        symptoms=(
            "Overfitting from the second epoch on although dropout is set; training metrics jump after the "
            'first validation; on GPU, "cudnn RNN backward can only be called in training mode".'
        ),
        fix=("Call model.train() at the start of every training epoch and model.eval() only around evaluation."),
        before=_code(
            """
            for epoch in range(epochs):
                for x, y in train_loader:
                    train_step(model, x, y)
                model.eval()
                validate(model, val_loader)
            """
        ),
        after=_code(
            """
            for epoch in range(epochs):
                model.train()
                for x, y in train_loader:
                    train_step(model, x, y)
                model.eval()
                with torch.no_grad():
                    validate(model, val_loader)
            """
        ),
    ),
    Rule(
        code="RD407",
        title="gradient clipping runs after `optimizer.step()` (it clips nothing)",
        severity=E,
        what=(
            "Runs the configured train_step and records, in order, the optimizer's step and every call of "
            "torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (and any change to the gradients after the step). "
            "Clipping that happens only after the last optimizer step of the call is reported."
        ),
        why=(
            "Clipping rescales the gradients that the next optimizer step will use. Placed after step(), it "
            "rescales gradients that have already been applied and are cleared before the next backward: the "
            "update is never clipped, so the exploding gradients it was added for still reach the weights."
        ),
        symptoms=(
            "Loss spikes and NaN after some epochs exactly as without clipping, although the code clips; "
            "lowering max_norm changes nothing."
        ),
        fix="Clip between loss.backward() and optimizer.step().",
        before=_code(
            """
            loss.backward()
            optimizer.step()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            """
        ),
        after=_code(
            """
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            """
        ),
    ),
    Rule(
        code="RD408",
        title="the training step updates weights without the optimizer's learning rate",
        severity=I,
        what=(
            "Runs the configured train_step twice from the same weights and batch, once at the optimizer's "
            "learning rate and once at half of it, and reports when the weights move exactly the same both "
            "times: the step updates them by hand with a rate of its own (p.data.add_(p.grad, alpha=-lr) with a "
            "constant), or a scheduler inside the step overwrites the rate."
        ),
        why=(
            "The learning-rate range test, the one-batch fit's retry and every learning-rate verdict work by "
            "setting the optimizer's rate; a step that ignores it cannot be swept, so those checks are skipped. "
            "It is also easy to get wrong by hand: weight decay, momentum and gradient clipping interact with "
            "the update, and the rate lives in two places."
        ),
        symptoms=("The learning-rate checks are skipped; changing optimizer_args.lr changes nothing in training."),
        fix=(
            "Let the optimizer make the update (torch.optim.SGD(model.parameters(), lr=lr) and optimizer.step()), "
            "or read the rate from optimizer.param_groups[0]['lr'] in the manual update."
        ),
        before=_code(
            """
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-20.0)
            """
        ),
        after=_code(
            """
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            optimizer.step()          # optimizer = torch.optim.SGD(model.parameters(), lr=20.0)
            """
        ),
    ),
    Rule(
        code="RD501",
        title="learning rate too low",
        severity=E,
        what=(
            "Runs a learning-rate range test: the configured optimizer trains on the sampled batches while the "
            "learning rate grows exponentially from min_lr to max_lr, one step per rate, stopping once the "
            "smoothed loss diverges; weights and optimizer state are restored after. It reports when the "
            "configured rate is more than `too_low_factor` (100x) below the rate where the loss starts to fall. "
            "No verdict is given when the loss does not fall at any rate."
        ),
        why=(
            "With steps this small, the loss falls so slowly that a realistic training budget ends with the "
            "model still near its initialization. It looks as if the model cannot learn, although nothing "
            "else is wrong."
        ),
        symptoms=(
            "Loss decreases slowly and almost linearly, or looks flat; accuracy barely above chance after many epochs."
        ),
        fix=(
            "Raise the learning rate to about the suggested value (lr_sweep's suggested_lr in the report), "
            "optionally with a short warm-up."
        ),
        before=_code(
            """
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)
            """
        ),
        after=_code(
            """
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)   # near lr_sweep's suggested_lr
            """
        ),
    ),
    Rule(
        code="RD502",
        title="learning rate too high",
        severity=E,
        what=(
            "Uses the same range test and reports when the configured rate is at or beyond the rate where the "
            "loss diverged, or more than `too_high_factor` (3x) above the rate with the lowest loss, where the "
            "loss climbs again."
        ),
        why=(
            "Each step overshoots the minimum along the steep directions of the loss surface, so the loss "
            "rises instead of falling. In recurrent models large updates can also push the recurrent weights "
            "into the unstable regime, where gradients explode."
        ),
        symptoms=(
            "Loss jumps around or increases; nan after a few iterations; accuracy oscillates, or the model "
            "collapses to predicting one class."
        ),
        fix=(
            "Lower the learning rate to about the suggested value, and add a warm-up and gradient clipping "
            "for stability."
        ),
        before=_code(
            """
            optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
            loss.backward()
            optimizer.step()
            """
        ),
        after=_code(
            """
            optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)   # near suggested_lr
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            """
        ),
    ),
    Rule(
        code="RD503",
        title="cannot overfit a single batch",
        severity=E,
        what=(
            "Trains on a few samples of one fixed batch with the configured optimizer and rate, stopping as soon "
            "as batch accuracy reaches 100% (or the loss falls below 1% of its start). When it does not, it tries"
            " once more at the range test's suggested rate to tell a wrong learning rate from a model that cannot"
            " fit; a run that halves the loss counts as learning."
        ),
        why=(
            "A model with any reasonable capacity and a correct pipeline memorises one small batch. If it "
            "cannot, something in the chain from inputs to weights is broken: the loss wiring, the gradient "
            "flow, the optimizer, or the pairing of inputs and targets. More data or more epochs will not "
            "help."
        ),
        symptoms=(
            "Full training stalls at a high loss, and changing the architecture or the hyper-parameters does "
            "not change that."
        ),
        fix=(
            "Fix the findings ranked above this one first, as they usually explain it; then run the "
            "single-batch loop yourself and check the loss reaches near zero, looking at gradient flow and "
            "at what the optimizer actually holds."
        ),
        before=_code(
            """
            model = Tagger(vocab_size, num_tags)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            model = Tagger(vocab_size, num_tags)      # rebuilt: the optimizer holds the old weights
            for step in range(200):
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            """
        ),
        after=_code(
            """
            model = Tagger(vocab_size, num_tags)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)   # built from the final model
            for step in range(200):
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
            print(loss.item())                        # near 0 on one batch
            """
        ),
    ),
    Rule(
        code="RD504",
        title="predictions collapse to one class",
        severity=W,
        what=(
            "At the end of the single-batch fit that did not succeed, counts the distinct classes the model "
            "predicts on the batch and reports when it predicts one class for every sample although the batch "
            "holds several."
        ),
        why=(
            "Predicting the most frequent class is the cheapest way to reduce the loss early on. When the "
            "input signal is hard to reach (class imbalance, a learning rate that is too high, unnormalized "
            "inputs, a cut gradient path), the model settles there and the pull toward the other classes is "
            "too weak to get it out."
        ),
        symptoms=(
            "Accuracy equals the majority share (50% on a balanced binary task); the confusion matrix has "
            "one filled column; loss flat at the label entropy, 0.693 (= ln 2) for balanced binary labels."
        ),
        fix=(
            "Fix the root cause reported above it; common remedies are class weights in the loss, a lower "
            "learning rate and normalized inputs."
        ),
        before=_code(
            """
            loss_fn = nn.CrossEntropyLoss()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
            """
        ),
        after=_code(
            """
            loss_fn = nn.CrossEntropyLoss(weight=class_weights)        # inverse class frequency
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            """
        ),
    ),
    Rule(
        code="RD505",
        title="loss does not move at all",
        severity=E,
        what=(
            "Reports when the single-batch fit moves the loss by less than 0.1% of its starting value: no "
            "learning signal reaches the weights. `rnndoctor curves` reports it too when a training log's loss "
            "stays flat (noting when it sits at ln C, chance level)."
        ),
        why=(
            "A loss that does not change at all means the optimizer step has no effect on the output: the "
            "learning rate is zero, the optimizer holds other parameters, the gradients are all zero because "
            "the graph is cut, or step() is never called. Unlike slow learning, nothing will emerge with "
            "more time."
        ),
        symptoms=(
            "The same loss at every step to many decimal places (for example exactly 0.6931 every epoch); "
            "weights identical to their initial values."
        ),
        fix=(
            "Make sure optimizer.step() is called, that the optimizer was built from model.parameters() of "
            "the model being trained, and that the loss reaches the outputs without .item() or .detach() "
            "before backward()."
        ),
        before=_code(
            """
            loss = loss_fn(model(x), y)
            loss = torch.tensor(loss.item(), requires_grad=True)   # a new leaf, not linked to the model
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            """
        ),
        after=_code(
            """
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_value = loss.item()                               # for logging only
            """
        ),
    ),
    Rule(
        code="RD506",
        title="model ignores its input",
        severity=E,
        what=(
            "When the single-batch fit does not succeed, repeats it with every input replaced by zeros (the "
            "padding id for token ids) and reports when the real inputs end no lower than the zeroed ones: the "
            "outputs do not depend on the input."
        ),
        why=(
            "If the loss reached without the real input is just as low, the predictions come from the bias "
            "and the label frequencies, not from the sequence. Typical causes are a forward pass that reads "
            "the wrong tensor (such as the initial hidden state instead of the final one), a cut between "
            "input and output, or preprocessing that empties the features."
        ),
        symptoms=(
            "Accuracy equals the majority share; loss flat at the label entropy, 0.693 (= ln 2) for balanced "
            "binary labels; the same output for every input."
        ),
        fix=(
            "Trace the input through forward(): make sure the head reads a tensor that depends on x, and "
            "that the features still vary after preprocessing."
        ),
        before=_code(
            """
            def forward(self, x):
                h0 = torch.zeros(1, x.size(0), self.hidden_size)
                out, h_n = self.rnn(x, h0)
                return self.head(h0[-1])          # reads the initial state, not the result
            """
        ),
        after=_code(
            """
            def forward(self, x):
                h0 = torch.zeros(1, x.size(0), self.hidden_size)
                out, h_n = self.rnn(x, h0)
                return self.head(h_n[-1])
            """
        ),
    ),
    Rule(
        code="RD507",
        title="training stays at chance level in the short run",
        severity=E,
        what=(
            "Trains a few epochs over the sampled training batches with the configured optimizer (and "
            "train_step) and compares the training loss with chance level: the entropy of the label "
            "distribution for class losses (ln C when balanced, ln 2 for binary), the target variance for "
            "squared error. Reported when the loss ends within a small margin of chance and has stopped "
            "falling, and nothing more specific explains it."
        ),
        why=(
            "A model that stays at chance across many batches has found no relation between inputs and "
            "targets that holds beyond single samples. When the data, the wiring and the learning rate pass "
            "their checks, the usual cause is that the targets do not belong to the inputs: labels shuffled or "
            "sorted separately from the samples, a join on the wrong key, features and labels read from "
            "different files."
        ),
        symptoms=(
            "Loss flat at 0.693 (binary) or ln C, accuracy at the majority-class share, for every learning "
            "rate tried; the model can still memorize a handful of samples."
        ),
        fix=(
            "Check that every target is paired with its own sample: print a few (input, target) pairs and "
            "check them by hand, and shuffle samples and labels together (one permutation, or a Dataset "
            "that returns both)."
        ),
        before=_code(
            """
            x = torch.stack(features)
            y = torch.tensor(labels)[torch.randperm(len(labels))]   # shuffled on their own
            dataset = TensorDataset(x, y)
            """
        ),
        after=_code(
            """
            x = torch.stack(features)
            y = torch.tensor(labels)
            dataset = TensorDataset(x, y)
            loader = DataLoader(dataset, batch_size=32, shuffle=True)   # pairs shuffled together
            """
        ),
    ),
    Rule(
        code="RD601",
        title="overfitting: train and validation diverge",
        severity=W,
        what=(
            "Runs a short train/validation loop (a few epochs over the sampled training batches, validation loss "
            "and accuracy after each) and reports when validation loss has risen at least 10% above its minimum "
            "while training loss keeps falling, or training accuracy ends 15 points above validation accuracy. "
            "`rnndoctor curves LOG.csv` applies the same rules to a real training history."
        ),
        why=(
            "The model is fitting details specific to the training samples (its capacity is large for the "
            "amount of data, regularization is missing, or training runs too long). Those details do not "
            "carry over, so further training improves the training loss at the expense of validation."
        ),
        symptoms=(
            "Training accuracy near 100% with validation far below; validation loss turns upward after a few "
            "epochs while training loss keeps falling."
        ),
        fix=(
            "Add regularization (dropout before the head, weight decay), reduce the hidden size, get more "
            "data or augment it, and stop on validation loss."
        ),
        before=_code(
            """
            self.rnn = nn.LSTM(32, 1024, num_layers=3, batch_first=True)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
            """
        ),
        after=_code(
            """
            self.rnn = nn.LSTM(32, 256, num_layers=2, dropout=0.3, batch_first=True)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
            best = float("inf")
            for epoch in range(200):
                train_one_epoch(model, train_loader, optimizer)
                val_loss = evaluate(model, val_loader)
                if val_loss >= best:
                    break                             # validation stopped improving
                best = val_loss
            """
        ),
    ),
)
