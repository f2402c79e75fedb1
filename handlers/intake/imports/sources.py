"""The source formats an import reads, and which reader reads a file: by its extension, .xlsx or .csv."""

from __future__ import annotations

from pathlib import Path

from handlers.intake.imports.read_csv import open_csv
from handlers.intake.imports.read_xlsx import open_workbook
from handlers.intake.imports.report import ImportFileError, ImportWords
from handlers.intake.imports.tables import Table


def open_table(path: Path, sheet: str | None, say: ImportWords) -> Table:
    """The rows of ``path`` (.xlsx: the first sheet or ``sheet``; .csv: utf-8, comma or semicolon)."""
    if not path.exists():
        raise ImportFileError(say("file.missing", path=path))
    if not path.is_file():
        raise ImportFileError(say("file.not_a_file", path=path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return open_workbook(path, sheet, say)
    if suffix == ".csv":
        if sheet is not None:
            raise ImportFileError(say("file.csv_has_no_sheet"))
        return open_csv(path, say)
    if suffix == ".xls":
        raise ImportFileError(say("file.old_xls", name=path.name))
    raise ImportFileError(say("file.unknown_type", name=path.name))
