"""The printable apology slip (template 04 of Thông tư 01/2018/TT-VPCP) as an A4 PDF, rendered with fpdf2."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from fpdf.fonts import TTFFont

from handlers.citizen.survey import fold
from handlers.messages import nfc

__all__ = ["SlipData", "looks_like_organisation", "official_date", "render_slip"]

DEFAULT_TITLE = "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"

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
_SMALL_PT = 11.0
_LINE = 1.35  # line height as a multiple of the font size
_INDENT = 10.0  # first-line indent of body paragraphs
_SIGNATURE_SPACE = 30.0  # blank space left for the signature and the seal
_SIGN_HINT = "(Ký, ghi rõ họ tên và đóng dấu)"  # printed where no signer's name is configured
# How an applicant that is an organisation is named (folded): "Công ty …", "HTX …" and the like
_ORGANISATION_PREFIXES = (
    "cong ty",
    "cty",
    "tong cong ty",
    "tap doan",
    "doanh nghiep",
    "dntn",
    "hop tac xa",
    "lien hiep hop tac xa",
    "htx",
    "to hop tac",
    "chi nhanh",
    "van phong dai dien",
    "ngan hang",
    "ho kinh doanh",
)
_PT = 25.4 / 72  # one point in millimetres


@dataclass(frozen=True)
class SlipData:
    """Everything printed on the slip (all text already NFC, dates already local)."""

    authority: str  # issuing authority, one line each: "Ủy ban nhân dân\nPhường 8" (bold capitals, top left)
    unit_name: str  # the unit's name, e.g. "Phường 8" (used in the body)
    number: str  # e.g. "01/PXL"  (printed as "Số: 01/PXL")
    place: str  # e.g. "Phường 8"  (the "…, ngày … tháng … năm …" line uses it)
    issued_on: date
    applicant: str  # "Kính gửi: Ông/Bà <name>" ; may be "" when the name was erased -> print "Ông/Bà"
    # (an organisation, ``organisation=True``: "Kính gửi: <its name>", and "Quý tổ chức" in the body)
    contact: str | None  # address or phone shown after the name (already masked by the caller), may be None
    received_on: date
    procedure: str
    field: str
    dossier_code: str
    due_on: date  # the original appointment date
    reason: str  # free text, may be long (wrap it), may contain any Unicode
    new_due_on: date | None  # None for an apology for an error (no new date)
    signer_title: str  # the position lines, one each: "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH" — above the signature space
    title: str = DEFAULT_TITLE  # configurable (Thông tư 03/2025 may rename it)
    signer_name: str = ""  # printed in bold below the signature space; "" leaves the space for it blank
    organisation: bool = False  # the applicant is an organisation (a company, a cooperative…), not a person
    kind: str = "delay"  # "delay": late, with a new date; "error": an error (sai sót) in handling the dossier
    officer: str = ""  # the officer who issued it, printed at the foot ("Người lập phiếu: …"); "" prints nothing
    reception_point: str = ""  # where the dossier was received when not at the issuing unit (its reception point)


def official_date(day: date) -> str:
    """The date as Nghị định 30/2020 writes it, "ngày 09 tháng 3 năm 2026": a zero before days 1–9, months 1–2."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def looks_like_organisation(name: str) -> bool:
    """Whether an applicant's name is an organisation's ("Công ty TNHH …", "HTX …"), when nobody said which."""
    folded = fold(name)
    return any(folded == prefix or folded.startswith(prefix + " ") for prefix in _ORGANISATION_PREFIXES)


