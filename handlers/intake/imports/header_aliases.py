"""The columns of a one-stop-shop export and the headers that name them, Vietnamese or English (data).

Exports from different software name a column differently ("Ngày tiếp nhận", "Thời gian tiếp nhận"…): each
column lists every header that means it, folded (no accents, no case), and the header row is found by them in
the first rows of the file. This is the one place outside the catalogs and the form definitions where the
exports' own words are written in code; what a person reads about a column (its name in a message) comes from
the catalogs (``import.column.<key>``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from handlers.intake.imports.cells import Cell, cell_text
from handlers.words import fold

HEADER_SEARCH_ROWS = 10  # the header row is one of the first rows (exports put a title above it)

_PARENTHESES = re.compile(r"\([^)]*\)|\*")
_COLUMN_NUMBER = re.compile(r"\(?\d{1,2}\)?")


@dataclass(frozen=True)
class Column:
    """A column the importer knows: its key (its name in the catalogs is ``import.column.<key>``), its headers."""

    key: str
    headers: tuple[str, ...]
    required: bool = False


COLUMNS = (
    Column("code", ("ma ho so", "so ho so", "ma so ho so"), required=True),
    Column(
        "procedure",
        ("thu tuc", "ten thu tuc", "thu tuc hanh chinh", "ten thu tuc hanh chinh", "ten tthc"),
        required=True,
    ),
    Column("procedure_code", ("ma thu tuc", "ma tthc", "ma thu tuc hanh chinh")),
    Column("field", ("linh vuc", "ten linh vuc"), required=True),
    Column("received", ("ngay tiep nhan", "ngay nhan ho so", "thoi gian tiep nhan"), required=True),
    Column("due", ("ngay hen tra", "ngay hen tra ket qua", "ngay hen"), required=True),
    Column("returned", ("ngay tra ket qua", "ngay tra", "thoi gian tra ket qua")),
    Column("finished", ("ngay xu ly xong", "ngay hoan thanh", "ngay hoan thanh xu ly")),
    Column("status", ("trang thai", "tinh trang", "trang thai ho so", "ma trang thai")),
    Column(
        "applicant",
        ("chu ho so", "nguoi nop", "nguoi nop ho so", "ten chu ho so", "ho ten chu ho so", "ten nguoi nop"),
        required=True,
    ),
    Column("phone", ("so dien thoai", "dien thoai", "sdt", "so dt", "so dien thoai lien he")),
    Column("email", ("email", "e-mail", "thu dien tu", "dia chi email")),
    Column("handler", ("can bo xu ly", "nguoi xu ly", "chuyen vien xu ly", "can bo thu ly")),
    Column(
        "receiver",
        (
            "can bo tiep nhan",
            "can bo tiep nhan ho so",
            "nguoi tiep nhan",
            "nguoi tiep nhan ho so",
            "cong chuc tiep nhan",
            "chuyen vien tiep nhan",
            "can bo mot cua",
        ),
    ),
    Column("unit", ("don vi", "ma don vi", "don vi tiep nhan")),
    Column("channel", ("hinh thuc nop", "kenh", "kenh nop", "hinh thuc nop ho so")),
    Column(
        "applicant_kind",
        ("loai chu ho so", "loai nguoi nop", "doi tuong", "loai doi tuong", "doi tuong nop", "ca nhan/to chuc"),
    ),
)
_BY_HEADER = {header: column for column in COLUMNS for header in column.headers}


def fold_header(text: str) -> str:
    """A header reduced for matching: no accents, case, parentheses, stars or repeated spaces (đ → d)."""
    return fold(_PARENTHESES.sub(" ", text))


def find_header(rows: Sequence[tuple[int, Sequence[Cell]]]) -> tuple[int, dict[str, int], list[str]]:
    """The header row among ``rows``: its number, column key -> index, and the keys of required columns it lacks."""
    best: tuple[int, dict[str, int]] = (0, {})
    for number, values in rows:
        found: dict[str, int] = {}
        for index, value in enumerate(values):
            text = cell_text(value)
            column = _BY_HEADER.get(fold_header(text)) if text else None
            if column is not None and column.key not in found:
                found[column.key] = index
        if all(column.key in found for column in COLUMNS if column.required):
            return number, found, []
        if len(found) > len(best[1]):
            best = (number, found)
    missing = [column.key for column in COLUMNS if column.required and column.key not in best[1]]
    return best[0], best[1], missing


def column_numbers(values: Sequence[Cell]) -> bool:
    """Whether a row holds nothing but column numbers (1, 2, 3 or (1), (2), (3) and so on) under the headers."""
    texts = [text for text in map(cell_text, values) if text is not None]
    return len(texts) > 1 and all(_COLUMN_NUMBER.fullmatch(text) for text in texts)
