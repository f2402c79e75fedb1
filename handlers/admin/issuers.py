"""Who issues a unit's documents: the unit itself, or the nearest unit above it that issues documents.

A commune or a ward issues documents in its own name (its People's Committee signs and seals them); a reception
point under a ward does not: an apology slip for a dossier received there is issued by the ward, dated at the
ward's place name and numbered in the ward's series. The place name on the date line follows Nghị định 30/2020:
the name of the administrative unit without its kind ("Phường Hoàn Kiếm" → "Hoàn Kiếm"), except for a unit named
by a number ("Phường 8"), which keeps its full name; an operator sets any other (a unit named after a person)
with ``sipasbot units set CODE --place …``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from handlers.messages import nfc
from storage.uow import UnitOfWork
from storage.values import Unit

__all__ = [
    "PLACE_LIMIT",
    "SIGNER_LIMIT",
    "SIGNER_TITLE_LIMIT",
    "default_place",
    "issuer_among",
    "issuing_unit",
    "place_of",
]

PLACE_LIMIT = 100
SIGNER_LIMIT = 100
SIGNER_TITLE_LIMIT = 200
# the kinds of administrative unit a name may start with, longest first ("Thành phố" before "Thị xã"…)
_KINDS = ("đặc khu", "thành phố", "thị trấn", "thị xã", "phường", "huyện", "quận", "tỉnh", "xã")


def default_place(name: str) -> str:
    """The place name of a unit's documents, from its name: "Phường Hoàn Kiếm" → "Hoàn Kiếm"; "Phường 8" stays."""
    name = " ".join(nfc(name).split())
    lowered = name.lower()
    for kind in _KINDS:
        if lowered.startswith(kind + " "):
            rest = name[len(kind) + 1 :].strip()
            return name if not rest or rest[0].isdigit() else rest
    return name


def place_of(unit: Unit) -> str:
    """The place name printed on the unit's documents: its own setting, else from its name."""
    return unit.place or default_place(unit.name)


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character that has no glyph (a tab, a newline, a control code)."""
    return any(unicodedata.category(char).startswith("C") for char in text)


def issuer_among(unit: Unit, units: Mapping[int, Unit]) -> Unit:
    """:func:`issuing_unit` over units already read (``units`` by id): for a listing of the whole tree."""
    current, seen = unit, {unit.id}
    while not current.issues_documents and current.parent_id is not None and current.parent_id not in seen:
        above = units.get(current.parent_id)
        if above is None:
            break
        current = above
        seen.add(current.id)
    return current if current.issues_documents else unit


async def issuing_unit(uow: UnitOfWork, unit: Unit) -> Unit:
    """The unit in whose name ``unit``'s documents are issued: itself, or the nearest above it that issues them.

    A tree in which no unit up the line issues documents (not possible through the command line, which keeps
    a unit with nothing above it an issuing one) leaves the unit its own issuer.
    """
    current, seen = unit, {unit.id}
    while not current.issues_documents and current.parent_id is not None and current.parent_id not in seen:
        current = await uow.units.get(current.parent_id)
        seen.add(current.id)
    return current if current.issues_documents else unit