@cache
def _sans_dir() -> Path:
    """Where matplotlib keeps its bundled DejaVu fonts, found once."""
    import matplotlib  # only for this path, and only when a slip is made: importing it reads its rc files

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _dmy(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def _lines(text: str) -> list[str]:
    """The non-empty lines of a setting that prints on several lines (a newline or "|" between them)."""
    return [line for line in (_clean(part) for part in text.replace("|", "\n").splitlines()) if line]


def _upper(text: str) -> str:
    return nfc(text.upper())


def _clean(text: str, *, keep_newlines: bool = False) -> str:
    """NFC text without control characters (they have no glyph); newlines kept only where asked."""
    text = nfc(text).replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for char in text:
        if char == "\n" and keep_newlines:
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp") or char == "\u00ad":
            out.append(" ")
        else:
            out.append(char)
    cleaned = "".join(out)
    if keep_newlines:
        return "\n".join(filter(None, (" ".join(line.split()) for line in cleaned.split("\n"))))
    return " ".join(cleaned.split())


class _SlipPDF(FPDF):
    """An A4 page in millimetres; from the second page on, the page number at the top, as official letters do."""

    def header(self) -> None:
        if self.page_no() > 1:
            self.set_font(_SERIF, "", _BODY_PT)
            self.set_y(_TOP / 2)
            self.cell(0, _BODY_PT * _PT, str(self.page_no()), align=Align.C)
            self.set_y(_TOP)


def _new_pdf(data: SlipData) -> _SlipPDF:
    pdf = _SlipPDF(orientation="P", unit="mm", format="A4")
    for style, name in _SERIF_FILES.items():
        pdf.add_font(_SERIF, style, FONT_DIR / name)
    printed = {ord(char) for char in "".join(_texts(data))} - {ord("\n")}
    serif = [font for font in pdf.fonts.values() if isinstance(font, TTFFont)]
    if any(not printed <= font.cmap.keys() for font in serif):
        pdf.add_font(_SANS, "", _sans_dir() / _SANS_FILE)
        pdf.set_fallback_fonts([_SANS], exact_match=False)
    # The same slip must give the same bytes (the /ID is a hash of the content and this date).
    pdf.set_creation_date(datetime.combine(data.issued_on, time(), tzinfo=_VN_TZ))
    pdf.set_title(_clean(data.title))
    pdf.set_author(" ".join(map(_upper, _lines(data.authority))))
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


def _column(pdf: FPDF, x: float, y: float, w: float, lines: list[tuple[str, str, float]]) -> float:
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


def _set(
    pdf: FPDF, texts: list[str], style: str, size: float, column: float, smallest: float
) -> list[tuple[str, str, float]]:
    """``texts`` fitted to a column of width ``column`` (see :func:`_fit`), as lines for :func:`_column`."""
    fitted, lines = _fit(pdf, texts, style, size, column - _GAP, smallest)
    return [(line, style, fitted) for line in lines]


def _rule_under(pdf: FPDF, x: float, w: float, y: float, length: float) -> None:
    """A short horizontal line centred in the column, as under the motto and the authority's name."""
    pdf.set_line_width(0.3)
    start = x + (w - length) / 2
    pdf.line(start, y, start + length, y)


def _header(pdf: FPDF, data: SlipData) -> None:
    top = pdf.get_y()
    left_x, right_x = _LEFT, _LEFT + _LEFT_COL_W
    # Nghị định 30/2020: the authority in bold capitals, a rule under it 1/3 to 1/2 as long as its line
    # (a long name is set a little smaller, as far as 9 pt, then broken between words)
    authority = [_upper(line) for line in _lines(data.authority)] or [_upper(_clean(data.unit_name))]
    left = _set(pdf, authority, "B", _HEADER_PT, _LEFT_COL_W, 9)
    left_end = _column(pdf, left_x, top, _LEFT_COL_W, left)
    pdf.set_font(_SERIF, "B", left[0][2])
    widest = max(pdf.get_string_width(line) for line, _, _ in left)
    _rule_under(pdf, left_x, _LEFT_COL_W, left_end + 1, max(widest / 2, 15))

    motto = "Độc lập - Tự do - Hạnh phúc"
    right = [
        *_set(pdf, ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"], "B", _HEADER_PT, _RIGHT_COL_W, 10),
        *_set(pdf, [motto], "B", _HEADER_PT + 1, _RIGHT_COL_W, 10),
    ]
    right_end = _column(pdf, right_x, top, _RIGHT_COL_W, right)
    pdf.set_font(_SERIF, "B", right[-1][2])
    _rule_under(pdf, right_x, _RIGHT_COL_W, right_end + 1, pdf.get_string_width(motto))

    line_y = max(left_end, right_end) + 4
    number = _set(pdf, [f"Số: {_clean(data.number)}"], "", _BODY_PT, _LEFT_COL_W, 10)
    number_end = _column(pdf, left_x, line_y, _LEFT_COL_W, number)
    dated = _set(pdf, [f"{_clean(data.place)}, {official_date(data.issued_on)}"], "I", _BODY_PT, _RIGHT_COL_W, 10)
    dated_end = _column(pdf, right_x, line_y, _RIGHT_COL_W, dated)
    pdf.set_xy(_LEFT, max(number_end, dated_end) + 8)


def _texts(data: SlipData) -> list[str]:
    """Every piece of variable text the slip prints."""
    fields = [data.title, data.unit_name, data.number, data.place, data.signer_name, data.reception_point]
    lines = [*map(_upper, _lines(data.authority)), *_lines(data.signer_title), _SIGN_HINT, _officer(data)]
    return [*map(_clean, fields), *lines, _addressee(data), *_body(data)]


def _officer(data: SlipData) -> str:
    """The line naming the officer who issued the slip ("" when nobody is named)."""
    officer = _clean(data.officer)
    return f"Người lập phiếu: {officer}" if officer and officer != "?" else ""


def _where(data: SlipData) -> str:
    """Where the dossier was received, when not at the issuing unit itself: " tại Điểm tiếp nhận …"."""
    point = _clean(data.reception_point)
    return f" tại {point}" if point else ""


def _you(data: SlipData) -> str:
    """How the body calls the applicant."""
    return "Quý tổ chức" if data.organisation else "Ông/Bà"


def _addressee(data: SlipData) -> str:
    name = _clean(data.applicant)
    if data.organisation:
        text = f"Kính gửi: {name or _you(data)}"
    else:
        text = f"Kính gửi: Ông/Bà {name}" if name else "Kính gửi: Ông/Bà"
    contact = _clean(data.contact or "")
    return f"{text} ({contact})" if contact else text


def _body(data: SlipData) -> list[str]:
    if data.kind == "error" or data.new_due_on is None:
        return _error_body(data)
    unit, you = _clean(data.unit_name), _you(data)
    owner = (_clean(data.applicant) or you) if data.organisation else you
    due = _dmy(data.due_on)
    receipt = "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"
    if data.issued_on <= data.due_on:  # issued ahead: the result *cannot* be returned on the due date
        late = (
            f"Tuy nhiên, {unit} không thể trả kết quả giải quyết hồ sơ cho {you} đúng hẹn vào ngày {due} "
            f"như ghi trên {receipt}."
        )
        trouble = "gây"
    else:  # the due date has passed: the result *was not* returned
        late = f"Tuy nhiên đến nay, {unit} chưa trả kết quả giải quyết hồ sơ cho {you} đúng hẹn như ghi trên {receipt}."
        trouble = "đã gây"
    return [
        f"Ngày {_dmy(data.received_on)}, {unit} tiếp nhận hồ sơ{_where(data)} đề nghị giải quyết thủ tục hành chính "
        f"“{_clean(data.procedure)}” thuộc lĩnh vực {_clean(data.field)} của {owner}.",
        f"Mã hồ sơ: {_clean(data.dossier_code)}.",  # a line of its own: a long code would stretch a justified line
        f"Thời gian hẹn trả kết quả giải quyết hồ sơ: ngày {due}.",
        late,
        f"Lý do: {_clean(data.reason, keep_newlines=True)}",
        f"Sự chậm trễ này {trouble} phiền hà, tốn kém chi phí, công sức của {you}. {unit} xin lỗi {you} "
        f"và kính mong {you} thông cảm.",
        f"{unit} xin hẹn trả kết quả giải quyết hồ sơ cho {you} vào ngày {_dmy(data.new_due_on)}.",
        "Xin trân trọng cảm ơn!",
    ]


def _error_body(data: SlipData) -> list[str]:
    """The wording of an apology for an error in handling the dossier (seed 004: "sai sót"): no new date."""
    unit, you = _clean(data.unit_name), _you(data)
    return [
        f"Ngày {_dmy(data.received_on)}, {unit} tiếp nhận hồ sơ{_where(data)} đề nghị giải quyết thủ tục hành chính "
        f"“{_clean(data.procedure)}” thuộc lĩnh vực {_clean(data.field)} của {you}; "
        f"mã hồ sơ: {_clean(data.dossier_code)}.",
        f"Trong quá trình giải quyết hồ sơ, {unit} đã để xảy ra sai sót.",
        f"Nội dung sai sót: {_clean(data.reason, keep_newlines=True)}",
        f"Sai sót này đã gây phiền hà, tốn kém chi phí, công sức của {you}. {unit} thành thật xin lỗi {you} "
        f"và kính mong {you} thông cảm.",
        f"{unit} sẽ khắc phục ngay sai sót và rút kinh nghiệm để không để xảy ra sai sót tương tự.",
        "Xin trân trọng cảm ơn!",
    ]


def _foot(pdf: FPDF, data: SlipData) -> None:
    """The "Nơi nhận" list and the officer on the left, the signer on the right, kept together on one page.

    Nghị định 30/2020: the position lines in bold capitals ("TM. ỦY BAN NHÂN DÂN" / "CHỦ TỊCH"), room for the
    signature and the seal, then the signer's name in bold.
    """
    name = _clean(data.signer_name)
    right = _set(pdf, [_upper(line) for line in _lines(data.signer_title)], "B", _BODY_PT, _RIGHT_COL_W, 10)
    if not name:
        right.append((_SIGN_HINT, "I", _SMALL_PT))
    signed = _set(pdf, [name], "B", _BODY_PT, _RIGHT_COL_W, 10) if name else []
    left = [
        ("Nơi nhận:", "BI", 12.0),
        ("- Như trên;", "", _SMALL_PT),
        ("- Lưu: VT.", "", _SMALL_PT),
        *_set(pdf, [_officer(data)], "I", _SMALL_PT, _LEFT_COL_W, 9),
    ]
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


def render_slip(data: SlipData) -> bytes:
    """The slip as a one-page (or more, if the reason is very long) A4 PDF."""
    pdf = _new_pdf(data)
    pdf.add_page()
    _header(pdf, data)

    pdf.set_font(_SERIF, "B", _TITLE_PT)
    pdf.multi_cell(0, _TITLE_PT * _LINE * _PT, _clean(data.title), align=Align.C, new_x=XPos.LMARGIN)
    pdf.ln(5)
    pdf.set_font(_SERIF, "", _BODY_PT)
    pdf.multi_cell(0, _BODY_PT * _LINE * _PT, _addressee(data), align=Align.C, new_x=XPos.LMARGIN)
    pdf.ln(4)

    with pdf.text_columns(text_align=Align.J, line_height=_LINE) as body:
        for text in _body(data):
            with body.paragraph(first_line_indent=_INDENT, bottom_margin=1.5) as paragraph:
                paragraph.write(text)
    _foot(pdf, data)
    return bytes(pdf.output())
