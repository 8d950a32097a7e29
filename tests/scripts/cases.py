"""The script corpus: list the cases and materialize one (healthy or with a planted bug) into a folder.

A case lives in ``tests/scripts/<case>/``:

- ``case.yaml``: the entry script, its argv, the upstream repository/commit, the verbatim files (with their
  SHA-256), the planted bugs (each a list of line edits to the upstream files) and the validated numbers.
- ``healthy/``: what the project itself supplies next to the upstream files: the small offline data in the
  format the script reads (made by ``make_data.py``), nothing else.
- ``bugs/<slug>/`` (optional): files of our own that replace healthy/ files for that bug (e.g. data).
- ``measure.py``: how ``validate.py`` reads the held-out metric after a plain training run.

The upstream files themselves are NOT committed (this workplace keeps fetched third-party code out of
commits). They are read from a local cache, ``tests/scripts/_upstream/<owner>+<name>/<commit>/<path>``
(git-ignored; ``RNNDOCTOR_SCRIPTS_UPSTREAM`` points elsewhere), which ``fill_cache`` fills from git mirrors
(``RNNDOCTOR_MIRRORS``, default ``/work/.mirror/<owner>+<name>/repo``). Every file is checked against the
SHA-256 recorded in case.yaml, so a materialized folder is byte-for-byte upstream apart from one banner
comment block at the top (repository, path, commit, licence) and, for a bug, the planted edit.

    python tests/scripts/cases.py list
    python tests/scripts/cases.py fill                      # copy upstream files from the mirrors
    python tests/scripts/cases.py materialize CASE [BUG] DEST
    python tests/scripts/cases.py diff CASE BUG             # the planted bug as a unified diff
    python tests/scripts/cases.py table                     # the README table from the case.yaml numbers
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent
UPSTREAM = Path(os.environ.get("RNNDOCTOR_SCRIPTS_UPSTREAM", ROOT / "_upstream"))
MIRRORS = Path(os.environ.get("RNNDOCTOR_MIRRORS", "/work/.mirror"))


class MissingUpstream(FileNotFoundError):
    """An upstream file is neither in the cache nor in a mirror."""


@dataclass
class Bug:
    slug: str
    description: str
    expected_first: str
    also_acceptable: list[str]
    edits: list[dict[str, Any]]
    raw: dict[str, Any]


@dataclass
class Case:
    name: str
    folder: Path
    raw: dict[str, Any]
    bugs: dict[str, Bug] = field(default_factory=dict)

    @property
    def script(self) -> str:
        return str(self.raw["script"])

    @property
    def args(self) -> list[str]:
        return [str(a) for a in self.raw.get("args", [])]

    @property
    def train_args(self) -> list[str]:
        return [str(a) for a in self.raw.get("train_args", self.raw.get("args", []))]

    @property
    def env(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.raw.get("env") or {}).items()}

    @property
    def upstream(self) -> dict[str, str]:
        return dict(self.raw["upstream"])

    @property
    def files(self) -> dict[str, dict[str, str]]:
        return dict(self.raw["files"])

    @property
    def held_out(self) -> bool:
        return bool(self.raw.get("held_out", False))


def load(name: str) -> Case:
    folder = ROOT / name
    raw = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
    case = Case(name=name, folder=folder, raw=raw)
    for slug, b in (raw.get("bugs") or {}).items():
        case.bugs[slug] = Bug(
            slug=slug,
            description=str(b["description"]),
            expected_first=str(b["expected_first"]),
            also_acceptable=[str(c) for c in b.get("also_acceptable", [])],
            edits=list(b.get("edits", [])),
            raw=b,
        )
    return case


def names() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/case.yaml"))


def cases() -> list[Case]:
    return [load(n) for n in names()]


def _repo_dir(repository: str) -> str:
    return repository.replace("/", "+")


def cache_path(repository: str, commit: str, path: str) -> Path:
    return UPSTREAM / _repo_dir(repository) / commit / path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _from_mirror(repository: str, commit: str, path: str) -> bytes | None:
    git_dir = MIRRORS / _repo_dir(repository) / "repo"
    if not git_dir.is_dir():
        return None
    done = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"], capture_output=True, check=False)
    return done.stdout if done.returncode == 0 else None


def upstream_bytes(case: Case, local_name: str) -> bytes:
    """The verbatim upstream bytes of one of the case's files, from the cache (filled from a mirror if needed)."""
    spec = case.files[local_name]
    repository, commit, path = case.upstream["repository"], case.upstream["commit"], spec["path"]
    cached = cache_path(repository, commit, path)
    if cached.is_file():
        data = cached.read_bytes()
    else:
        mirrored = _from_mirror(repository, commit, path)
        if mirrored is None:
            raise MissingUpstream(
                f"{case.name}: {repository}@{commit[:10]}:{path} is not in {UPSTREAM} and no mirror of "
                f"{repository} is at {MIRRORS}; fetch the repository (or save the file) and run `cases.py fill`"
            )
        data = mirrored
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    if sha256(data) != spec["sha256"]:
        raise ValueError(f"{case.name}: {path} does not match the SHA-256 recorded in case.yaml")
    return data


