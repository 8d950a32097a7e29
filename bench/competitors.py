"""The learning-rate finders rnndoctor is compared with, each run through its own library with its defaults.

- torch-lr-finder: ``LRFinder.range_test`` (end_lr 10, 100 iterations, smoothing 0.05, stop at 5x the best loss),
  starting from 1e-7 as its README does, and the steepest-gradient suggestion of ``LRFinder.plot``.
- Lightning: ``Tuner.lr_find`` (1e-8 to 1, 100 steps, stop at 4x) and ``.suggestion()``.
- fastai: its ``valley`` suggestion (fastai's default), applied to the curve its ``lr_find`` records (1e-7 to 10,
  100 iterations, loss smoothed with beta 0.98, stop at 4x the best, the first tenth and the last five points
  left out). The ``valley`` function is fastai's own, loaded from the installed package's source
  (fastai/callback/schedule.py, Apache-2.0) because importing fastai needs torchvision and spaCy: install it with
  ``pip install --no-deps fastai``. fastai's training loop is written out here for the same reason.

Every finder gets the task's model (fresh, seeded), optimizer class and arguments, loss and batches, and sees
the batches as a DataLoader in their order. A finder that cannot run a task (torch-lr-finder steps LBFGS
without a closure) is recorded with the error instead of a suggestion.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tasks import Task
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class FinderResult:
    suggestion: float | None
    seconds: float
    error: str | None = None


def loader_of(task: Task) -> DataLoader:
    """The task's batches as a DataLoader yielding the same batches in the same order."""
    xs = torch.cat([x for x, _ in task.batches])
    ys = torch.cat([y.reshape(len(x), -1) if task.flat_targets else y for x, y in task.batches])

    def collate(samples: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack([sample[0] for sample in samples])
        y = torch.stack([sample[1] for sample in samples])
        return x, (y.reshape(-1) if task.flat_targets else y)

    return DataLoader(TensorDataset(xs, ys), batch_size=len(task.batches[0][0]), shuffle=False, collate_fn=collate)


def _timed(run: Callable[[], float | None]) -> FinderResult:
    started = time.perf_counter()
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            suggestion = run()
    except Exception as exc:  # noqa: BLE001 - a finder that fails on a task is a result, not a crash
        return FinderResult(None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"[:200])
    return FinderResult(suggestion, time.perf_counter() - started)


def torch_lr_finder(task: Task, seed: int) -> FinderResult | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from torch_lr_finder import LRFinder
    except ImportError:
        return None

    def run() -> float | None:
        torch.manual_seed(seed)
        model = task.model()
        optimizer = task.optimizer(model.parameters(), lr=1e-7, **task.optimizer_args)
        finder = LRFinder(model, optimizer, task.loss(), device="cpu")
        finder.range_test(loader_of(task))
        figure, ax = plt.subplots()
        try:
            _, suggestion = finder.plot(ax=ax, suggest_lr=True)
        finally:
            plt.close(figure)
        finder.reset()
        return float(suggestion)

    return _timed(run)


def quiet_trainer(folder: str) -> Any:
    """A Lightning Trainer on the CPU that writes no logs, checkpoints or progress bars (its defaults otherwise)."""
    import lightning.pytorch as pl

    return pl.Trainer(
        default_root_dir=folder,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )


def lightning(task: Task, seed: int) -> FinderResult | None:
    try:
        import lightning.pytorch as pl
        from lightning.pytorch.tuner import Tuner
    except ImportError:
        return None
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)

    class Module(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.loss_fn, self.lr = task.model(), task.loss(), 1e-3

        def training_step(self, batch: Any, _: int) -> torch.Tensor:
            x, y = batch
            loss: torch.Tensor = self.loss_fn(self.inner(x), y)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return task.optimizer(self.parameters(), lr=self.lr, **task.optimizer_args)

    def run() -> float | None:
        torch.manual_seed(seed)
        module = Module()
        with tempfile.TemporaryDirectory() as folder:
            found = Tuner(quiet_trainer(folder)).lr_find(module, train_dataloaders=loader_of(task))
        suggestion = found.suggestion() if found is not None else None
        return float(suggestion) if suggestion is not None else None

    return _timed(run)


def fastai_valley_function() -> Callable[..., Any] | None:
    """fastai's own ``valley``, compiled from the installed package's source without importing fastai."""
    spec = importlib.util.find_spec("fastai")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(next(iter(spec.submodule_search_locations))) / "callback" / "schedule.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "valley"]
    if not found:
        return None
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=found, type_ignores=[]), str(source), "exec"), namespace)
    function: Callable[..., Any] = namespace["valley"]
    return function


def fastai_curve(task: Task, seed: int, start: float = 1e-7, end: float = 10.0, iterations: int = 100):
    """The learning rates and smoothed losses fastai's ``lr_find`` records with its defaults."""
    torch.manual_seed(seed)
    model = task.model()
    optimizer = task.optimizer(model.parameters(), lr=start, **task.optimizer_args)
    loss_fn = task.loss()
    lrs: list[float] = []
    losses: list[float] = []
    average, best = 0.0, math.inf
    for step in range(iterations):
        lr = start * (end / start) ** (step / iterations)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        value = task.train_step(model, optimizer, loss_fn, task.batches[step % len(task.batches)])
        average = 0.98 * average + 0.02 * value
        smoothed = average / (1 - 0.98 ** (step + 1))
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > 4 * best or not math.isfinite(smoothed):
            break
    return lrs, losses


def fastai_valley(task: Task, seed: int) -> FinderResult | None:
    valley = fastai_valley_function()
    if valley is None:
        return None

    def run() -> float | None:
        iterations = 100
        lrs, losses = fastai_curve(task, seed, iterations=iterations)
        lrs, losses = lrs[iterations // 10 : -5], losses[iterations // 10 : -5]
        finite = next((i for i, v in enumerate(losses) if math.isnan(v)), len(losses))
        lrs, losses = lrs[:finite], losses[:finite]
        if len(losses) < 2:
            return None
        suggestion, _ = valley(lrs, torch.tensor(losses), iterations)
        return float(suggestion)

    return _timed(run)


FINDERS: dict[str, Callable[[Task, int], FinderResult | None]] = {
    "torch-lr-finder": torch_lr_finder,
    "lightning": lightning,
    "fastai valley": fastai_valley,
}
