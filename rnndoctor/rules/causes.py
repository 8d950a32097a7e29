"""Which pathologies explain which symptoms, so the ranking can put root causes first.

Read as: a finding of the key's code, when present, accounts for findings of the listed codes.
The graph is acyclic (tests/test_causes.py): of two findings that could explain each other, the one measured
at initialization explains the one measured in training (an exploding gradient at init, RD401, makes any
learning rate too high, RD502; a high rate cannot cause a gradient measured before any step).
"""

from __future__ import annotations

EXPLAINS: dict[str, tuple[str, ...]] = {
    "RD101": ("RD102", "RD307", "RD503", "RD504", "RD505", "RD506", "RD507", "RD601"),
    "RD103": ("RD307", "RD503", "RD505"),
    "RD104": ("RD307", "RD503", "RD505"),
    "RD105": ("RD307", "RD401", "RD503", "RD505"),
    "RD106": (
        "RD209",
        "RD307",
        "RD401",
        "RD402",
        "RD403",
        "RD501",
        "RD502",
        "RD503",
        "RD504",
        "RD505",
        "RD506",
        "RD507",
    ),
    "RD109": ("RD503", "RD505"),
    "RD110": ("RD601",),
    "RD111": ("RD601",),
    "RD201": ("RD001", "RD503", "RD505"),
    "RD202": ("RD207", "RD304", "RD305", "RD403", "RD503", "RD506"),
    "RD203": ("RD403", "RD402"),
    "RD204": ("RD401", "RD502"),
    "RD206": ("RD306", "RD601"),
    "RD208": ("RD209", "RD401", "RD402", "RD403"),
    "RD209": ("RD402", "RD403", "RD503", "RD505", "RD506"),
    "RD210": ("RD402", "RD503", "RD505", "RD506"),
    "RD211": ("RD210", "RD403"),
    "RD212": ("RD401", "RD404"),
    "RD213": ("RD210", "RD503", "RD505"),
    "RD214": ("RD307", "RD601"),
    "RD301": ("RD307", "RD503", "RD504"),
    "RD302": ("RD307", "RD402", "RD503", "RD505"),
    "RD303": ("RD307", "RD503"),
    "RD304": ("RD307", "RD503", "RD504"),
    "RD305": ("RD307", "RD503"),
    "RD308": ("RD307", "RD503"),
    "RD309": ("RD307", "RD503", "RD507", "RD601"),
    "RD401": ("RD502", "RD503", "RD504", "RD505", "RD506"),
    "RD404": ("RD401", "RD502", "RD503", "RD507"),
    "RD407": ("RD401", "RD502"),
    "RD501": ("RD405", "RD503", "RD504", "RD505", "RD507"),
    "RD502": ("RD405", "RD503", "RD504", "RD507"),
}


SETUP_FAMILIES = ("RD0", "RD1", "RD2", "RD3")
"""An error in the data, the model's wiring or the loss makes every training-dynamics measurement (RD5xx)
a symptom: a learning rate cannot be judged on a setup that computes the wrong thing."""


CHANCE_LEVEL_EXPLAINED_BY = (
    "RD108", "RD203", "RD204", "RD206", "RD207", "RD208", "RD209", "RD210", "RD211", "RD212", "RD213",
    "RD401", "RD402", "RD403", "RD405", "RD406", "RD407", "RD503", "RD504", "RD505", "RD506",
)  # fmt: skip
"""Training stuck at chance (RD507) is the catch-all symptom: any of these measured problems explains it."""


def explained_by(code: str, severity_is_error: bool = False) -> tuple[str, ...]:
    codes = EXPLAINS.get(code, ())
    if code in CHANCE_LEVEL_EXPLAINED_BY and "RD507" not in codes:
        codes = (*codes, "RD507")
    if severity_is_error and code.startswith(SETUP_FAMILIES):
        codes = codes + tuple(c for c in DYNAMICS_CODES if c not in codes)
    return codes


DYNAMICS_CODES = ("RD501", "RD502", "RD503", "RD504", "RD505", "RD506", "RD507")


ESCALATES: dict[str, tuple[str, ...]] = {"RD106": ("RD209", "RD503", "RD507")}
"""A warning of the key's code becomes an error when one of these is measured too: the harm it warns of is
then shown on this model (raw 0-255 inputs with saturated gates or training stuck at chance)."""
