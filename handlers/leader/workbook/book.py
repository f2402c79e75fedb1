"""The monthly and quarterly Excel report (docs/FIGURES.md): plain data in, .xlsx bytes out.

Every figure comes from the reporting module's JSON as it is; the workbook only lays it out, its sheets in the
order below. A suppressed figure (``suppressed: true`` or a null) is written as the text "chưa đủ dữ liệu", never
as a number. Percentages are written as fractions with the ``0.0%`` format, so Excel shows them the way the people
reading it are used to, and dates are real dates shown as dd/mm/yyyy. Answers are shown by their labels ("Rất
nhiều", "Nữ"), channels by their names, fields, procedures, officers and units in Vietnamese alphabetical order.

Its words (sheet names, headers, labels, the header and signature blocks) come from the workbook catalog
(handlers/texts/workbook.<locale>.yaml) in the workbook's locale, Vietnamese unless the caller asks otherwise.

It prints and files as officials expect (handlers.leader.workbook.printing): every sheet on A4, one page wide, its
titles repeated, in one serif font; the summary opens with the unit and the national motto and closes with
the signatures (handlers.leader.workbook.filing).

The workbook is written in openpyxl's write-only mode (rows streamed to disk, not held as cell
objects) and the archive is re-packed with fixed timestamps, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from handlers.leader.workbook.answers import write_answers, write_questions
from handlers.leader.workbook.data import (
    AnswerRow,
    ApologySheetRow,
    LateRow,
    OfficerRow,
    ReceiverRow,
    WorkbookData,
    issuer,
)
from handlers.leader.workbook.filing import CHILD_HEADERS, COMPLAINT_HEADERS, Page, child_row, complaint_rows
from handlers.leader.workbook.people import write_people
from handlers.leader.workbook.printing import PERCENT, use_one_font
from handlers.leader.workbook.summary import COMPLAINTS_TARGET, write_summary
from handlers.leader.workbook.tables import Book, write_figures
from handlers.leader.workbook.values import Cells, alphabetical, clean
from handlers.leader.workbook.words import VIETNAMESE, Words
from handlers.texts import DEFAULT_LOCALE

__all__ = [
    "FIXED_STAMP",
    "INSUFFICIENT",
    "MET",
    "NOT_MET",
    "PERCENT",
    "SHEET_LATE",
    "AnswerRow",
    "ApologySheetRow",
    "LateRow",
    "OfficerRow",
    "ReceiverRow",
    "WorkbookData",
    "build_workbook",
    "issuer",
]

# the Vietnamese workbook's words that callers and tests look for
INSUFFICIENT = VIETNAMESE("insufficient")
MET = VIETNAMESE("met")
NOT_MET = VIETNAMESE("not_met")
SHEET_LATE = VIETNAMESE("sheet.late")

# the document's created/modified stamp when no generation time is given, and every zip entry's date:
# the earliest a zip can carry, so two builds of the same data are byte for byte the same
FIXED_STAMP = datetime(1980, 1, 1)  # naive: openpyxl stores these as UTC without a zone
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def build_workbook(data: WorkbookData, locale: str = DEFAULT_LOCALE) -> bytes:
    """The report as an .xlsx file, its own words in ``locale`` (the data is written as it comes)."""
    words = Words(locale)
    wb = Workbook(write_only=True)
    use_one_font(wb)
    wb.properties.title = clean(data.title)
    wb.properties.creator = "SIPAS Bot"
    stamp = _document_stamp(data.generated_at)
    wb.properties.created = stamp
    wb.properties.modified = stamp

    report = data.report
    page = Page.of(clean(data.unit_name), clean(data.title), report, data.generated_at, words)
    book = Book(wb, page, Cells(words))
    write_summary(book, data)
    write_figures(book, data)
    if data.children:
        children = [child_row(child, clean, book.cells) for child in data.children]
        book.table("children", words.each(CHILD_HEADERS), alphabetical(children, lambda row: str(row[0])))
    if report.get("complaints") is not None:
        rows = complaint_rows(report["complaints"], data.complaints_open, COMPLAINTS_TARGET, book.cells)
        book.table("complaints", words.each(COMPLAINT_HEADERS), rows, filtered=False)
    write_people(book, data)
    write_answers(book, data)
    write_questions(book, data)
    return _pack(wb)


def _document_stamp(generated_at: datetime | None) -> datetime:
    """The document's created/modified time: naive UTC, as openpyxl stores it."""
    if generated_at is None or generated_at.tzinfo is None:
        # a naive local time names no zone to convert from: the metadata stays neutral
        return FIXED_STAMP
    return generated_at.astimezone(UTC).replace(tzinfo=None)


def _pack(wb: Workbook) -> bytes:
    """Save, then re-pack the archive with fixed entry dates (openpyxl stamps each entry with now)."""
    raw = io.BytesIO()
    # ExcelWriter rather than wb.save: save_workbook overwrites properties.modified with the clock
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(entry))
    return out.getvalue()
