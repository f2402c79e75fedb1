"""The printable apology slip (template 04 of Thông tư 01/2018/TT-VPCP) as an A4 PDF: what it says.

The template is Vietnamese by law, so the slip is always printed in Vietnamese; its fixed words come from the slip
catalog (handlers/texts/slip.vi.yaml, with an English translation beside it for readers of the code). How it is
laid out on the page is handlers.staff.slip_layout.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from handlers.messages import nfc
from handlers.staff.slip_layout import FONT_DIR, SMALL_PT, new_pdf, set_body, set_foot, set_header
from handlers.texts import Texts
from handlers.words import fold

__all__ = ["FONT_DIR", "SlipData", "looks_like_organisation", "official_date", "render_slip"]

SLIP_LOCALE = "vi"  # Thông tư 01/2018/TT-VPCP: the slip is a Vietnamese official document


@cache
def _catalogs() -> Texts:
    return Texts.load()


def say(key: str, /, **values: Any) -> str:
    """The slip's wording of ``slip.<key>``, with ``values`` filled in."""
    return _catalogs()(SLIP_LOCALE, f"slip.{key}", **values)


DEFAULT_TITLE = say("title")

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
    return say("official_date", day=f"{day.day:02d}", month=month, year=day.year)


def looks_like_organisation(name: str) -> bool:
    """Whether an applicant's name is an organisation's ("Công ty TNHH …", "HTX …"), when nobody said which."""
    folded = fold(name)
    return any(folded == prefix or folded.startswith(prefix + " ") for prefix in _ORGANISATION_PREFIXES)


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


def _texts(data: SlipData) -> list[str]:
    """Every piece of variable text the slip prints."""
    fields = [data.title, data.unit_name, data.number, data.place, data.signer_name, data.reception_point]
    lines = [*map(_upper, _lines(data.authority)), *_lines(data.signer_title), say("sign_hint"), _officer(data)]
    return [*map(_clean, fields), *lines, _addressee(data), *_body(data)]


def _officer(data: SlipData) -> str:
    """The line naming the officer who issued the slip ("" when nobody is named)."""
    officer = _clean(data.officer)
    return say("officer", officer=officer) if officer and officer != "?" else ""


def _where(data: SlipData) -> str:
    """Where the dossier was received, when not at the issuing unit itself: " tại Điểm tiếp nhận …"."""
    point = _clean(data.reception_point)
    return " " + say("where", point=point) if point else ""


def _receipt(data: SlipData) -> dict[str, str]:
    """What both wordings say of the dossier's receipt: when, by which unit and where, for which procedure."""
    return {
        "received": _dmy(data.received_on),
        "unit": _clean(data.unit_name),
        "where": _where(data),
        "procedure": _clean(data.procedure),
        "field": _clean(data.field),
    }


def _you(data: SlipData) -> str:
    """How the body calls the applicant."""
    return say("you.organisation") if data.organisation else say("you.person")


def _addressee(data: SlipData) -> str:
    name = _clean(data.applicant)
    if data.organisation:
        text = say("addressee", name=name or _you(data))
    else:
        text = say("addressee.person", name=name) if name else say("addressee", name=_you(data))
    contact = _clean(data.contact or "")
    return f"{text} ({contact})" if contact else text


def _body(data: SlipData) -> list[str]:
    if data.kind == "error" or data.new_due_on is None:
        return _error_body(data)
    unit, you = _clean(data.unit_name), _you(data)
    owner = (_clean(data.applicant) or you) if data.organisation else you
    due = _dmy(data.due_on)
    # issued ahead, the result *cannot* be returned on the due date; after it, it *was not* returned
    when = "ahead" if data.issued_on <= data.due_on else "past"
    return [
        say("received", **_receipt(data), owner=owner),
        say("code", code=_clean(data.dossier_code)),  # a line of its own: a long code would stretch a justified line
        say("due", due=due),
        say(f"late.{when}", unit=unit, you=you, due=due, receipt=say("receipt")),
        say("reason", reason=_clean(data.reason, keep_newlines=True)),
        say(f"sorry.{when}", unit=unit, you=you),
        say("new_due", unit=unit, you=you, new_due=_dmy(data.new_due_on)),
        say("thanks"),
    ]


def _error_body(data: SlipData) -> list[str]:
    """The wording of an apology for an error in handling the dossier (seed 004: "sai sót"): no new date."""
    unit, you = _clean(data.unit_name), _you(data)
    return [
        say("error.received", **_receipt(data), you=you, code=_clean(data.dossier_code)),
        say("error.happened", unit=unit),
        say("error.reason", reason=_clean(data.reason, keep_newlines=True)),
        say("error.sorry", unit=unit, you=you),
        say("error.remedy", unit=unit),
        say("thanks"),
    ]


def render_slip(data: SlipData) -> bytes:
    """The slip as a one-page (or more, if the reason is very long) A4 PDF."""
    authority = [_upper(line) for line in _lines(data.authority)]
    author = " ".join(authority)
    pdf = new_pdf(_texts(data), _clean(data.title), author, data.issued_on)
    pdf.add_page()
    motto = (say("motto.state"), say("motto.words"))
    number = say("number", number=_clean(data.number))
    dated = say("dated", place=_clean(data.place), date=official_date(data.issued_on))
    set_header(pdf, authority or [_upper(_clean(data.unit_name))], motto, number, dated)
    set_body(pdf, _clean(data.title), _addressee(data), _body(data))
    recipients = [
        (say("recipients"), "BI", 12.0),
        (say("recipients.addressee"), "", SMALL_PT),
        (say("recipients.archive"), "", SMALL_PT),
    ]
    signer = [_upper(line) for line in _lines(data.signer_title)]
    set_foot(pdf, signer, _clean(data.signer_name), say("sign_hint"), recipients, _officer(data))
    return bytes(pdf.output())
