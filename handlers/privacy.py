"""Personal data kept out of what staff, leaders, logs and exports see (docs/OPERATIONS.md §8): masks and redaction."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Vietnamese phone numbers as people write them: 0912 345 678, 0912.345.678, +84 912 345 678, 84912345678
_PHONE = re.compile(r"(?<![\w+])(?:\+?84|0)(?:[\s.\-]?\d){9,10}(?!\w)")
# citizen ID (CCCD, 12 digits) and the old ID card (9 digits)
_ID_NUMBER = re.compile(r"(?<!\w)(?:\d{12}|\d{9})(?!\w)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "Nguyễn Văn A": a common surname followed by one to three capitalised words
_SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đào",
    "Đinh",
    "Mai",
    "Trương",
    "Lâm",
    "Hà",
    "Tô",
    "Lương",
    "Trịnh",
    "Đoàn",
    "Cao",
    "Quách",
    "Tạ",
    "Chu",
    "Thái",
    "Triệu",
    "Vương",
    "Kiều",
    "Lưu",
    "Văn",
    "Nông",
    "Hứa",
    "Mạc",
    "Khổng",
    "Tăng",
    "Lục",
    "La",
    "Giang",
    "Thân",
    "Âu",
    "Viên",
]
_UPPER = "A-ZÀ-ỸĐ"
_WORD = rf"[{_UPPER}][a-zà-ỹđ]*"
_NAME = re.compile(rf"(?<!\w)(?:{'|'.join(_SURNAMES)})(?:\s+{_WORD}){{1,3}}(?!\w)")


def nfc(text: str) -> str:
    """Text in Unicode NFC."""
    return unicodedata.normalize("NFC", text)


def mask_phone(phone: str | None) -> str:
    """A phone number with only its last three digits shown: ``0912 345 678`` → ``09** *** 678``."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return ""
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    return digits[:2] + "*" * max(0, len(digits) - 5) + digits[-3:]


def mask_name(name: str | None) -> str:
    """A name reduced to initials but the given name's first letter: ``Nguyễn Văn An`` → ``N. V. A.``."""
    words = nfc(name or "").split()
    return " ".join(f"{w[0]}." for w in words)


def redact(text: str | None, names: Iterable[str | None] = ()) -> str:
    """``text`` with phone numbers, ID numbers, e-mail addresses and people's names masked.

    ``names`` are names known to belong to the people concerned (the applicant, the officer): they are
    masked wherever they appear; other Vietnamese full names are found by their surname.
    """
    result = nfc(text or "")
    for name in sorted({nfc(n).strip() for n in names if n and n.strip()}, key=len, reverse=True):
        result = re.sub(re.escape(name), mask_name(name), result, flags=re.IGNORECASE)
    result = _EMAIL.sub("[email]", result)
    result = _PHONE.sub(lambda m: mask_phone(m.group(0)), result)
    result = _ID_NUMBER.sub(lambda m: m.group(0)[:2] + "*" * (len(m.group(0)) - 4) + m.group(0)[-2:], result)
    return _NAME.sub(lambda m: mask_name(m.group(0)), result)


def mask_contacts(text: str | None) -> str:
    """``text`` with phone numbers, ID numbers and e-mail addresses masked (names kept: officers are named)."""
    result = _EMAIL.sub("[email]", nfc(text or ""))
    result = _PHONE.sub(lambda m: mask_phone(m.group(0)), result)
    return _ID_NUMBER.sub(lambda m: m.group(0)[:2] + "*" * (len(m.group(0)) - 4) + m.group(0)[-2:], result)
