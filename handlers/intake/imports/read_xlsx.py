"""An Excel workbook export (.xlsx, .xlsm) read as a table: the first sheet, or the one asked for."""

from __future__ import annotations

import warnings
from pathlib import Path

from handlers.intake.imports.report import ImportFileError, ImportWords
from handlers.intake.imports.tables import Table, reason


def open_workbook(path: Path, sheet: str | None, say: ImportWords) -> Table:
    """The rows of a sheet of ``path``, read as they are taken; ImportFileError when the workbook cannot be read."""
    from openpyxl import load_workbook  # only an import of a workbook needs it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - a broken workbook raises zipfile, XML, KeyError, openpyxl's own…
        raise ImportFileError(say("file.unreadable", name=path.name, reason=reason(exc))) from None
    try:
        if sheet is None:
            if not workbook.worksheets:
                raise ImportFileError(say("file.no_sheets", name=path.name))
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            names = ", ".join(workbook.sheetnames)
            raise ImportFileError(say("file.no_such_sheet", name=path.name, sheet=sheet, names=names))
        total = worksheet.max_row if isinstance(worksheet.max_row, int) else None
        rows = worksheet.iter_rows(values_only=True)
    except BaseException:
        workbook.close()
        raise
    return Table(rows, total, workbook.close, say)
