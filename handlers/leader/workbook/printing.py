"""How the leaders' workbook prints and files: A4, one page wide, titles repeated, one serif font.

Spreadsheet programs print a sheet as it is set up in the file, and openpyxl sets up nothing: US Letter, 100%,
labels on other pages than their figures, every row one line high. Here each sheet gets:

- A4 paper, fitted to one page wide (any number of pages tall), landscape when its columns are wider than a
  portrait page holds; margins for filing (the wider one on the left, for the binding);
- its header rows and its label column repeated on every page;
- the unit, the title and the period in the page header, the date made and the page number in the footer;
- one font, Times New Roman (a serif with Vietnamese letters; LibreOffice prints it with the metric-compatible
  Liberation Serif), for cells, styles and page headers alike;
- row heights that fit their wrapped text: openpyxl never measures text, so the lines a text takes in its
  column are counted here, a little generously, from its length and the column's width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill
from openpyxl.styles.named_styles import NamedStyle, NamedStyleList
from openpyxl.utils import get_column_letter
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties

FONT_NAME = "Times New Roman"
BODY_SIZE = 11
TITLE_SIZE = 14
_FAMILY_ROMAN = 1  # a serif: what a program without the font substitutes

BODY_FONT = Font(name=FONT_NAME, size=BODY_SIZE, family=_FAMILY_ROMAN)
BOLD_FONT = Font(name=FONT_NAME, size=BODY_SIZE, family=_FAMILY_ROMAN, bold=True)
ITALIC_FONT = Font(name=FONT_NAME, size=BODY_SIZE, family=_FAMILY_ROMAN, italic=True)
TITLE_FONT = Font(name=FONT_NAME, size=TITLE_SIZE, family=_FAMILY_ROMAN, bold=True)

PAPER_A4 = 9  # the paperSize code of A4 in the file format
# what a page holds, in column-width units (about 1.85 mm each at 100%): A4 less the margins below
PORTRAIT_WIDTH = 92.0
LANDSCAPE_WIDTH = 139.0
# a sheet wider than this prints landscape: in portrait it would shrink below about nine tenths
LANDSCAPE_FROM = 100.0
# inches, as the file format has them: 2.5 cm left for the binding, 1.5 cm right, 2 cm top and bottom
MARGINS = {"left": 0.98, "right": 0.59, "top": 0.79, "bottom": 0.79, "header": 0.31, "footer": 0.31}

LINE_POINTS = {BODY_SIZE: 15.0, TITLE_SIZE: 19.0}  # the height of a line of text, in points
_PADDING = 3.0  # points above and below a cell's text
# letters of 11-point Times per unit of column width (a unit is the width of a digit; Times' letters are a little
# narrower on average): counted low, so that a row is rather too tall than too short in any program
_PER_WIDTH = 1.05
_UPPER = 1.45  # a capital letter takes about this many lower-case letters' room
_BOLD = 1.08  # and bold text this much more than regular


def use_one_font(wb: Workbook) -> None:
    """Make Times New Roman the workbook's default font (the one every unstyled cell and style shows).

    openpyxl starts every workbook with Calibri of the theme ("minor" scheme: a program takes the theme's font,
    whatever the name says); the default is replaced before any cell is written.
    """
    wb._fonts = IndexedList([copy(BODY_FONT)])  # openpyxl keeps the default font only here
    wb._named_styles = NamedStyleList()  # and the "Normal" style's font here
    wb.add_named_style(NamedStyle(name="Normal", font=copy(BODY_FONT), border=Border(), builtinId=0))


def orientation(widths: Iterable[float]) -> str:
    """Landscape when the columns are wider than a portrait page holds at about nine tenths."""
    return "landscape" if sum(widths) > LANDSCAPE_FROM else "portrait"


def setup_page(
    ws: Any,
    widths: Iterable[float],
    *,
    title_rows: str,
    title_cols: str = "A:A",
    header: tuple[str, str, str] = ("", "", ""),
    made: str = "",
    page_number: str = "",
) -> None:
    """A4, one page wide, titles repeated; ``header`` (left, centre, right) on every page, ``made`` in the footer.

    ``page_number``: the footer's page number, in the workbook's words ("Trang &P/&N": &P the page, &N the pages).
    """
    setup = ws.page_setup
    setup.paperSize = PAPER_A4
    setup.orientation = orientation(widths)
    setup.fitToWidth = 1
    setup.fitToHeight = 0  # as many pages tall as the rows need
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins = PageMargins(**MARGINS)
    ws.print_title_rows = title_rows
    ws.print_title_cols = title_cols
    left, centre, right = header
    for part, text, bold in ((ws.oddHeader.left, left, False), (ws.oddHeader.center, centre, True),
                             (ws.oddHeader.right, right, False)):  # fmt: skip
        _page_text(part, text, bold)
    _page_text(ws.oddFooter.left, made, False)
    _page_text(ws.oddFooter.right, page_number, False)


def _page_text(part: Any, text: str, bold: bool) -> None:
    if not text:
        return
    part.text = text.replace("&", "&&") if "&P" not in text else text
    part.font = f"{FONT_NAME},{'Bold' if bold else 'Regular'}"
    part.size = 9


def text_lines(text: str, width: float, *, bold: bool = False, size: int = BODY_SIZE) -> int:
    """How many lines ``text`` takes wrapped in a column ``width`` wide (its own line breaks kept)."""
    room = max(1.0, room_of(width, bold=bold, size=size))
    lines = 0
    for paragraph in text.split("\n"):
        count, used = 1, 0.0
        for word in paragraph.split():
            length = _room_of(word)
            if used and used + 1 + length > room:
                count, used = count + 1, 0.0
            if length > room:  # a word longer than the column is broken where the line ends
                extra = math.ceil(length / room) - 1
                count, length = count + extra, length - extra * room
            used = used + (1 if used else 0) + length
        lines += count
    return max(lines, 1)


def room_of(width: float, *, bold: bool = False, size: int = BODY_SIZE) -> float:
    """How many lower-case letters a line of a column ``width`` wide holds."""
    return width * _PER_WIDTH * BODY_SIZE / size / (_BOLD if bold else 1.0)


def code_width(code: str) -> float:
    """The width a column needs to show ``code`` (capitals, in bold as a header) on one line."""
    return _room_of(code) * _BOLD / _PER_WIDTH + 1.0


def _room_of(word: str) -> float:
    return sum(_UPPER if char.isupper() else 1.0 for char in word)


def height_of(lines: int, size: int = BODY_SIZE) -> float:
    """The height in points of a row of ``lines`` lines of text of ``size`` points."""
    return round(lines * LINE_POINTS.get(size, size * 1.36) + _PADDING, 2)


WRAP = Alignment(wrap_text=True, vertical="top")
CENTRE = Alignment(horizontal="center", vertical="top", wrap_text=True)
_TOP = Alignment(vertical="top")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

PERCENT = "0.0%"
MEAN = "0.00"
DATE = "dd/mm/yyyy"
DATETIME = "dd/mm/yyyy hh:mm"
_FORMAT_LENGTHS = {PERCENT: 7, MEAN: 5, DATE: 10, DATETIME: 16}


@dataclass(frozen=True)
class Styled:
    """A value with what its cell needs beyond the value: a number format, a font, forced text."""

    value: Any
    number_format: str | None = None
    font: Font | None = None
    fill: PatternFill | None = None
    alignment: Alignment | None = None
    as_text: bool = False  # a string openpyxl would otherwise take for a formula or an error code


Value = str | int | float | Styled | None


def day(value: date | None) -> Value:
    """A date as a real date shown dd/mm/yyyy."""
    return None if value is None else Styled(value, DATE)


def heading(text: str | None) -> Styled:
    """A header cell: bold, shaded, wrapped."""
    return Styled(text, font=BOLD_FONT, fill=HEADER_FILL, alignment=WRAP)


def shown_length(value: Value) -> float:
    """About how many characters a value shows on one line."""
    if value is None:
        return 0
    if isinstance(value, Styled):
        if value.number_format is not None:
            return _FORMAT_LENGTHS.get(value.number_format, len(str(value.value)))
        value = value.value
    return len(str(value))


class SheetWriter:
    """Rows appended to a write-only sheet, each as tall as its wrapped text, long text wrapped in its column.

    ``span``: the row's last value is merged across the columns up to that one (1-based), and measured over them.
    ``align_top``: in a row of several lines, every cell's value at the top (else only the wrapped ones: a big
    sheet of answers writes its plain values fastest).
    """

    def __init__(self, ws: Any, widths: Sequence[float], *, align_top: bool = True) -> None:
        self.ws = ws
        self.widths = list(widths)
        self.align_top = align_top
        self.row = 0
        # what a column surely holds on one line: the quick path of a big sheet's many short values
        self._sure = [room_of(width) / _UPPER for width in self.widths]
        # write-only sheets take their column widths before the first row
        for index, width in enumerate(self.widths, 1):
            ws.column_dimensions[get_column_letter(index)].width = width

    def append(self, values: Sequence[Value], *, span: int | None = None, height: float | None = None) -> None:
        """Write one row (``height`` in points: as given, else as its text needs)."""
        self.row += 1
        lines, size, wraps = 1, BODY_SIZE, set()
        last = len(values) - 1
        sure = self._sure
        for index, value in enumerate(values):
            if value is None or value.__class__ in (int, float):
                continue
            if (
                isinstance(value, str)
                and index < len(sure)
                and (index != last or span is None)
                and len(value) <= sure[index]
                and "\n" not in value
            ):
                continue
            text, font = (value.value, value.font) if isinstance(value, Styled) else (value, None)
            if font is not None and font.sz is not None and text is not None and text != "":
                size = max(size, int(font.sz))
            if not isinstance(text, str) or (isinstance(value, Styled) and value.number_format is not None):
                continue
            width = self._width(index, span if index == last else None)
            bold = bool(font is not None and font.b)
            font_size = int(font.sz) if font is not None and font.sz is not None else BODY_SIZE
            needed = text_lines(text, width, bold=bold, size=font_size)
            if needed > 1:
                wraps.add(index)
                lines = max(lines, needed)
        if height is not None:
            self.ws.row_dimensions[self.row].height = height
        elif lines > 1 or size != BODY_SIZE:
            self.ws.row_dimensions[self.row].height = height_of(lines, size)
        self.ws.append(self._cells(values, wraps, tall=lines > 1 and self.align_top))
        if span is not None and span > len(values):
            first = get_column_letter(len(values))
            self.ws.merged_cells.add(f"{first}{self.row}:{get_column_letter(span)}{self.row}")

    def _width(self, index: int, span: int | None) -> float:
        if span is None:
            return self.widths[index] if index < len(self.widths) else self.widths[-1]
        return sum(self.widths[index:span])

    def _cells(self, values: Sequence[Value], wraps: set[int], *, tall: bool) -> list[Any]:
        """Plain values as they are (the fast path); styled, wrapped and top-aligned ones as write-only cells."""
        cells: list[Any] = []
        for index, value in enumerate(values):
            if not isinstance(value, Styled):
                if value is None or (index not in wraps and not tall):
                    cells.append(value)
                    continue
                value = Styled(value)
            cell = WriteOnlyCell(self.ws, value.value)
            if value.number_format is not None:
                cell.number_format = value.number_format
            if value.font is not None:
                cell.font = value.font
            if value.fill is not None:
                cell.fill = value.fill
            if value.alignment is not None:
                cell.alignment = value.alignment
            elif index in wraps:
                cell.alignment = WRAP
            elif tall:
                cell.alignment = _TOP
            if value.alignment is not None and index in wraps and not value.alignment.wrap_text:
                cell.alignment = Alignment(
                    horizontal=value.alignment.horizontal, vertical=value.alignment.vertical or "top", wrap_text=True
                )
            if value.as_text:
                cell.data_type = "s"
            cells.append(cell)
        return cells
