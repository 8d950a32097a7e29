"""RD001: the user's code raised an error that no other rule explains (`rnndoctor.core.crashes` makes the finding)."""

from __future__ import annotations

from rnndoctor.core.catalogue import Rule, Wording, snippet
from rnndoctor.core.findings import Severity

RULE = Rule(
    code="RD001",
    message="The {stage_words} raised {error}{where}. Checks that need this stage could not run.",
    remedy="Reproduce it on one batch (`batch = next(iter(train_loader))`) and fix the line{line}.",
    variants={
        "layer_input_bidirectional": Wording(
            message=(
                "The {stage_words} raised {error}: '{layer}' (nn.Linear({in_features}, {out_features})) receives "
                "{received} features per row, not {in_features}. They come from '{producer}', a bidirectional "
                "{producer_kind} with hidden_size={hidden_size}: it outputs both directions side by side, "
                "2 × {hidden_size} = {received} features."
            ),
            remedy=(
                "Give '{layer}' in_features = 2 × hidden_size, one half per direction:\n\n```python\n"
                "self.{attr} = nn.Linear(2 * {hidden_size}, {out_features})\n```"
            ),
        ),
        "layer_input": Wording(
            message=(
                "The {stage_words} raised {error}: '{layer}' (nn.Linear({in_features}, {out_features})) receives "
                "{received} features per row, not {in_features}{source}."
            ),
            remedy=(
                "Build '{layer}' for the features it receives (or change what feeds it):\n\n```python\n"
                "self.{attr} = nn.Linear({received}, {out_features})\n```"
            ),
        ),
        "out_of_memory": Wording(
            message="The {check} check ran out of {device_type} memory{where}: {error}",
            remedy=(
                "Reduce the batch size, the sequence length or the hidden size, or run on a device with more memory."
            ),
        ),
        "out_of_memory_smaller_batch": Wording(
            message=(
                "The {check} check ran out of {device_type} memory{where}; a batch of {fitting_batch_size} fits: "
                "{error}"
            ),
            remedy=(
                "Use batches of at most {fitting_batch_size} (or accumulate gradients over {steps} smaller "
                "batches), shorten the sequences, or reduce the hidden size."
            ),
        ),
    },
    title="the user's code raised an error during a check",
    severity=Severity.ERROR,
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
    before=snippet(
        """
        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1]).view(self.batch_size, -1)  # fails on the last, smaller batch
        """
    ),
    after=snippet(
        """
        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])
        """
    ),
)
