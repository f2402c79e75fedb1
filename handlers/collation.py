"""Vietnamese alphabetical order, as a dictionary or an official list sorts names.

The alphabet is a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y (with f j w z of foreign words in
their Latin places): "Cấp…" comes before "Chứng thực" (â before h) and "Đất đai" after every "D…". Letters
decide first, over the whole text; only between texts with the same letters do the tones decide, in the order
ngang, huyền, hỏi, ngã, sắc, nặng (a à ả ã á ạ); then lower case before upper case. Digits and signs come
before letters, in code-point order.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_ALPHABET = tuple("aăâbcdđeêfghijklmnoôơpqrstuưvwxyz")  # one code point each, in NFC
_LETTER = {letter: 1000 + index for index, letter in enumerate(_ALPHABET)}
_TONE = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền, hỏi, ngã, sắc, nặng
_SHAPE = {"\u0306", "\u0302", "\u031b"}  # breve, circumflex, horn: part of the letter (ă â ê ô ơ ư)

Key = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def vietnamese_key(text: str) -> Key:
    """The sort key of ``text`` in Vietnamese alphabetical order (letters, then tones, then case)."""
    letters: list[int] = []
    tones: list[int] = []
    cases: list[int] = []
    for char in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", char)
        base, marks = parts[0], parts[1:]
        shape = "".join(mark for mark in marks if mark in _SHAPE)
        letter = unicodedata.normalize("NFC", base.lower() + shape)
        weight = _LETTER.get(letter)
        if weight is None:
            weight = _LETTER.get(base.lower(), ord(base.lower()) if ord(base.lower()) < 1000 else 10_000 + ord(char))
        letters.append(weight)
        tones.append(max((_TONE.get(mark, 0) for mark in marks), default=0))
        cases.append(1 if base.isupper() else 0)
    return tuple(letters), tuple(tones), tuple(cases)


def sorted_vietnamese(items: Iterable[T], key: Callable[[T], str] | None = None) -> list[T]:
    """``items`` in Vietnamese alphabetical order (of ``key(item)``, or of the items themselves)."""
    name: Callable[[T], str] = key if key is not None else (lambda item: str(item))
    return sorted(items, key=lambda item: vietnamese_key(name(item)))
