"""The workbook's wording in one locale: every word it writes comes from handlers/texts/workbook.<locale>.yaml.

Vietnamese is the workbook officials file; English is there for a reader who asks for it (``SIPAS_LANG=en``).
Data (a unit's name, a field, a question's text, an answer's label) is written as it comes: it is not wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from handlers.texts import DEFAULT_LOCALE, Texts


@cache
def _catalogs() -> Texts:
    """The catalogs, read once per process (the worker process that builds big workbooks reads its own)."""
    return Texts.load()


@dataclass(frozen=True)
class Words:
    """Looks the workbook's wording up in one locale (a plain value: it travels to the worker process)."""

    locale: str = DEFAULT_LOCALE

    def __call__(self, key: str, /, **values: Any) -> str:
        """The wording of ``workbook.<key>`` with ``values`` filled in."""
        return _catalogs()(self.locale, f"workbook.{key}", **values)

    def each(self, keys: tuple[str, ...]) -> list[str]:
        """The wording of each key, in order (a sheet's column headers)."""
        return [self(key) for key in keys]

    def official_date(self, day: date) -> str:
        """A date as official papers write it (Nghị định 30/2020): "ngày 01 tháng 12 năm 2026"."""
        month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
        return self("official_date", day=f"{day.day:02d}", month=month, year=day.year)

    def blank_date(self, year: int | None = None) -> str:
        """The date line left to be written in by hand: "ngày … tháng … năm …"."""
        return self("blank_date", year=year if year is not None else "…")

    def made_on(self, generated_at: datetime | None) -> str:
        """The footer's note of when the workbook was made ("" when not given)."""
        if generated_at is None:
            return ""
        return self("made_on", time=f"{generated_at:%H:%M}", day=f"{generated_at:%d/%m/%Y}")


VIETNAMESE = Words()
