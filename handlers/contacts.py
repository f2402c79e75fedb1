"""Contact data: Vietnamese phone numbers in one canonical form."""

from __future__ import annotations

import re

_PHONE_CHARS = re.compile(r"[\s.\-()]")


def normalize_phone(text: str) -> str:
    """A Vietnamese phone number as 84xxxxxxxxx (from 0xxx, +84xxx or 84xxx); ValueError when it is not one."""
    digits = _PHONE_CHARS.sub("", text.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    if not (digits.isascii() and digits.isdigit()):  # 0-9 only: not ², not full-width or other scripts' digits
        raise ValueError("a phone number has only digits, spaces, dots, dashes and a leading +")
    if digits.startswith("84"):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        raise ValueError("a Vietnamese phone number starts with 0, 84 or +84")
    if national.startswith("0") or not 9 <= len(national) <= 10:
        raise ValueError("a Vietnamese phone number has 9 or 10 digits after 0 or 84")
    return "84" + national
