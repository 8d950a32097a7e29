"""Suite-wide settings that keep the tests' verdicts independent of how busy the machine is: one torch
thread (also for the CLI runs started as subprocesses) and a generous wall-clock safety net per check, so
that a loaded CI runner makes the suite slower, never red."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

GENEROUS_CHECK_TIMEOUT = 600.0


@pytest.fixture(autouse=True, scope="session")
def _generous_check_timeout() -> Iterator[None]:
    from rnndoctor.setup.config import _parsed_defaults

    sampling = _parsed_defaults()["sampling"]
    saved = sampling["check_timeout"]
    sampling["check_timeout"] = max(saved, GENEROUS_CHECK_TIMEOUT)
    yield
    sampling["check_timeout"] = saved
