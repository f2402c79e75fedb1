"""Calendar quarters as the public page counts them (``2026-Q4``, "Quý IV/2026"), and which one it shows first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.web.wording import page_words

QUARTER_RE = re.compile(r"([0-9]{4})-[Qq]([1-4])")
FIRST_YEAR = 2000  # SIPAS began in 2017; nothing older can hold data, and dates stay far from datetime's limits
ROMAN = ("I", "II", "III", "IV")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter: ``2026-Q4`` is October to December 2026."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``"2026-Q4"`` → Quarter; ValueError when malformed."""
        match = QUARTER_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"expected a quarter as YYYY-Qn (e.g. 2026-Q4), got {text[:40]!r}")
        year, number = int(match[1]), int(match[2])
        if year < FIRST_YEAR:
            raise ValueError(f"no quarter before {FIRST_YEAR} can be shown")
        return cls(year, number)

    @classmethod
    def containing(cls, day: date) -> Quarter:
        """The quarter ``day`` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        """Its first day."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """Its last day."""
        return self.next().start - timedelta(days=1)

    def previous(self) -> Quarter:
        """The quarter before it."""
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def next(self) -> Quarter:
        """The quarter after it."""
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    @property
    def label(self) -> str:
        """As people write it: ``Quý IV/2026``."""
        return page_words("quarter_label", roman=ROMAN[self.number - 1], year=self.year)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"


def default_quarter(today: date, first: Quarter | None) -> Quarter:
    """The quarter shown when none is asked for: the last complete quarter with data.

    That is the last complete quarter, unless the unit's first dossier came after it: then the running quarter (its
    figures to date). A unit with no dossier at all gets the last complete quarter ("chưa có dữ liệu").
    """
    running = Quarter.containing(today)
    last_complete = running.previous()
    if first is not None and first > last_complete:
        return running
    return last_complete
