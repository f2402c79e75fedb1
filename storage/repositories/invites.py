"""One-time codes that give a role. Never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from storage.repositories.base import Repository
from storage.tables.staff import INVITES
from storage.values import Invite


class InviteRepository(Repository):
    """One-time codes that give a role."""

    async def add(
        self,
        code_hash: str,
        role: str,
        unit_id: int,
        officer_name: str | None,
        lead: bool,
        now: datetime,
        until: datetime,
        created_by: str | None = None,
    ) -> None:
        """Keep a new code's hash and what it grants."""
        await self._run(
            insert(INVITES).values(
                code_hash=code_hash,
                role=role,
                unit_id=unit_id,
                officer_name=officer_name,
                lead=lead,
                created_at=now,
                expires_at=until,
                created_by=created_by,
            )
        )

    async def take(self, code_hash: str, identity_id: int, now: datetime) -> Invite | None:
        """Use the code (once, before it expires); what it grants, or None."""
        taken = await self._run(
            update(INVITES)
            .where(INVITES.c.code_hash == code_hash, INVITES.c.used_at.is_(None), INVITES.c.expires_at > now)
            .values(used_at=now, used_by=identity_id)
        )
        if not taken:
            return None
        return await self._first(Invite, select(INVITES).where(INVITES.c.code_hash == code_hash))
