"""What an import tells people: its wording in one locale, the refusal of a whole file, the report of a run.

Every sentence comes from the catalogs (handlers/texts/imports.vi.yaml and imports.en.yaml); a report and its
row errors read in Vietnamese unless the run asked for another locale (the command line's ``--lang``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from handlers.errors import InvalidInput
from handlers.texts import DEFAULT_LOCALE, Texts

ERRORS_LISTED = 200  # row errors the summary lists one by one


@cache
def _shipped() -> Texts:
    return Texts.load()


class ImportWords:
    """The wording of an import in one locale (keys ``import.*``); a column is named as the catalogs name it."""

    def __init__(self, texts: Texts | None = None, locale: str = DEFAULT_LOCALE) -> None:
        self.texts = texts or _shipped()
        self.locale = locale

    def __call__(self, key: str, **values: Any) -> str:
        """The sentence ``import.<key>`` with ``values`` filled in."""
        return self.texts(self.locale, f"import.{key}", **values)

    def column(self, key: str) -> str:
        """The name of the column ``key`` (header_aliases.COLUMNS) in messages."""
        return self(f"column.{key}")

    def columns(self, keys: Iterable[str]) -> str:
        """Columns named in a list: “A”, “B”."""
        return ", ".join(f"“{self.column(key)}”" for key in keys)

    def status(self, code: int) -> str:
        """The name of a national status code (1–10)."""
        return self(f"status.{code}")


class ImportFileError(InvalidInput):
    """The file cannot be imported at all: missing, unreadable, of an unknown type, or without the headers."""

    code = "import_file"


@dataclass(frozen=True)
class RowError:
    """A row that was not imported: its number as the spreadsheet shows it, and why."""

    row: int
    message: str

    def text(self, locale: str = DEFAULT_LOCALE) -> str:
        """The error as the summary lists it: "dòng N: …"."""
        return ImportWords(locale=locale)("row.error", row=self.row, message=self.message)

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, dossiers created, updated or left as they were, and the rows refused."""

    rows: int
    created: int
    updated: int
    unchanged: int
    errors: tuple[RowError, ...]
    locale: str = DEFAULT_LOCALE  # the run's: its summary and its row errors read in it

    @property
    def imported(self) -> int:
        """Rows applied (whether or not they changed anything)."""
        return self.created + self.updated + self.unchanged

    def summary(self, limit: int = ERRORS_LISTED) -> str:
        """The report as the command prints it: one line of figures, then at most ``limit`` row errors."""
        say = ImportWords(locale=self.locale)
        figures = {"imported": self.imported, "created": self.created, "updated": self.updated}
        figures["unchanged"] = self.unchanged
        if not self.errors:
            return say("summary.clean", **figures)
        lines = [say("summary.errors", errors=len(self.errors), **figures)]
        lines.extend(error.text(self.locale) for error in self.errors[:limit])
        if len(self.errors) > limit:
            lines.append(say("summary.more", count=len(self.errors) - limit))
        return "\n".join(lines)
