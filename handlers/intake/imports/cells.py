"""One cell of an export read as what it means: text, a date, a national status, a channel, a phone number.

Each reader gives a value, None for an empty cell, or ValueError when the cell means nothing it knows; the row
(handlers/intake/imports/rows.py) turns a refusal into the row's error, naming the column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from handlers.contacts import normalize_phone
from handlers.messages import nfc, storable
from handlers.words import fold

YEARS = range(1900, 3000)  # as the REST API: far enough either way, and clear of what a database can store

Cell = object
Moment = date | datetime  # a date alone, or a date and time (naive: local time)

# the national status codes (docs/METHOD.md, the dossier; named in the catalogs as ``import.status.<code>``)
# -> the state the importer makes of them
STATUS_STATES = {
    1: "received",
    2: "received",
    3: "cancelled",
    4: "received",
    5: "supplement_requested",
    6: "received",
    7: "cancelled",
    8: "cancelled",
    9: "result_ready",
    10: "returned",
}
# status text, folded, first match wins: "chờ trả kết quả" is resolved (9) before "trả kết quả" (10) is tried
_STATUS_WORDS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern), code)
    for pattern, code in (
        (r"khong (duoc )?tiep nhan|tu choi", 3),
        (r"\brut\b", 7),
        (r"dung xu ly|tam dung|\bhuy\b|cancelled", 8),
        (r"bo sung|supplement", 5),
        (r"nghia vu tai chinh", 6),
        (r"cho tra|xu ly xong|\bda xu ly\b|hoan thanh|result.ready", 9),
        (r"tra ket qua|\bda tra\b|returned", 10),
        (r"xu ly", 4),
        (r"tiep nhan|received", 2),
        (r"dang ky|\bmoi\b", 1),
    )
)
_CHANNEL_WORDS = (
    (re.compile(r"truc.tiep|tai quay|\bquay\b"), "truc_tiep"),
    (re.compile(r"truc.tuyen|online|qua mang|dich vu cong|\bdvc"), "truc_tuyen"),
    (re.compile(r"buu.chinh|buu dien"), "buu_chinh"),
)
# what an export calls an applicant that is an organisation, or a person (folded); the slip addresses each its way
_APPLICANT_KIND_WORDS = {
    "to chuc": "organisation",
    "doanh nghiep": "organisation",
    "co quan": "organisation",
    "co quan, to chuc": "organisation",
    "hop tac xa": "organisation",
    "organisation": "organisation",
    "organization": "organisation",
    "ca nhan": "person",
    "cong dan": "person",
    "nguoi dan": "person",
    "person": "person",
}
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T,]+(\d{1,2})[:hg](\d{2})(?::(\d{2}))?)?")
_TIME_DMY = re.compile(r"(\d{1,2})[:hg](\d{2})(?::(\d{2}))?[ ,]+(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?")


def cell_text(value: Cell) -> str | None:
    """A cell as text (NFC, trimmed); None when it is empty. A whole number typed as 12.0 reads as 12."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = nfc(storable(str(value))).strip()  # a stray NUL (a database refuses it) is dropped
    return text or None


def _date_parts(numbers: Sequence[str | None], order: tuple[int, int, int, int, int, int]) -> Moment:
    day, month, year, hour, minute, second = (numbers[i] for i in order)
    day_ = date(int(year or 0), int(month or 0), int(day or 0))
    if hour is None:
        return day_
    return datetime.combine(day_, time(int(hour), int(minute or 0), int(second or 0)))


def parse_moment(value: Cell) -> Moment | None:
    """A date or a date and time from a cell; None when empty; ValueError when it is not one.

    Accepted: Excel date/datetime cells, dd/mm/yyyy and dd-mm-yyyy with an optional HH:MM[:SS] (after the date
    or before it), and ISO 8601 (yyyy-mm-dd[ HH:MM[:SS]], ``T`` too, an offset kept). A time of exactly
    midnight is read as the date alone: exports write a date as the midnight that starts it. Years 1900–2999.
    """
    if value is None:
        return None
    parsed: Moment
    if isinstance(value, datetime):
        parsed = value
        if value.tzinfo is None and value.microsecond:
            # Excel keeps times as fractions of a day: round to the second it means
            parsed = (value + timedelta(microseconds=500_000)).replace(microsecond=0)
    elif isinstance(value, date):
        parsed = value
    else:
        text = cell_text(value)
        if text is None:
            return None
        parsed = _parse_text_moment(text)
    if parsed.year not in YEARS:
        raise ValueError(f"{parsed.isoformat()}: the year must be between {YEARS.start} and {YEARS.stop - 1}")
    if isinstance(parsed, datetime) and parsed.tzinfo is None and parsed.time() == time(0):
        return parsed.date()
    return parsed


def _parse_text_moment(text: str) -> Moment:
    match = _DMY.fullmatch(text)
    if match:
        return _date_parts(match.groups(), (0, 1, 2, 3, 4, 5))
    match = _TIME_DMY.fullmatch(text)
    if match:
        return _date_parts(match.groups(), (3, 4, 5, 0, 1, 2))
    match = _ISO.fullmatch(text)
    if match:
        return _date_parts(match.groups(), (2, 1, 0, 3, 4, 5))
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))  # ISO with an offset; ValueError otherwise
    if moment.tzinfo is None:
        raise ValueError(text)  # a naive ISO form the patterns above refused (week dates and the like)
    return moment


def parse_status(value: Cell) -> int:
    """The national status code (1–10) a cell means, as a code or as text; ValueError when it means none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():  # nan and infinity too
            raise ValueError(str(value))
        code = int(value)
        if code in STATUS_STATES:
            return code
        raise ValueError(str(value))
    text = cell_text(value) or ""
    leading = re.match(r"(\d{1,2})(?!\d)(?![.,]\d)", text)  # "10", "10 - Đã trả kết quả"
    if leading:
        code = int(leading.group(1))
        if code in STATUS_STATES:
            return code
        raise ValueError(text)
    folded = fold(text).replace("_", " ")
    for pattern, code in _STATUS_WORDS:
        if pattern.search(folded):
            return code
    raise ValueError(text)


def parse_applicant_kind(value: Cell) -> str | None:
    """The applicant's kind, organisation or person, as the export names it; empty: None (not said)."""
    text = cell_text(value)
    if text is None:
        return None
    kind = _APPLICANT_KIND_WORDS.get(fold(text))
    if kind is None:
        raise ValueError(text)
    return kind


def parse_channel(value: Cell) -> str:
    """truc_tiep, truc_tuyen or buu_chinh from how the export names the channel; empty: truc_tiep."""
    text = cell_text(value)
    if text is None:
        return "truc_tiep"
    folded = fold(text)
    for pattern, channel in _CHANNEL_WORDS:
        if pattern.search(folded):
            return channel
    raise ValueError(text)


def parse_phone(value: Cell) -> str | None:
    """The phone number of a cell as 84xxxxxxxxx; None when empty; ValueError when it is not a Vietnamese one.

    A number cell has lost its leading zero (Excel drops it): nine or ten digits get it back.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():  # a fraction, nan or infinity is no number
            raise ValueError(str(value))
        digits = str(int(value))
        text: str | None = digits if digits.startswith("84") and len(digits) > 10 else "0" + digits
    else:
        text = cell_text(value)
    if text is None:
        return None
    return normalize_phone(text)
