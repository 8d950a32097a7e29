"""Point at the user's own line when their code raises, without showing a traceback."""

from __future__ import annotations

import traceback
from pathlib import Path

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def first_line(error: BaseException | str) -> str:
    try:
        text = str(error).strip()
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises still needs a name
        text = f"{type(error).__name__} (its message could not be read)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:400] if lines else "(no message)"


def user_frame(error: BaseException) -> str | None:
    """The innermost frame outside rnndoctor and installed packages, as ``file.py:line``."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        name = frame.filename
        if "site-packages" in name or name.startswith((_PACKAGE_DIR, "<")):
            continue
        return f"{Path(name).name}:{frame.lineno}"
    return None
