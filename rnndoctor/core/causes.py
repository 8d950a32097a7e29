"""Which pathologies explain which symptoms, so the ranking can put root causes first.

Each rule declares the codes it explains (``Rule.explains``, beside its judge); this module adds the
explanations that hold across families.
The graph is acyclic (tests/test_causes.py): of two findings that could explain each other, the one measured
at initialization explains the one measured in training (an exploding gradient at init, RD401, makes any
learning rate too high, RD502; a high rate cannot cause a gradient measured before any step).
"""

from __future__ import annotations

SETUP_FAMILIES = ("RD0", "RD1", "RD2", "RD3")
"""An error in the data, the model's wiring or the loss makes every training-dynamics measurement (RD5xx)
a symptom: a learning rate cannot be judged on a setup that computes the wrong thing."""


CHANCE_LEVEL_EXPLAINED_BY = (
    "RD108", "RD203", "RD204", "RD206", "RD207", "RD208", "RD209", "RD210", "RD211", "RD212", "RD213",
    "RD401", "RD402", "RD403", "RD405", "RD406", "RD407", "RD503", "RD504", "RD505", "RD506",
)  # fmt: skip
"""Training stuck at chance (RD507) is the catch-all symptom: any of these measured problems explains it."""


def explained_by(code: str, explains: tuple[str, ...], severity_is_error: bool = False) -> tuple[str, ...]:
    """The codes a finding of ``code`` explains: its rule's own (``explains``), plus the cross-family ones."""
    codes = explains
    if code in CHANCE_LEVEL_EXPLAINED_BY and "RD507" not in codes:
        codes = (*codes, "RD507")
    if severity_is_error and code.startswith(SETUP_FAMILIES):
        codes = codes + tuple(c for c in DYNAMICS_CODES if c not in codes)
    return codes


DYNAMICS_CODES = ("RD501", "RD502", "RD503", "RD504", "RD505", "RD506", "RD507")


ESCALATES: dict[str, tuple[str, ...]] = {"RD106": ("RD209", "RD503", "RD507")}
"""A warning of the key's code becomes an error when one of these is measured too: the harm it warns of is
then shown on this model (raw 0-255 inputs with saturated gates or training stuck at chance)."""
