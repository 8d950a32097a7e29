"""Run a user's script in a thread of its own, as ``python script.py ARGS`` would, under the observer.

The script's ``sys.argv``, working directory, environment and import path are set for the diagnosis and
given back afterwards; what it prints is kept (not shown) and its file writes go to a sandbox. The
diagnosis drives it step by step through `ScriptRun.advance`.
"""

from __future__ import annotations

import io
import os
import queue
import runpy
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

from rnndoctor.script.observer import Observer
from rnndoctor.script.protocol import Message, Router, StepPlan, StopScript
from rnndoctor.script.sandbox import WriteSandbox
from rnndoctor.script.spec import ScriptSpec

OUTPUT_LIMIT = 200_000
"""Characters of the script's own output kept (the end of it)."""

STOP_WAIT = 3.0
"""Seconds to wait for a stopped script's thread to finish its cleanup."""


class ScriptTimeout(Exception):
    """The script did not reach the next pause in time."""


class _ThreadOutput(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: the script's thread writes into a buffer, others pass through."""

    def __init__(self, original: TextIO, thread: Any, buffer: list[str]) -> None:
        self.original = original
        self.thread = thread
        self.buffer = buffer

    def write(self, text: str) -> int:
        if threading.current_thread() is self.thread():
            self.buffer.append(text)
            if len(self.buffer) > 4096:
                joined = "".join(self.buffer)[-OUTPUT_LIMIT:]
                self.buffer[:] = [joined]
            return len(text)
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.original.fileno()


class ScriptEnvironment:
    """The process-wide setting a script expects (argv, cwd, environment, import path, stdout), held for a
    whole diagnosis across every run of the script, and the sandbox for its writes."""

    def __init__(self, spec: ScriptSpec) -> None:
        self.spec = spec
        self.output: list[str] = []
        self.thread: threading.Thread | None = None
        self.sandbox = WriteSandbox(lambda: self.thread)
        self.router = Router()
        self._saved: dict[str, Any] = {}

    @contextmanager
    def entered(self) -> Iterator[ScriptEnvironment]:
        spec = self.spec
        saved_argv, saved_path, saved_cwd = list(sys.argv), list(sys.path), os.getcwd()
        saved_env = {key: os.environ.get(key) for key in spec.env}
        saved_streams = sys.stdout, sys.stderr
        modules_before = set(sys.modules)
        # No plot window may block the diagnosis (plt.show() before training): a non-interactive backend,
        # unless the user chose one.
        saved_env.setdefault("MPLBACKEND", os.environ.get("MPLBACKEND"))
        os.environ.setdefault("MPLBACKEND", "Agg")
        sys.argv = [str(spec.path), *spec.args]
        sys.path.insert(0, str(spec.path.parent))
        os.environ.update({key: str(value) for key, value in spec.env.items()})
        os.chdir(spec.folder)
        sys.stdout = _ThreadOutput(sys.stdout, lambda: self.thread, self.output)  # type: ignore[assignment]
        sys.stderr = _ThreadOutput(sys.stderr, lambda: self.thread, self.output)  # type: ignore[assignment]
        self.sandbox.install()
        try:
            yield self
        finally:
            self.router.uninstall()
            self.sandbox.close()
            sys.stdout, sys.stderr = saved_streams
            os.chdir(saved_cwd)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            sys.argv = saved_argv
            sys.path[:] = saved_path
            _release_modules(modules_before, (spec.path.parent, spec.folder))

    def output_text(self) -> str:
        return "".join(self.output)

    def output_tail(self, lines: int = 20) -> str:
        text = "".join(self.output)
        return "\n".join(text.rstrip().splitlines()[-lines:])


def _release_modules(before: set[str], folders: tuple[Path, ...]) -> None:
    """Forget the modules the script imported from its own folders, so the next script that has a
    ``model.py`` of its own does not get this one's."""
    roots = [str(folder.resolve()) for folder in folders]
    for name in [n for n in sys.modules if n not in before]:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if any(str(origin).startswith(root) for root in roots):
            del sys.modules[name]


class ScriptRun:
    """One run of the script, from its first line until it ends or is stopped."""

    def __init__(self, environment: ScriptEnvironment, observer: Observer | None = None) -> None:
        self.environment = environment
        self.observer = observer or Observer(environment.router)
        self.observer.router = environment.router
        self.thread = threading.Thread(target=self._main, name="rnndoctor-script", daemon=True)
        self.observer.thread = self.thread
        self.started = 0.0
        self.finished: Message | None = None
        self._waiting = False

    def _main(self) -> None:
        spec = self.environment.spec
        message: Message
        try:
            runpy.run_path(str(spec.path), run_name="__main__")
            message = Message("ended", record=self.observer.current)
        except StopScript:
            message = Message("stopped")
        except SystemExit as exc:
            code = exc.code
            ended = code in (None, 0)
            message = Message("ended" if ended else "exited", record=self.observer.current, error=exc, payload=code)
        except BaseException as exc:  # noqa: BLE001 - whatever the script raises is reported, not re-raised
            crash = self.observer.crash
            stage = crash.stage if crash else None
            message = Message("crashed", record=self.observer.current, error=exc, stage=stage, payload=crash)
        self.observer.to_controller.put(message)

    def start(self) -> Message:
        """Start the script and wait for its first pause (its first training forward pass) or its end."""
        self.environment.thread = self.thread
        self.observer.install()
        self.started = time.perf_counter()
        self.thread.start()
        self._waiting = True
        return self._wait(self.environment.spec.timeout)

    def advance(self, plan: StepPlan, timeout: float | None = None) -> Message:
        """Let the script run its next step by ``plan``; returns at the next pause or at its end."""
        if self.finished is not None:
            return self.finished
        if self._waiting:
            raise RuntimeError("the script is still running its previous step")
        self.observer.plan = plan
        self.observer.to_script.put(plan)
        self._waiting = True
        return self._wait(timeout)

    def wait_pending(self, timeout: float | None) -> Message | None:
        """Wait for a step a stopped check left running (None when there is none)."""
        if not self._waiting:
            return None
        return self._wait(timeout)

    def _wait(self, timeout: float | None) -> Message:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ScriptTimeout()
            try:
                message = self.observer.to_controller.get(timeout=min(0.5, remaining) if remaining else 0.5)
            except queue.Empty:
                continue
            self._waiting = False
            if message.kind not in ("paused", "fit"):
                self.finished = message
            return message

    def stop(self) -> None:
        """End the script: it meets StopScript at its next hook and its thread finishes."""
        if self.finished is None and self.thread.is_alive():
            self.observer.stopping = True
            if not self._waiting:
                self.observer.to_script.put(None)
                self._waiting = True
            with suppress(ScriptTimeout):
                self._wait(STOP_WAIT)
        self.thread.join(timeout=STOP_WAIT)

    @property
    def alive(self) -> bool:
        return self.finished is None


def user_traceback(error: BaseException, script: Path, limit: int = 8) -> str:
    """The traceback of an error the script raised, cut to the frames of the user's own files."""
    package = str(Path(__file__).resolve().parents[1])
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith(package)
        and "site-packages" not in frame.filename
        and not frame.filename.startswith("<")
        and "runpy" not in Path(frame.filename).name
    ]
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}' for f in frames]
    text = "\n".join(lines[-limit:])
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    return f"{text}\n{message}" if text else message
