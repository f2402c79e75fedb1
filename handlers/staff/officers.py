"""Officers and what they reach: the units a role covers, whom to tell about a dossier, a citizen as they see one.

A staff or leader role in a unit covers the units below it; a dossier's news goes to its handling officer and
the one-stop shop's leads (else to the unit's staff); officers see a citizen by initials and the last digits
of the phone, never in full.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers import limits
from handlers.chat.turn import ChatTurn
from handlers.context import Services
from handlers.intake.dossiers import CODE_RE
from handlers.messages import nfc
from handlers.privacy import mask_name, mask_phone
from handlers.words import fold
from storage.uow import UnitOfWork
from storage.values import Dossier, Role, StaffChat

STAFF_ROLES = ("staff", "admin")
LEADER_ROLES = ("leader", "admin")


async def units_below(uow: UnitOfWork, roles: list[Role], wanted: tuple[str, ...]) -> list[int]:
    """Every unit where one of ``roles`` of kind ``wanted`` applies (its unit and the units below)."""
    ids: set[int] = set()
    for role in roles:
        if role.role in wanted:
            ids.update(await uow.units.subtree_ids(role.unit_id))
    return sorted(ids)


async def units_above(uow: UnitOfWork, unit_id: int) -> list[int]:
    """``unit_id`` and the units above it (a role there covers this unit)."""
    chain = [unit_id]
    unit = await uow.units.get(unit_id)
    while unit.parent_id is not None and unit.parent_id not in chain:
        chain.append(unit.parent_id)
        unit = await uow.units.get(unit.parent_id)
    return chain


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two officers' names are the same, accents, case and spacing aside."""
    return bool(a and b) and " ".join(fold(a or "").split()) == " ".join(fold(b or "").split())


async def staff_to_tell(uow: UnitOfWork, dossier: Dossier | None, unit_id: int) -> list[StaffChat]:
    """Whom to tell about a dossier: its handling officer and the one-stop-shop leads, else the unit's staff."""
    units = await units_above(uow, unit_id)
    staff = await uow.roles.chats(units, STAFF_ROLES)
    chosen = [
        s
        for s in staff
        if s.role.lead
        or (dossier is not None and s.role.unit_id == unit_id and same_person(s.role.officer_name, dossier.handler))
    ]
    if not chosen:
        chosen = [s for s in staff if s.role.unit_id == unit_id] or staff
    unique: dict[int, StaffChat] = {}
    for s in chosen:
        unique.setdefault(s.chat.id, s)
    return list(unique.values())


def masked_citizen(person: Any) -> str:
    """A citizen as staff see them: initials and the last digits of the phone."""
    if person is None or person.erased_at is not None:
        return "—"
    parts = [mask_name(person.name), mask_phone(person.phone)]
    return " · ".join(p for p in parts if p) or "—"


def texts_for(services: Services, locale: str) -> Callable[..., str]:
    """The wording in one officer's language, as ``t(key, **values)``."""
    return lambda key, **values: services.texts(locale, key, **values)


async def dossier_in_reach(turn: ChatTurn, roles: list[Role], code: str) -> Dossier | None:
    """The dossier ``code`` when it belongs to one of the units the staff member works for."""
    dossier = await turn.uow.dossiers.get_by_code(nfc(code).strip()) if CODE_RE.fullmatch(code) else None
    if dossier is None or dossier.unit_id not in await units_below(turn.uow, roles, STAFF_ROLES):
        limits.failed(turn, "lookup")  # a code typed wrong, or probed: counted against the chat
        return None
    return dossier