def banner(case: Case, local_name: str) -> str:
    up = case.upstream
    lines = [
        "# " + "=" * 100,
        "# rnndoctor script corpus: below this banner, the upstream file (a planted-bug twin differs in a line or two)",
        f"#   repository: {up['repository']}",
        f"#   path:       {case.files[local_name]['path']}",
        f"#   commit:     {up['commit']}",
        f"#   licence:    {up.get('license', 'see the repository')}",
    ]
    lines.append("# " + "=" * 100)
    return "\n".join(lines) + "\n"


def apply_edits(text: str, edits: list[dict[str, Any]]) -> str:
    """Line edits against the upstream text (1-based line numbers of the upstream file), applied bottom-up.

    op: ``replace`` (the line becomes ``text``), ``delete``, ``insert_after`` (``text`` after the line),
    ``move_after`` (the line moves to after line ``to``).
    """
    lines = text.splitlines(keepends=True)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"

    def block(t: str) -> list[str]:
        return [ln + eol for ln in t.split("\n")]

    for e in sorted(edits, key=lambda e: int(e["line"]), reverse=True):
        i = int(e["line"]) - 1
        if not 0 <= i < len(lines):
            raise ValueError(f"edit line {e['line']} is outside the file ({len(lines)} lines)")
        op = e.get("op", "replace")
        if op == "replace":
            lines[i : i + 1] = block(str(e["text"]))
        elif op == "delete":
            del lines[i]
        elif op == "insert_after":
            lines[i + 1 : i + 1] = block(str(e["text"]))
        elif op == "move_after":
            j = int(e["to"]) - 1
            moved = lines[i]
            lines.insert(j + 1, moved)
            del lines[i if j > i else i + 1]
        else:
            raise ValueError(f"unknown edit op {op!r}")
    return "".join(lines)


def file_text(case: Case, local_name: str, bug: Bug | None = None) -> str:
    text = upstream_bytes(case, local_name).decode("utf-8")
    edits = [e for e in (bug.edits if bug else []) if e["file"] == local_name]
    if edits:
        text = apply_edits(text, edits)
    return banner(case, local_name) + text


def bug_diff(case: Case, slug: str) -> str:
    bug = case.bugs[slug]
    out = []
    for local_name in sorted({e["file"] for e in bug.edits}):
        before = file_text(case, local_name).splitlines(keepends=True)
        after = file_text(case, local_name, bug).splitlines(keepends=True)
        out.extend(difflib.unified_diff(before, after, f"healthy/{local_name}", f"bugs/{slug}/{local_name}"))
    overlay = case.folder / "bugs" / slug
    if overlay.is_dir():
        for f in sorted(p for p in overlay.rglob("*") if p.is_file()):
            rel = f.relative_to(overlay)
            healthy = case.folder / "healthy" / rel
            try:
                before = healthy.read_text(encoding="utf-8").splitlines(keepends=True) if healthy.exists() else []
                after = f.read_text(encoding="utf-8").splitlines(keepends=True)
            except UnicodeDecodeError:
                out.append(f"Binary file healthy/{rel} replaced by bugs/{slug}/{rel}\n")
                continue
            out.extend(difflib.unified_diff(before, after, f"healthy/{rel}", f"bugs/{slug}/{rel}"))
    return "".join(out)


