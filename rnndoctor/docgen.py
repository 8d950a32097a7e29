"""Generate the per-code documentation pages from the rules (declared beside their judges).

    python -m rnndoctor.docgen docs/rules

writes ``RD101.md`` ... (one page per rule, exactly ``Rule.to_markdown()``) and ``README.md``, an index
table linking them. The pages are generated, never edited by hand; a test checks they are in sync.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from rnndoctor.rules import Rule, all_rules

DEFAULT_FOLDER = Path("docs/rules")
INDEX_NAME = "README.md"
_PAGE_NAME = re.compile(r"^RD\d+\.md$")


def page_name(rule: Rule) -> str:
    return f"{rule.code}.md"


def render_index(rules: Sequence[Rule]) -> str:
    """The index page: one table row per rule, linking its page."""
    lines = [
        "# rnndoctor rules",
        "",
        "Every code rnndoctor can report, with its default severity. A finding's severity may be raised or",
        "lowered by the evidence. `rnndoctor explain CODE` prints the same page in the terminal.",
        "",
        "These pages are generated from the rules declared beside their judges; regenerate them with",
        "`python -m rnndoctor.docgen docs/rules` instead of editing them.",
        "",
        "| code | severity | title |",
        "|---|---|---|",
    ]
    for rule in rules:
        title = rule.title.replace("|", "\\|")
        lines.append(f"| [{rule.code}]({page_name(rule)}) | {rule.severity.label} | {title} |")
    lines.append("")
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_rule_pages(folder: Path) -> list[Path]:
    """Write one page per rule and the index into ``folder``; returns the paths written.

    Pages of codes no longer in the catalogue (``RD*.md`` files only) are removed, so the folder always
    mirrors the catalogue.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rules = all_rules()
    written: list[Path] = []
    for rule in rules:
        path = folder / page_name(rule)
        _write(path, rule.to_markdown())
        written.append(path)
    index = folder / INDEX_NAME
    _write(index, render_index(rules))
    written.append(index)
    current = {page_name(rule) for rule in rules}
    for stale in folder.iterdir():
        if stale.is_file() and _PAGE_NAME.match(stale.name) and stale.name not in current:
            stale.unlink()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rnndoctor.docgen", description="Write the per-code documentation pages."
    )
    parser.add_argument(
        "folder", nargs="?", type=Path, default=DEFAULT_FOLDER, help=f"output folder (default: {DEFAULT_FOLDER})"
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder
    paths = write_rule_pages(folder)
    print(f"wrote {len(paths)} files to {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
