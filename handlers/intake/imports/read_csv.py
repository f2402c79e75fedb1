"""A CSV export read as a table: UTF-8 (with or without a byte order mark), comma or semicolon."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from handlers.intake.imports.cells import Cell
from handlers.intake.imports.report import ImportFileError, ImportWords
from handlers.intake.imports.tables import Table, reason


def open_csv(path: Path, say: ImportWords) -> Table:
    """The rows of a CSV file, read as they are taken: one pass first checks the encoding and counts them."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            sample = file.read(65536)
            file.seek(0)
            delimiter = _delimiter(sample)
            total = sum(1 for _ in csv.reader(file, delimiter=delimiter))
        file = path.open(encoding="utf-8-sig", newline="")
    except UnicodeDecodeError:
        raise ImportFileError(say("file.not_utf8", name=path.name)) from None
    except (csv.Error, OSError) as exc:
        raise ImportFileError(say("file.unreadable", name=path.name, reason=reason(exc))) from None
    rows: Iterator[Sequence[Cell]] = csv.reader(file, delimiter=delimiter)
    return Table(rows, total, file.close, say)


def _delimiter(sample: str) -> str:
    """A CSV file's delimiter, comma or semicolon, from its first characters."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return ";" if first.count(";") > first.count(",") else ","
