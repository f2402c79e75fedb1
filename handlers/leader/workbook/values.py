"""How the workbook writes a value: text as Excel holds it, figures, verdicts, and the widths the values need.

A suppressed figure (``suppressed: true`` or a null) is written as the words for "not enough data", never as a
number; percentages are fractions shown with the ``0.0%`` format.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

from handlers.collation import sorted_vietnamese
from handlers.leader.workbook.printing import PERCENT, Styled, Value, shown_length
from handlers.leader.workbook.words import Words
from handlers.verdicts import met

MIN_WIDTH = 9.0
MAX_WIDTH = 48.0  # longer text wraps, its row made taller


def clean(text: str) -> str:
    """Text as Excel can hold it: NFC, without the control characters XML cannot carry."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", unicodedata.normalize("NFC", text))
    return cleaned


def as_text(text: str | None) -> Value:
    """Free or outside text, kept a string even when it looks like a formula or an error code."""
    if text is None:
        return None
    cleaned = clean(text)
    if cleaned.startswith("=") or cleaned in ERROR_CODES:
        return Styled(cleaned, as_text=True)
    return cleaned


def alphabetical(rows: Iterable[Any], name: Callable[[Any], str]) -> list[Any]:
    """Rows in Vietnamese alphabetical order of their name ("Cấp…" before "Chứng thực", "Đ" after "D")."""
    return sorted_vietnamese(rows, key=lambda row: clean(name(row)))


def heading_words(text: str) -> str:
    """What a header needs of its column's width: its longest word (a header wraps between words)."""
    return max(text.split(), key=len, default="")


@dataclass(frozen=True)
class Cells:
    """The figures, verdicts and widths of a workbook in one locale."""

    words: Words
    insufficient: str = field(init=False)
    met: str = field(init=False)
    not_met: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "insufficient", self.words("insufficient"))
        object.__setattr__(self, "met", self.words("met"))
        object.__setattr__(self, "not_met", self.words("not_met"))

    def percent(self, value: float | None, suppressed: bool = False) -> Value:
        """A 0–100 figure as a fraction shown as a percentage, or the words for "not enough data"."""
        if suppressed or value is None:
            return self.insufficient
        return Styled(round(float(value) / 100, 6), PERCENT)

    def tenths_percent(self, value: Decimal | None) -> Value:
        """A figure already rounded to one decimal (as printed and judged), as a percentage cell."""
        return self.insufficient if value is None else Styled(float(value) / 100, PERCENT)

    def interval(self, ci95: Sequence[float] | None, suppressed: bool) -> list[Value]:
        """The two ends of a 95% interval, as percentages."""
        if suppressed or not ci95:
            return [self.insufficient, self.insufficient]
        low, high = ci95
        return [self.percent(low), self.percent(high)]

    def judged(self, verdict: bool | None) -> str:
        """A verdict in words: met, not met, or not enough data to judge."""
        return self.insufficient if verdict is None else self.met if verdict else self.not_met

    def against(self, value: Any, target: float) -> str:
        """Whether a figure (rounded to tenths as printed) meets its target, in words."""
        return self.judged(met(value, target))

    def verdict(self, value: float | None, target: float) -> str:
        """Whether a figure, as printed (rounded once by the report), meets its target; None: nothing to judge.

        A suppressed satisfaction index is None; an on-time rate is a count of dossiers and is judged on any number.
        """
        if value is None:
            return self.insufficient
        return self.met if value >= target else self.not_met

    def widths(self, rows: Iterable[Sequence[Value]], columns: int, minimum: float = MIN_WIDTH) -> list[float]:
        """Column widths from the longest value shown in each column, within sensible bounds (longer text wraps)."""
        widths = [minimum] * columns
        for row in rows:
            for index, value in enumerate(row[:columns]):
                widths[index] = max(widths[index], self.shown(value) + 2)
        return [min(width, MAX_WIDTH) for width in widths]

    def shown(self, value: Value) -> float:
        """A value's length on one line; "not enough data" may take two lines in a figure's column."""
        if value == self.insufficient:
            words = self.insufficient.split()
            half = (len(words) + 1) // 2
            return max(len(" ".join(words[:half])), len(" ".join(words[half:]))) + 1
        return shown_length(value)
