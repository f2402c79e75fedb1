"""Rates and verdicts as people read them: rounded once, half-up, from the exact counts, to one decimal.

The verdict against a target uses the figure as printed (docs/METHOD.md, the index method). The rounding is the one of
survey_forms.scoring (``half_up``), given here as a Decimal so the figure and its verdict stay exact.
"""

from __future__ import annotations

from decimal import Decimal

from survey_forms.scoring import half_up, percent_of


def rate_tenths(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent, rounded once, half-up, to one decimal (None when ``whole`` is 0)."""
    rate = percent_of(part, whole)
    return None if rate is None else Decimal(repr(rate))


def tenths(value: float | None) -> Decimal | None:
    """A figure (0–100) rounded half-up to one decimal, from the value as it was given."""
    rounded = half_up(value)
    return None if rounded is None else Decimal(repr(rounded))


def percent_text(value: Decimal | float | None, none: str) -> str:
    """``91,9%``, or ``none`` when there is no figure."""
    if value is None:
        return none
    shown = value if isinstance(value, Decimal) else tenths(value)
    return f"{shown:.1f}".replace(".", ",") + "%"


def met(value: Decimal | None, target: float) -> bool | None:
    """Whether the rounded figure reaches the target (None when there is no figure to judge)."""
    if value is None:
        return None
    return value >= Decimal(repr(float(target)))
