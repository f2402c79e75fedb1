"""The rows of an export, whatever its format, read a batch at a time: (row number as the sheet shows it, cells).

Each source format has its reader (handlers/intake/imports/read_xlsx.py, read_csv.py) that gives a ``Table``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence

from handlers.intake.imports.cells import Cell
from handlers.intake.imports.report import ImportFileError, ImportWords


def reason(exc: BaseException) -> str:
    """Why reading failed, in one line."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Table:
    """The rows of one sheet of a workbook, or of a CSV file, read in batches: (row number, cells)."""

    def __init__(
        self, rows: Iterator[Sequence[Cell]], total: int | None, close: Callable[[], None], say: ImportWords
    ) -> None:
        self._rows = rows
        self.total = total
        self.read = 0
        self._close = close
        self._say = say

    def take(self, count: int) -> list[tuple[int, Sequence[Cell]]]:
        """The next ``count`` rows (fewer at the end)."""
        batch = []
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it does not read (styles, validation, …): none matter here
            warnings.simplefilter("ignore")
            try:
                for values in self._rows:
                    self.read += 1
                    batch.append((self.read, values))
                    if len(batch) >= count:
                        break
            except Exception as exc:  # noqa: BLE001 - as when opening: a broken part of the workbook
                message = self._say("file.unreadable_from_row", row=self.read + 1, reason=reason(exc))
                raise ImportFileError(message) from None
        return batch

    def close(self) -> None:
        """Release the file."""
        self._close()
