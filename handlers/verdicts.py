"""Rates and verdicts as people read them: rounded once, half-up, from the exact counts, to one decimal.

The verdict against a target uses the figure as printed (DOMAIN.md §4). Pure: imports nothing of the project,
so the workbook can use it in another process.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

TENTH = Decimal("0.1")


def rate_tenths(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent, rounded once, half-up, to one decimal (None when ``whole`` is 0)."""
    if not whole:
        return None
    exact = Fraction(part * 100, whole)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(TENTH, rounding=ROUND_HALF_UP)


def tenths(value: float | None) -> Decimal | None:
    """A figure (0–100) rounded half-up to one decimal, from the value as it was given."""
    return None if value is None else Decimal(repr(float(value))).quantize(TENTH, rounding=ROUND_HALF_UP)


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
