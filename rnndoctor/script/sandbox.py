"""Keep a diagnosed script from overwriting the user's files.

While the script runs, a file it opens for writing (``open``, ``io.open``, ``torch.save`` to a path, and
everything built on them: checkpoints, ``np.save``, plots) is written into a temporary folder instead, and
a later read of the same path inside the run reads that copy. Only the script's own thread is redirected;
what rnndoctor itself writes is untouched. The report lists every redirected path.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

WRITE_MODES = frozenset("wax+")


class WriteSandbox:
    """Redirects the file writes of one thread into a temporary folder while installed."""

    def __init__(self, thread: Callable[[], threading.Thread | None]) -> None:
        self._thread = thread
        self.folder = Path(tempfile.mkdtemp(prefix="rnndoctor-script-writes-"))
        self.redirected: dict[str, Path] = {}
        """Each path the script wrote (absolute, as it named it) and where the bytes went instead."""
        self._originals: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        import torch

        self._patch(builtins, "open", self._open_wrapper(builtins.open))
        self._patch(io, "open", self._open_wrapper(io.open))
        self._patch(torch, "save", self._save_wrapper(torch.save))
        self._patch(torch, "load", self._load_wrapper(torch.load))

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals = []

    def close(self) -> None:
        self.uninstall()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _active(self) -> bool:
        return threading.current_thread() is self._thread()

    def target(self, path: Any, writing: bool) -> Any:
        """Where a path the script names really goes: a new place for a write, the copy for a read of a
        file the run wrote; anything else (file descriptors, buffers, unwritten paths) is left alone."""
        if not isinstance(path, (str, bytes, os.PathLike)) or not self._active():
            return path
        text = os.fsdecode(os.fspath(path))
        absolute = os.path.abspath(text)
        if absolute.startswith(str(self.folder)):
            return path
        if writing:
            if absolute not in self.redirected:
                index = len(self.redirected)
                self.redirected[absolute] = self.folder / f"{index:03d}-{Path(absolute).name or 'file'}"
            return str(self.redirected[absolute])
        if absolute in self.redirected:
            return str(self.redirected[absolute])
        return path

    def _open_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def open_redirected(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            writing = bool(WRITE_MODES.intersection(str(mode)))
            target = self.target(file, writing)
            if writing and target is not file and "a" in str(mode) and not os.path.exists(target):
                source = os.fsdecode(os.fspath(file))
                if os.path.isfile(source):
                    shutil.copyfile(source, target)  # appending continues the user's file, on a copy
            return original(target, mode, *args, **kwargs)

        return open_redirected

    def _save_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def save_redirected(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Any:
            if not self._active():
                return original(obj, f, *args, **kwargs)
            with _hooks_left_out():
                return original(obj, self.target(f, True), *args, **kwargs)

        return save_redirected

    def _load_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def load_redirected(f: Any, *args: Any, **kwargs: Any) -> Any:
            return original(self.target(f, False), *args, **kwargs)

        return load_redirected

    def written(self) -> list[str]:
        return sorted(self.redirected)


@contextlib.contextmanager
def _hooks_left_out() -> Iterator[None]:
    """Pickle whole modules without their hooks: while a diagnosis runs, the modules carry rnndoctor's own
    (local functions, which cannot be pickled), and ``torch.save(model, path)`` must still work."""
    import torch

    original = torch.nn.Module.__getstate__

    def without_hooks(module: torch.nn.Module) -> dict[str, Any]:
        state = dict(original(module))  # type: ignore[no-untyped-call]
        for key, value in list(state.items()):
            if key.endswith("_hooks") or "_hooks_" in key:
                state[key] = type(value)() if isinstance(value, dict) else value
        return state

    torch.nn.Module.__getstate__ = without_hooks  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        torch.nn.Module.__getstate__ = original  # type: ignore[method-assign]
