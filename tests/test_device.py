"""Device handling: out-of-memory becomes a finding with the batch size that fits; CUDA runs agree with CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnndoctor import diagnose
from tests import setups


class MemoryHungry(setups.SequenceClassifier):
    """Pretends the device only holds 8 samples at a time."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 8 and torch.is_grad_enabled():
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().forward(x)


def test_out_of_memory_reports_the_batch_size_that_fits() -> None:
    report = diagnose(**setups.classifier(model=MemoryHungry()), select=["RD401"])
    (finding,) = [f for f in report.findings if f.code == "RD001"]
    assert finding.evidence["batch_size"] == 32
    assert finding.evidence["fitting_batch_size"] == 8
    assert "batches of at most 8" in finding.fix


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "build",
    [
        setups.healthy_classifier,
        setups.single_class,
        setups.tokens_beyond_embedding,
        setups.one_based_labels,
        setups.class_axis_silent,
        setups.h_n_view,
        setups.padded_last_step_readout,
        setups.adam_lr_1e_7,
        setups.sgd_lr_too_high,
        setups.missing_zero_grad,
    ],
)
def test_cuda_verdicts_match_cpu(build) -> None:  # type: ignore[no-untyped-def]
    cpu = diagnose(**build(), device="cpu")
    cuda = diagnose(**build(), device="cuda")
    assert cuda.device.startswith("cuda")
    assert [f.code for f in cuda.findings][:1] == [f.code for f in cpu.findings][:1]
    assert {f.code for f in cuda.findings if f.severity.label == "error"} == {
        f.code for f in cpu.findings if f.severity.label == "error"
    }


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_model_is_moved_back_and_restored() -> None:
    setup = setups.healthy_classifier()
    model: nn.Module = setup["model"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    diagnose(**setup, device="cuda")
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_cuda_requested_without_cuda_is_a_setup_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    from rnndoctor.setup.errors import SetupError

    with pytest.raises(SetupError, match="CUDA"):
        diagnose(**setups.healthy_classifier(), device="cuda")
