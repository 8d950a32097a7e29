"""`diagnose`: the one entry point the CLI and Python users share (contract §5)."""

from __future__ import annotations

import contextlib
import datetime
import inspect
import platform
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from rnndoctor.core.catalogue import code_range, unmatched_code
from rnndoctor.core.engine import Selection, plan_checks, run_plan
from rnndoctor.core.findings import FailOn, Report, Timing
from rnndoctor.core.progress import ProgressListener
from rnndoctor.core.ranking import escalate, rank
from rnndoctor.core.version import VERSION as __version__
from rnndoctor.runtime.timeouts import alarm
from rnndoctor.setup.config import Config, Reference, build_config, load_config
from rnndoctor.setup.errors import SetupError
from rnndoctor.setup.loaded import Loaded, assemble
from rnndoctor.setup.loading import DEFAULT_LR, Loader, check_hidden


class SetupTimeout(BaseException):
    """Loading ran past setup_timeout; a BaseException so the user's ``except Exception`` cannot hide it."""


def diagnose(
    config: str | Path | None = None,
    *,
    script_args: tuple[str, ...] | list[str] = (),
    model: Any = None,
    train_data: Any = None,
    loss: Any = None,
    optimizer: Any = None,
    val_data: Any = None,
    forward: Any = None,
    train_step: Any = None,
    device: str | None = None,
    seed: int | None = None,
    fail_on: str | None = None,
    select: tuple[str, ...] | list[str] = (),
    ignore: tuple[str, ...] | list[str] = (),
    quick: bool = False,
    verify: bool = True,
    checks: dict[str, Any] | None = None,
    check_timeout: float | None = None,
    max_batches: int | None = None,
    scored_positions: int | None = None,
    max_check_work: float | None = None,
    hidden: str | None = None,
    layout: str | None = None,
    batch_keys: dict[str, str] | None = None,
    threads: int | None = None,
    progress: ProgressListener | bool | None = None,
    datamodule: Any = None,
    allow_incomplete: bool | None = None,
) -> Report:
    """Diagnose a training setup, from a config file or from live objects.

    Whatever happens, the model's parameters, buffers, gradients and modes, the optimizer's state
    and the python/numpy/torch RNG states are restored before this returns or raises.
    ``verify=False`` skips trying the findings' fixes on the model (``--no-verify``).
    ``allow_incomplete=True`` (``--allow-incomplete``) leaves the exit code to the findings when the
    ``check_timeout`` safety net stops a check (else it is 3, INCOMPLETE).
    ``progress``: a listener for the run's progress; by default a live bar in a Jupyter notebook and nothing
    elsewhere (``True``: a bar on stderr anywhere, ``False``: none).
    ``threads`` sets torch's thread count for the run (default: chosen from the model's width and the
    machine's free cores; the caller's setting is given back afterwards).
    A LightningModule ``model`` needs no ``loss`` (its training_step computes it), ``optimizer``
    (configure_optimizers) or ``train_data`` (its own or ``datamodule``'s dataloaders).
    ``progress`` is a progress listener (`rnndoctor.core.progress`), or True / False for a tqdm bar on
    stderr or none; by default a bar is shown in Jupyter notebooks when tqdm is installed.
    A ``config`` path ending in ``.py`` is a training script, run with ``script_args`` as its arguments from
    the current folder (script mode, contract §8); a YAML config may name one with ``script:``.
    Raises `SetupError` when the setup itself is invalid (the CLI's exit code 2).
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise SetupError(f"threads={threads!r}: expected a whole number of at least 1")
    overrides: dict[str, Any] = {
        "device": device,
        "seed": seed,
        "fail_on": fail_on,
        "check_timeout": check_timeout,
        "max_batches": max_batches,
        "scored_positions": scored_positions,
        "max_check_work": max_check_work,
        "hidden": hidden,
        "layout": layout,
        "batch_keys": batch_keys,
        "allow_incomplete": allow_incomplete,
    }
    if checks is not None:
        overrides["checks"] = checks
    loader: Loader | None = None
    loaded: Loaded | None = None
    if config is not None and str(config).endswith(".py"):
        if model is not None or train_data is not None or loss is not None:
            raise SetupError("give either a script or objects (model=, train_data=, loss=), not both")
        cfg = script_config(config, script_args, overrides)
    elif config is not None:
        if model is not None or train_data is not None or loss is not None:
            raise SetupError("give either a config path or objects (model=, train_data=, loss=), not both")
        if script_args:
            raise SetupError("script_args= is for a training script (a .py path), not a config file")
        cfg = load_config(config, overrides=overrides)
        loader = Loader(cfg) if cfg.script is None else None
    else:
        if model is None:
            raise SetupError("diagnose() needs a config path, or model=, train_data= and loss=")
        data = {k: v for k, v in overrides.items() if v is not None}
        data.update(model="<object>", train_data="<object>", loss="<object>")
        cfg = build_config(data, display="<objects>", base_dir=Path.cwd(), path=None)
        loaded = _loaded_from_objects(
            model, train_data, loss, optimizer, val_data, forward, train_step, datamodule, cfg.batch_keys
        )
        check_hidden(model, cfg.hidden, cfg.display_path)
    for name, codes in (("select", select), ("ignore", ignore)):
        missing = unmatched_code(list(codes))
        if missing:
            raise SetupError(f"{name}={missing!r} matches no code ({code_range()})")
    cfg = replace(cfg, select=tuple(select) or cfg.select, ignore=tuple(cfg.ignore) + tuple(ignore))
    if progress is None or isinstance(progress, bool):
        from rnndoctor.render.progress import api_progress

        progress = api_progress(progress)
    return _run(cfg, loader, loaded, quick=quick, verify=verify, threads=threads, progress=progress)


def script_config(script: str | Path, script_args: Any, overrides: dict[str, Any]) -> Config:
    """The config of ``rnndoctor check train.py -- ARGS``: the script run from the current folder."""
    path = Path(script)
    if not path.is_file():
        raise SetupError("no such file", file=str(script))
    data: dict[str, Any] = {"script": str(path.resolve()), "script_args": [str(a) for a in script_args]}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return build_config(data, display=str(script), base_dir=Path.cwd(), path=path)


def _run(
    cfg: Config,
    loader: Loader | None,
    loaded: Loaded | None,
    *,
    quick: bool,
    verify: bool = True,
    threads: int | None,
    progress: ProgressListener | None,
) -> Report:
    import torch

    from rnndoctor.runtime.facts import known
    from rnndoctor.runtime.resources import PeakMemory, choose_threads, torch_threads
    from rnndoctor.runtime.session import Session
    from rnndoctor.runtime.state import LoaderState, ModelState, RngState, seed_everything
    from rnndoctor.runtime.summary import summarize
    from rnndoctor.runtime.targets import task_facts

    started = time.perf_counter()
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    rng = RngState.capture()
    user_state: ModelState | None = None
    loader_states: list[LoaderState] = []
    original_device: torch.device | None = None
    loss_device: torch.device | None = None
    session: Session | None = None
    scripted: Any = None
    exits = contextlib.ExitStack()
    try:
        seed_everything(cfg.seed)
        if cfg.script is not None:
            from rnndoctor.script.loading import loaded_script

            cpu_only = cfg.device == "cpu"
            exits.enter_context(_cuda_hidden(cpu_only))
            exits.enter_context(torch_threads(threads or 1))
            scripted = exits.enter_context(loaded_script(cfg.script, steps=cfg.max_batches, display=cfg.display_path))
            if scripted.loaded is None:
                return _crash_report(cfg, scripted, started, started_at)
            loaded = scripted.loaded
        if loader is not None:
            try:
                with alarm(cfg.setup_timeout, SetupTimeout):
                    loaded = loader.load()
            except SetupTimeout:
                raise SetupError(
                    f"loading the model, data, loss and optimizer took longer than {cfg.setup_timeout:g} s "
                    "(setup_timeout); a factory or an import may be stuck",
                    file=cfg.display_path,
                ) from None
        assert loaded is not None
        device = resolve_device(cfg.device, cfg.display_path) if scripted is None else _script_device(loaded.model)
        user_state = ModelState(loaded.model, loaded.optimizer)
        loader_states = [LoaderState(data) for data in (loaded.train_data, loaded.val_data) if data is not None]
        original_device = _model_device(loaded.model)
        if original_device is not None and original_device != device:
            loaded.model.to(device)
        loss_device = _model_device(loaded.loss_fn) if isinstance(loaded.loss_fn, torch.nn.Module) else None
        if loss_device is not None and loss_device != device:
            loaded.loss_fn.to(device)  # type: ignore[attr-defined]  # its class weights (loss_args weight: [...]) go where the outputs are
        session = Session(
            loaded,
            device=device,
            seed=cfg.seed,
            max_batches=cfg.max_batches,
            loss_name=_loss_name(loaded.loss_fn),
            hidden=cfg.hidden,
            layout=cfg.layout,
            batch_keys=cfg.batch_keys,
            max_step_work=cfg.max_step_work,
            check_options=cfg.checks,
            scored_positions=cfg.scored_positions,
            max_check_work=cfg.max_check_work,
        )
        plan = plan_checks(Selection(cfg.select, cfg.ignore, quick, verify), cfg.checks)
        if not plan.checks:
            raise SetupError(
                "no check can report the selected codes"
                + (" in the --quick profile" if quick else "")
                + f" (select: {', '.join(cfg.select) or 'all'}; ignore: {', '.join(cfg.ignore) or 'none'})"
                + ": nothing to run",
                file=cfg.display_path,
            )
        thread_count = choose_threads(loaded.model, threads)
        memory = PeakMemory(device)
        with torch_threads(thread_count):
            results, findings, interrupted = run_plan(session, plan, timeout=cfg.check_timeout, progress=progress)
        costs = {r.name: r.cost for r in results}
        task = known(session, task_facts)
        model_summary = summarize(loaded.model, session.shapes.shapes)
        if scripted is not None:
            findings = [*scripted.findings, *findings]
        report = Report(
            config=str(cfg.path) if cfg.path else (cfg.display_path if cfg.script else None),
            device=str(device),
            findings=rank(escalate(findings), costs),
            checks=results,
            timing=Timing(
                time.perf_counter() - started, session.forward_passes, session.backward_passes, _peak(memory, results)
            ),
            fail_on=cfg.fail_on,
            task=task.task.to_dict() if task is not None else {},
            interrupted=interrupted,
            allow_incomplete=cfg.allow_incomplete,
            model=model_summary,
            meta={
                "rnndoctor": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "device": str(device),
                "seed": cfg.seed,
                "threads": thread_count,
                "started": started_at,
                **({"step_samples": session.step_cut} if session.step_cut else {}),
                **({"scored_positions": session.scoring_used} if session.scoring_used else {}),
                **({"work_cuts": session.work_cuts} if session.work_cuts else {}),
                **({"lightning": loaded.lightning} if loaded.lightning else {}),
                **({"script": scripted.meta()} if scripted is not None else {}),
            },
        )
        if scripted is not None:
            report.script_output = scripted.environment.output_text()
        return report
    finally:
        exits.close()
        if user_state is not None:
            if original_device is not None and loaded is not None:
                loaded.model.to(original_device)
            if loss_device is not None and loaded is not None:
                loaded.loss_fn.to(loss_device)  # type: ignore[attr-defined]
            user_state.restore()
        for loader_state in loader_states:
            loader_state.restore()
        rng.restore()
        if loader is not None:
            loader.release_import_path()


@contextlib.contextmanager
def _cuda_hidden(hidden: bool) -> Iterator[None]:
    """With ``device: cpu`` a script that picks CUDA when it is available runs on the CPU instead."""
    import torch

    if not hidden:
        yield
        return
    original = torch.cuda.is_available
    torch.cuda.is_available = lambda: False
    try:
        yield
    finally:
        torch.cuda.is_available = original


def _script_device(model: Any) -> Any:
    import torch

    return _model_device(model) or torch.device("cpu")


def _crash_report(cfg: Config, scripted: Any, started: float, started_at: str) -> Report:
    """The report of a script that crashed inside its model or loss before any step finished."""
    import torch

    return Report(
        config=cfg.display_path,
        device="cpu",
        findings=scripted.findings,
        checks=[],
        timing=Timing(time.perf_counter() - started, 1, 0, None),
        fail_on=cfg.fail_on,
        meta={
            "rnndoctor": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "seed": cfg.seed,
            "started": started_at,
            "script": scripted.meta(),
        },
        script_output=scripted.environment.output_text(),
    )


def _peak(memory: Any, results: list[Any]) -> float | None:
    """The run's peak memory: each check resets the peak it measures, so the run's is the largest of theirs."""
    readings = [memory.megabytes(), *(r.metrics.get("peak_memory_mb") for r in results)]
    values = [float(value) for value in readings if value is not None]
    return max(values) if values else None


def resolve_device(text: str, config_name: str) -> Any:
    import torch

    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(text)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise SetupError(
            "MPS (Apple GPU) was requested but is not available on this machine", file=config_name, key="device"
        )
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SetupError("CUDA was requested but no CUDA device is available", file=config_name, key="device")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SetupError(
                f"{text} requested but only {torch.cuda.device_count()} CUDA device(s) exist",
                file=config_name,
                key="device",
            )
    return device


def _model_device(model: Any) -> Any:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return None


def _loss_name(loss_fn: Any) -> str:
    declared = getattr(loss_fn, "loss_name", None)
    if isinstance(declared, str):
        return declared
    name = type(loss_fn).__name__
    if name in ("function", "method", "partial"):
        return getattr(loss_fn, "__name__", name)
    return name


def _loaded_from_objects(
    model: Any,
    train_data: Any,
    loss: Any,
    optimizer: Any,
    val_data: Any,
    forward: Any,
    train_step: Any,
    datamodule: Any = None,
    batch_keys: dict[str, str] | None = None,
) -> Loaded:
    import torch

    from rnndoctor.setup.lightning_adapter import LightningSetupError, is_lightning_module, prepare

    if not isinstance(model, torch.nn.Module):
        raise SetupError(f"model= must be a torch.nn.Module, got {type(model).__name__}")
    lightning = is_lightning_module(model)
    if not lightning and datamodule is None and (train_data is None or loss is None):
        raise SetupError("diagnose() needs a config path, or model=, train_data= and loss=")
    train_data, val_data = _iterable(train_data, "train_data"), _iterable(val_data, "val_data")
    if isinstance(loss, (str, type)):
        resolver = Loader(_placeholder_config())
        loss = resolver.build_loss(
            Reference("loss", loss if isinstance(loss, str) else f"{loss.__module__}.{loss.__qualname__}")
        )
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise SetupError(f"optimizer= must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if optimizer is None and not lightning:
        try:
            optimizer = torch.optim.Adam(model.parameters(), lr=DEFAULT_LR)
        except ValueError as exc:
            raise SetupError(f"cannot build the default Adam optimizer for this model: {exc}") from None
    try:
        if datamodule is not None:
            # A live module has been set up already (configure_model run twice would build its layers anew);
            # a datamodule is set up for the fit when it must give batches.
            if not callable(getattr(datamodule, "train_dataloader", None)):
                raise LightningSetupError(
                    "datamodule", f"expected a LightningDataModule, got {type(datamodule).__name__}"
                )
            if train_data is None or val_data is None:
                prepare(datamodule, "datamodule")
        return assemble(
            model,
            train_data=train_data,
            val_data=val_data,
            loss_fn=loss,
            optimizer=optimizer,
            forward_fn=forward,
            train_step_fn=train_step,
            datamodule=datamodule,
            batch_keys=batch_keys,
        )
    except LightningSetupError as exc:
        raise SetupError(exc.cause, key=exc.key) from exc


def _iterable(data: Any, name: str) -> Any:
    """Data as given, a generator function called to get its generator (contract §2)."""
    if data is None:
        return None
    if inspect.isgeneratorfunction(data):
        return data()
    if not isinstance(data, Iterable) and not hasattr(data, "__getitem__"):
        raise SetupError(
            f"{name}= must be an iterable of batches (a DataLoader, a list, a generator), got {type(data).__name__}"
        )
    return data


def _placeholder_config() -> Config:
    return Config(
        path=None,
        base_dir=Path.cwd(),
        model=Reference("model", "<object>"),
        train_data=Reference("train_data", "<object>"),
        loss=Reference("loss", "<object>"),
        fail_on=FailOn.ERROR,
    )
