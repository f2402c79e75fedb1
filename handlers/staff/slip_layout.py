"""How the apology slip is set on an A4 page with fpdf2, after Nghị định 30/2020 on presenting official documents.

The authority and the national motto side by side at the top, the number and the place and date under them, the
title, the addressee, the body in justified paragraphs, then the recipients and the signer. The words are given
by handlers.staff.slip; this module only places them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from fpdf.fonts import TTFFont

# Nghị định 30/2020 sets official documents in a Times New Roman–like serif with the Vietnamese glyphs: Liberation
# Serif (metric-compatible with Times New Roman), shipped with the package in handlers/fonts/ under the SIL Open
# Font License 1.1 (handlers/fonts/OFL.txt)
FONT_DIR = Path(__file__).parent.parent / "fonts"
_SERIF = "LiberationSerif"
_SERIF_FILES = {
    "": "LiberationSerif-Regular.ttf",
    "B": "LiberationSerif-Bold.ttf",
    "I": "LiberationSerif-Italic.ttf",
    "BI": "LiberationSerif-BoldItalic.ttf",
}
# DejaVu Sans (bundled by matplotlib) has thousands of characters the serif lacks (Hebrew, Arabic, dingbats such
# as ✓) and a reason typed by an officer may carry any of them; it is added only when needed, since fpdf2 embeds
# every font added.
_SANS = "DejaVuSans"
_SANS_FILE = "DejaVuSans.ttf"
_VN_TZ = timezone(timedelta(hours=7), "ICT")

# Layout in millimetres and points, after Nghị định 30/2020 on the presentation of official documents:
# margins 20-25 mm top and bottom, 30-35 mm left, 15-20 mm right; text 13-14 pt.
_LEFT, _RIGHT, _TOP, _BOTTOM = 30.0, 15.0, 20.0, 20.0
_CONTENT_W = 210.0 - _LEFT - _RIGHT
_LEFT_COL_W = 60.0  # the authority's column in the header and the "Nơi nhận" column at the foot
_RIGHT_COL_W = _CONTENT_W - _LEFT_COL_W
_GAP = 4.0  # at least this much between the two header blocks: each is set no wider than its column less this
_HEADER_PT = 12.0
_BODY_PT = 13.0
_TITLE_PT = 14.0
SMALL_PT = 11.0
_LINE = 1.35  # line height as a multiple of the font size
_INDENT = 10.0  # first-line indent of body paragraphs
_SIGNATURE_SPACE = 30.0  # blank space left for the signature and the seal
_PT = 25.4 / 72  # one point in millimetres

# a line of a column: its text, its style ("", "B", "I", "BI") and its size in points
Line = tuple[str, str, float]


@cache
def _sans_dir() -> Path:
    """Where matplotlib keeps its bundled DejaVu fonts, found once."""
    import matplotlib  # only for this path, and only when a slip is made: importing it reads its rc files

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class SlipPDF(FPDF):
    """An A4 page in millimetres; from the second page on, the page number at the top, as official letters do."""

    def header(self) -> None:
        """The page number, centred at the top, from the second page on."""
        if self.page_no() > 1:
            self.set_font(_SERIF, "", _BODY_PT)
            self.set_y(_TOP / 2)
            self.cell(0, _BODY_PT * _PT, str(self.page_no()), align=Align.C)
            self.set_y(_TOP)


def new_pdf(printed: Sequence[str], title: str, author: str, issued_on: date) -> SlipPDF:
    """An empty slip whose fonts have every character of ``printed``, dated ``issued_on`` (the same bytes each time)."""
    pdf = SlipPDF(orientation="P", unit="mm", format="A4")
    for style, name in _SERIF_FILES.items():
        pdf.add_font(_SERIF, style, FONT_DIR / name)
    characters = {ord(char) for char in "".join(printed)} - {ord("\n")}
    serif = [font for font in pdf.fonts.values() if isinstance(font, TTFFont)]
    if any(not characters <= font.cmap.keys() for font in serif):
        pdf.add_font(_SANS, "", _sans_dir() / _SANS_FILE)
        pdf.set_fallback_fonts([_SANS], exact_match=False)
    # The same slip must give the same bytes (the /ID is a hash of the content and this date).
    pdf.set_creation_date(datetime.combine(issued_on, time(), tzinfo=_VN_TZ))
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_lang("vi")
    pdf.set_margins(_LEFT, _TOP, _RIGHT)
    pdf.set_auto_page_break(auto=True, margin=_BOTTOM)
    pdf.c_margin = 0
    return pdf


def _wrapped(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` at the current font, broken at spaces only (never in a word)."""
    lines: list[str] = []
    for word in text.split():
        if lines and pdf.get_string_width(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _fit(
    pdf: FPDF, texts: list[str], style: str, size: float, width: float, smallest: float
) -> tuple[float, list[str]]:
    """One size for ``texts`` and their lines: each on one line of ``width``, set smaller as far as ``smallest``.

    What is still too wide at ``smallest`` is broken at spaces; a word wider than ``width`` on its own makes the
    size smaller still, so that no word is ever broken.
    """
    texts = [text for text in texts if text.strip()]
    if not texts:
        return size, []
    pdf.set_font(_SERIF, style, size)
    widest = max(pdf.get_string_width(text) for text in texts)
    if widest > width:
        size = max(smallest, math.floor(size * width / widest * 2) / 2)
    pdf.set_font(_SERIF, style, size)
    longest_word = max(pdf.get_string_width(word) for text in texts for word in text.split())
    if longest_word > width:  # widths grow with the size: this size sets the longest word within ``width``
        size = max(1.0, math.floor(size * width / longest_word * 2) / 2)
        pdf.set_font(_SERIF, style, size)
    return size, [line for text in texts for line in _wrapped(pdf, text, width)]


def _column(pdf: FPDF, x: float, y: float, w: float, lines: list[Line]) -> float:
    """Centre ``lines`` (text, style, size) in the column at ``x`` from ``y``, each on one line; the y below them.

    Every line is set no wider than the column less ``_GAP`` (see :func:`_fit`): a column's text never reaches
    the next column's.
    """
    pdf.set_xy(x, y)
    for text, style, size in lines:
        pdf.set_font(_SERIF, style, size)
        pdf.set_x(x)
        pdf.cell(w, size * _LINE * _PT, text, align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
    return float(pdf.get_y())


def fitted(pdf: FPDF, texts: list[str], style: str, size: float, column: float, smallest: float) -> list[Line]:
    """``texts`` fitted to a column of width ``column`` (see :func:`_fit`), as lines for :func:`_column`."""
    size, lines = _fit(pdf, texts, style, size, column - _GAP, smallest)
    return [(line, style, size) for line in lines]


def _rule_under(pdf: FPDF, x: float, w: float, y: float, length: float) -> None:
    """A short horizontal line centred in the column, as under the motto and the authority's name."""
    pdf.set_line_width(0.3)
    start = x + (w - length) / 2
    pdf.line(start, y, start + length, y)


def set_header(pdf: FPDF, authority: list[str], motto: tuple[str, str], number: str, dated: str) -> None:
    """The authority (in capitals) beside the national motto, then the slip's number beside its place and date."""
    top = pdf.get_y()
    left_x, right_x = _LEFT, _LEFT + _LEFT_COL_W
    # Nghị định 30/2020: the authority in bold capitals, a rule under it 1/3 to 1/2 as long as its line
    # (a long name is set a little smaller, as far as 9 pt, then broken between words)
    left = fitted(pdf, authority, "B", _HEADER_PT, _LEFT_COL_W, 9)
    left_end = _column(pdf, left_x, top, _LEFT_COL_W, left)
    pdf.set_font(_SERIF, "B", left[0][2])
    widest = max(pdf.get_string_width(line) for line, _, _ in left)
    _rule_under(pdf, left_x, _LEFT_COL_W, left_end + 1, max(widest / 2, 15))

    state, words = motto
    right = [
        *fitted(pdf, [state], "B", _HEADER_PT, _RIGHT_COL_W, 10),
        *fitted(pdf, [words], "B", _HEADER_PT + 1, _RIGHT_COL_W, 10),
    ]
    right_end = _column(pdf, right_x, top, _RIGHT_COL_W, right)
    pdf.set_font(_SERIF, "B", right[-1][2])
    _rule_under(pdf, right_x, _RIGHT_COL_W, right_end + 1, pdf.get_string_width(words))

    line_y = max(left_end, right_end) + 4
    number_end = _column(pdf, left_x, line_y, _LEFT_COL_W, fitted(pdf, [number], "", _BODY_PT, _LEFT_COL_W, 10))
    dated_end = _column(pdf, right_x, line_y, _RIGHT_COL_W, fitted(pdf, [dated], "I", _BODY_PT, _RIGHT_COL_W, 10))
    pdf.set_xy(_LEFT, max(number_end, dated_end) + 8)


def set_body(pdf: FPDF, title: str, addressee: str, paragraphs: list[str]) -> None:
    """The title, the addressee, and the body's paragraphs justified, each first line indented."""
    pdf.set_font(_SERIF, "B", _TITLE_PT)
    pdf.multi_cell(0, _TITLE_PT * _LINE * _PT, title, align=Align.C, new_x=XPos.LMARGIN)
    pdf.ln(5)
    pdf.set_font(_SERIF, "", _BODY_PT)
    pdf.multi_cell(0, _BODY_PT * _LINE * _PT, addressee, align=Align.C, new_x=XPos.LMARGIN)
    pdf.ln(4)

    with pdf.text_columns(text_align=Align.J, line_height=_LINE) as body:
        for text in paragraphs:
            with body.paragraph(first_line_indent=_INDENT, bottom_margin=1.5) as paragraph:
                paragraph.write(text)


def set_foot(pdf: FPDF, signer: list[str], name: str, sign_hint: str, recipients: list[Line], officer: str) -> None:
    """The recipients and the officer on the left, the signer on the right, kept together on one page.

    Nghị định 30/2020: the position lines in bold capitals ("TM. ỦY BAN NHÂN DÂN" / "CHỦ TỊCH"), room for the
    signature and the seal, then the signer's name in bold (``sign_hint`` in its place when nobody is named).
    """
    right = fitted(pdf, signer, "B", _BODY_PT, _RIGHT_COL_W, 10)
    if not name:
        right.append((sign_hint, "I", SMALL_PT))
    signed = fitted(pdf, [name], "B", _BODY_PT, _RIGHT_COL_W, 10) if name else []
    left = [*recipients, *fitted(pdf, [officer], "I", SMALL_PT, _LEFT_COL_W, 9)]
    right_height = sum(size for _, _, size in [*right, *signed]) * _LINE * _PT + _SIGNATURE_SPACE
    left_height = sum(size for _, _, size in left) * _LINE * _PT
    if pdf.get_y() + 6 + max(right_height, left_height) > pdf.page_break_trigger:
        pdf.add_page()
    top = pdf.get_y() + 6
    below = _column(pdf, _LEFT + _LEFT_COL_W, top, _RIGHT_COL_W, right)
    if signed:
        _column(pdf, _LEFT + _LEFT_COL_W, below + _SIGNATURE_SPACE, _RIGHT_COL_W, signed)

    pdf.set_xy(_LEFT, top)
    for text, style, size in left:
        pdf.set_font(_SERIF, style, size)
        pdf.cell(_LEFT_COL_W, size * _LINE * _PT, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
