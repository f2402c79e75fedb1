"""Button data, typed: one dataclass per kind of button, written within Telegram's 64 bytes and read back or refused.

A button's data travels through the platform and comes back when it is pressed, perhaps weeks later, perhaps
edited by hand. Every kind of button is a frozen dataclass that names its ``KIND`` (the first field of the data)
and its fields in order; ``encode()`` writes ``KIND:field:field`` and :func:`decode` reads any data back into the
kind it names, or raises :class:`StaleButton` for anything that was never offered. No handler parses strings.

Field types: ``int`` (a row id as our buttons write it: ASCII digits, no leading zero), ``bool`` (``yes``/``no``),
``date`` (``YYYYMMDD``), ``str`` (a token of letters, digits, ``_``, ``-`` and ``.``), a ``Literal`` of such
tokens, or a class with ``encode()`` and a ``decode(text)`` class method (raising ``ValueError``). A field may be
optional (``X | None = None``): it is then left out of the data, and only trailing fields may be.

The spellings are the ones the product sent before the codec, so a button already in a person's chat still works.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from datetime import date, datetime
from typing import Any, ClassVar, Literal, Self, get_args, get_origin

from handlers.messages import row_id

MAX_BYTES = 64  # Telegram's limit on callback_data; Zalo's is larger
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{1,48}")
_DAY = re.compile(r"[0-9]{8}")
_KINDS: dict[str, type[Button]] = {}


class StaleButton(Exception):
    """Data no button of ours carries now: an old message, a kind retired, or data written by hand.

    ``kind``: the kind of button the data names, when it names one (its room answers the press in its own words).
    """

    def __init__(self, data: str, kind: type[Button] | None = None) -> None:
        super().__init__(data)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class Button:
    """A kind of button. Subclasses are frozen dataclasses that set ``KIND``; each kind is registered once."""

    KIND: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("KIND")
        if kind is None:
            return  # an abstract helper class
        if not _TOKEN.fullmatch(kind) or ":" in kind:
            raise TypeError(f"{cls.__name__}: KIND {kind!r} is not a token")
        if kind in _KINDS and _KINDS[kind].__qualname__ != cls.__qualname__:
            raise TypeError(f"{cls.__name__}: KIND {kind!r} is already {_KINDS[kind].__name__}'s")
        _KINDS[kind] = cls

    def encode(self) -> str:
        """The button's data: ``KIND:field:field``, trailing fields left unset left out."""
        parts = [self.KIND]
        for field, kind in _fields(type(self)):
            value = getattr(self, field.name)
            if value is None:
                break
            parts.append(_write(kind, value))
        data = ":".join(parts)
        if len(data.encode("utf-8")) > MAX_BYTES:
            raise ValueError(f"{type(self).__name__}: {len(data.encode())} bytes of button data (at most {MAX_BYTES})")
        return data

    @classmethod
    def read(cls, parts: list[str]) -> Self:
        """The button from the data's fields after its kind; ``ValueError`` for anything but what ``encode`` writes."""
        fields = _fields(cls)
        required = sum(1 for field, _ in fields if field.default is dataclasses.MISSING)
        if not required <= len(parts) <= len(fields):
            raise ValueError(f"{len(parts)} fields")
        values = {field.name: _read(kind, text) for (field, kind), text in zip(fields, parts, strict=False)}
        return cls(**values)


def decode(data: str) -> Button:
    """The button ``data`` names, or :class:`StaleButton`."""
    kind, *parts = data.split(":")
    cls = _KINDS.get(kind)
    if cls is None:
        raise StaleButton(data)
    try:
        return cls.read(parts)
    except ValueError as error:
        raise StaleButton(data, cls) from error


def _fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    out = []
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        if get_origin(kind) in (types.UnionType, typing.Union):
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        out.append((field, kind))
    return out


def _write(kind: Any, value: Any) -> str:
    if kind is bool:
        return "yes" if value else "no"
    if kind is date:
        return f"{value:%Y%m%d}"
    if hasattr(kind, "encode") and hasattr(kind, "decode") and not isinstance(value, str | int):
        return str(value.encode())
    text = str(value)
    if not _TOKEN.fullmatch(text):
        raise ValueError(f"{text!r} is not a token")
    return text


def _read(kind: Any, text: str) -> Any:
    if kind is int:
        number = row_id(text)
        if number is None:
            raise ValueError(text)
        return number
    if kind is bool:
        if text not in ("yes", "no"):
            raise ValueError(text)
        return text == "yes"
    if kind is date:
        if not _DAY.fullmatch(text):  # strptime takes fewer digits, and digits of any script
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d").date()
    if get_origin(kind) is Literal:
        if text not in get_args(kind):
            raise ValueError(text)
        return text
    if kind is str:
        if not _TOKEN.fullmatch(text):
            raise ValueError(text)
        return text
    return kind.decode(text)
