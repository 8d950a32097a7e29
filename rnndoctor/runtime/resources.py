"""The machine resources a diagnosis uses: torch's thread count for the run, and its peak memory.

Threads. A diagnosis runs small batches through recurrent layers one time step at a time; each step is a
small matrix product that one core finishes before a second could help, and torch's thread pool collapses
when the cores are shared (2 cores, two busy neighbours: the healthy example took 3.4 s with one thread and
9.3 s with two). Only wide layers gain from a second core (a 2x1024 LSTM step: 1.38 s on one thread,
0.73 s on two, idle), and then only while the cores are free (3.05 s on two busy cores, 1.69 s on one).
So: one thread, unless the widest weight matrix is large and the load average leaves cores idle.
The verdict does not depend on the choice; only the speed does.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import torch

from rnndoctor.runtime.layout import multiplied_parameters

WIDE_MATRIX = 1 << 21
"""Elements in the widest weight matrix from which a second thread pays (a 1024-unit LSTM has 4096x1024)."""
MAX_THREADS = 4


def usable_cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        with contextlib.suppress(OSError):
            return max(1, len(affinity(0)))
    return max(1, os.cpu_count() or 1)


def idle_cores(cores: int) -> int:
    """Cores the one-minute load average leaves free (all of them where the platform has no load average)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return max(1, int(cores - load + 0.5))


def choose_threads(model: torch.nn.Module, requested: int | None = None) -> int:
    if requested is not None:
        return requested
    widest = max((p.numel() for p in multiplied_parameters(model) if p.dim() >= 2), default=0)
    if widest < WIDE_MATRIX:
        return 1
    return max(1, min(MAX_THREADS, idle_cores(usable_cores())))


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run with ``count`` intra-op threads and give the caller's setting back afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class PeakMemory:
    """The peak memory of the run: allocated device memory on CUDA, the process's resident set on CPU.

    On Linux the resident peak is reset at the start (``/proc/self/clear_refs``), so it covers this run
    rather than the process's whole life; elsewhere it is the process's lifetime peak.
    """

    def __init__(self, device: Any) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")

    def megabytes(self) -> float | None:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        try:
            import resource
        except ImportError:
            return None
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
