"""One-time invite codes: an administrator makes one for a role in a unit, an officer types it with ``/join``.

Only the code's hash is kept; the code is shown once, to whoever made it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from handlers.context import Services
from handlers.errors import InvalidInput, NotFound
from handlers.messages import nfc

ROLES = ("staff", "leader", "admin")
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed by hand


def invite_hash(code: str) -> str:
    """The stored form of an invite code (typed with or without the dash, in any case)."""
    normal = re.sub(r"[^A-Z0-9]", "", code.upper())
    return hashlib.sha256(normal.encode()).hexdigest()


def new_invite_code() -> str:
    """A fresh one-time code, ``XXXX-XXXX`` (about 40 bits)."""
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


class Roles:
    """Invites and roles."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def invite(
        self, role: str, unit_code: str, officer_name: str | None = None, lead: bool = False, days: int = 7
    ) -> str:
        """A one-time code giving ``role`` in the unit; only its hash is kept."""
        if role not in ROLES:
            raise InvalidInput.worded("error.invite_role", roles=", ".join(ROLES))
        if lead and role != "staff":
            raise InvalidInput.worded("error.lead_staff_only")
        if not 1 <= days <= 90:
            raise InvalidInput.worded("error.invite_days")
        now = self.services.clock()
        code = new_invite_code()
        async with self.services.uow() as uow:
            unit = await uow.units.get_by_code(unit_code)
            if unit is None:
                raise NotFound.worded("error.no_unit", unit=unit_code)
            name = nfc(officer_name).strip() if officer_name else None
            actor = self.services.actor
            until = now + timedelta(days=days)
            await uow.invites.add(invite_hash(code), role, unit.id, name, lead, now, until, created_by=actor)
            await uow.audit.add(actor, "invite.create", f"unit:{unit.code}", {"role": role, "lead": lead}, now)
            await uow.commit()
        return code
