"""A person's traces in stored texts — their name and phone number — found however written, and taken out.

Erasure (handlers.citizen.erasure) cleans with this every copy it cannot simply delete: an officer's reason on a slip,
a note on a dossier's event, a message sent to an officer, a workbook kept for leaders. The name is found
with or without diacritics, in any case, composed (NFC) or decomposed (NFD); the phone number as 0…, 84… or
+84…, with or without spaces, dots or dashes between its digits. Both are replaced by ``GONE``.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

GONE = "***"
_SEPARATOR = r"[\s.\-]*"
_CHARACTER_REFERENCE = re.compile(r"&#(?:x([0-9A-Fa-f]+)|([0-9]+));")


def _character(match: re.Match[str]) -> str:
    """A character reference as its letter; one that stands for markup or a control character stays as it is."""
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    char = chr(code) if code <= 0x10FFFF else ""
    if not char or char in "<>&\"'" or unicodedata.category(char) in ("Cc", "Cs"):
        return match.group(0)
    return char


def _fold_char(char: str) -> str:
    """A letter without its diacritics, in lower case (đ → d)."""
    if char in "đĐ":
        return "d"
    decomposed = unicodedata.normalize("NFD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@cache
def _same_letters() -> dict[str, str]:
    """For each bare letter, a character class of every Latin letter (Vietnamese ones included) that folds to it."""
    letters: dict[str, set[str]] = {}
    for code in (*range(0x41, 0x5B), *range(0x61, 0x7B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        char = chr(code)
        if not char.isalpha():
            continue
        bare = _fold_char(char)
        if len(bare) == 1 and bare.isascii():
            letters.setdefault(bare, set()).add(char)
    return {bare: "[" + "".join(sorted(chars)) + "]" for bare, chars in letters.items()}


def _letter(char: str, same: dict[str, str]) -> str:
    if char.isalpha():
        return same.get(_fold_char(char), re.escape(char))
    if char in "'’":  # Ksor H'Bia: however the apostrophe was typed, or escaped in a workbook's XML
        return r"(?:['’]|&apos;|&#39;)"
    return re.escape(char)


def _name_pattern(name: str) -> str | None:
    words = unicodedata.normalize("NFC", name).split()
    if not words:
        return None
    same = _same_letters()
    parts = []
    for word in words:
        parts.append("".join(_letter(c, same) for c in word))
    return r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)"


def _phone_pattern(phone: str) -> str | None:
    digits = re.sub(r"\D", "", phone)
    national = digits[2:] if digits.startswith("84") else digits.removeprefix("0")
    if len(national) < 8:
        return None
    return r"(?<!\d)(?:\(?\+?84\)?|0)" + _SEPARATOR + _SEPARATOR.join(national) + r"(?!\d)"


@dataclass(frozen=True)
class Traces:
    """What of one or more people to take out of texts: their names and phone numbers."""

    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, names: Iterable[str | None], phones: Iterable[str | None]) -> Traces:
        """The traces of people with these names and phones (None and empty ones are ignored)."""
        parts = [p for p in (_name_pattern(n) for n in names if n and n.strip()) if p]
        parts += [p for p in (_phone_pattern(n) for n in phones if n and n.strip()) if p]
        return cls(re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None)

    def clean(self, text: str) -> str:
        """``text`` with every trace replaced by ``GONE`` (read as NFC: a decomposed name is found too)."""
        if self.pattern is None or not text:
            return text
        composed = unicodedata.normalize("NFC", text)
        cleaned = self.pattern.sub(GONE, composed)
        return cleaned if cleaned != composed else text

    def clean_value(self, value: Any) -> Any:
        """A JSON value (dict, list, text…) with every text in it cleaned, keys included."""
        if isinstance(value, str):
            return self.clean(value)
        if isinstance(value, dict):
            return {self.clean(str(k)): self.clean_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.clean_value(v) for v in value]
        return value

    def clean_workbook(self, content: bytes) -> bytes | None:
        """An .xlsx with every trace taken out of every part (cells, shared strings, properties); None if none.

        The parts are XML (UTF-8), where openpyxl writes every letter outside ASCII as a character reference
        (``Ng&#7885;c``): those are read as letters first. A name or a phone number never holds markup, so it is
        then replaced in the text as stored.
        """
        if self.pattern is None:
            return None
        source = zipfile.ZipFile(io.BytesIO(content))
        changed: dict[str, bytes] = {}
        for info in source.infolist():
            if info.filename.endswith((".xml", ".rels")):
                text = _CHARACTER_REFERENCE.sub(_character, source.read(info).decode("utf-8"))
                if (cleaned := self.clean(text)) != text:
                    changed[info.filename] = cleaned.encode("utf-8")
        if not changed:
            return None
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in source.infolist():  # the same entries, dates and compression: only the text differs
                target.writestr(info, changed.get(info.filename, source.read(info)))
        return out.getvalue()
