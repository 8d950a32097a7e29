"""A check's options, declared once beside the check: name, default, what it guards and what it means.

`rnndoctor.optgen` writes the packaged defaults (rnndoctor/defaults.yaml), the options part of
configs/template.yaml, the option tables of docs/config.md and a JSON Schema for editors from these
declarations; a test fails when one of those files is stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    name: str
    default: int | float
    summary: str
    """One line for the YAML files, starting with the codes it guards ("RD102: ...") where it guards any."""
    meaning: str = ""
    """The documentation's explanation (the summary when empty)."""
    guards: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """Calibration notes: what healthy and broken setups measure (comment lines in the defaults file)."""

    @property
    def kind(self) -> str:
        return "integer" if isinstance(self.default, int) and not isinstance(self.default, bool) else "number"

    @property
    def explanation(self) -> str:
        """The docs' sentence: the meaning, else the summary without its code prefix, as a sentence."""
        if self.meaning:
            return self.meaning
        text = re.sub(r"^(RD\d{3}[, ]*)+:\s*", "", self.summary).rstrip(":")
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def yaml_number(value: int | float) -> str:
    """A default as YAML writes it: 10.0, 2000, 1.0e-3, 2.0e10."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value == 0 or 1e-2 <= abs(value) < 1e4:
        return repr(float(value))
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"