def materialize(
    case: str | Case, bug: str | None = None, dest: str | Path | None = None, *, write_diff: bool = True
) -> Path:
    """Copy healthy/ (our data), write the upstream files (banner + verbatim, bug edits applied), overlay
    bugs/<slug>/ and (``write_diff``) bug.diff; returns the folder. ``dest`` must not exist or be empty;
    default: a new temp folder."""
    import tempfile

    c = load(case) if isinstance(case, str) else case
    b = c.bugs[bug] if bug else None
    out = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix=f"rd-{c.name}-"))
    out.mkdir(parents=True, exist_ok=True)
    healthy = c.folder / "healthy"
    if healthy.is_dir():
        shutil.copytree(healthy, out, dirs_exist_ok=True)
    for local_name in c.files:
        target = out / local_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file_text(c, local_name, b), encoding="utf-8")
    if b is not None:
        overlay = c.folder / "bugs" / b.slug
        if overlay.is_dir():
            shutil.copytree(overlay, out, dirs_exist_ok=True)
        if write_diff:
            (out / "bug.diff").write_text(bug_diff(c, b.slug), encoding="utf-8")
    return out


def fill_cache() -> list[str]:
    """Bring every case's upstream files into the cache (from mirrors); returns the problems."""
    problems = []
    for c in cases():
        for local_name in c.files:
            try:
                upstream_bytes(c, local_name)
            except (MissingUpstream, ValueError) as exc:
                problems.append(str(exc))
    return problems


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    text = str(v)
    return text if len(text) <= 90 else text[:87] + "..."


def table() -> str:
    """The README table: one row per planted bug (validated numbers from case.yaml)."""
    rows = [
        "| case | upstream file @ commit | features | bug → expected first (also ok) | metric: healthy → broken "
        "(chance) | seconds healthy / broken |",
        "|---|---|---|---|---|---|",
    ]
    for c in cases():
        up, h = c.upstream, c.raw.get("healthy", {})
        name = c.name + (" *(held out)*" if c.held_out else "")
        for i, bug in enumerate(c.bugs.values()):
            first = i == 0
            rows.append(
                "| "
                + " | ".join(
                    [
                        name if first else "",
                        f"{up['repository']} `{up['path']}` @ `{up['commit'][:10]}`" if first else "",
                        ", ".join(c.raw.get("features", [])) if first else "",
                        f"`{bug.slug}` → **{bug.expected_first}**"
                        + (f" ({', '.join(bug.also_acceptable)})" if bug.also_acceptable else ""),
                        f"{c.raw['metric']['name']}: {_fmt(h.get('metric_value'))} → "
                        f"{_fmt(bug.raw.get('metric_value'))} ({_fmt(h.get('chance'))})",
                        f"{_fmt(h.get('seconds'))} / {_fmt(bug.raw.get('seconds'))}",
                    ]
                )
                + " |"
            )
    return "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    if not argv or argv[0] == "list":
        for c in cases():
            tag = " (held out)" if c.held_out else ""
            print(f"{c.name}{tag}: {c.upstream['repository']}:{c.upstream['path']}  bugs: {', '.join(c.bugs)}")
        return 0
    if argv[0] == "table":
        sys.stdout.write(table())
        return 0
    if argv[0] == "fill":
        problems = fill_cache()
        print("\n".join(problems) or "all upstream files present and verified")
        return 1 if problems else 0
    if argv[0] == "materialize" and len(argv) in (3, 4):
        bug = argv[2] if len(argv) == 4 else None
        print(materialize(argv[1], bug, argv[-1]))
        return 0
    if argv[0] == "diff" and len(argv) == 3:
        sys.stdout.write(bug_diff(load(argv[1]), argv[2]))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
