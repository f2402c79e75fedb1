"""Who holds which role where. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from storage.repositories.base import Repository, as_value
from storage.tables.people import CHATS
from storage.tables.staff import ROLES
from storage.tables.units import UNITS
from storage.values import Chat, Role, RoleLine, StaffChat


class RoleRepository(Repository):
    """Who holds which role where."""

    async def grant(
        self,
        identity_id: int,
        unit_id: int,
        role: str,
        officer_name: str | None,
        lead: bool,
        now: datetime,
        granted_by: str | None = None,
    ) -> None:
        """Give a chat a role in a unit (again, if it was revoked); the officer's name and lead flag updated."""
        values = {
            "officer_name": officer_name,
            "lead": lead,
            "granted_at": now,
            "revoked_at": None,
            "granted_by": granted_by,
            "revoked_by": None,
        }
        await self._upsert(ROLES, {"identity_id": identity_id, "unit_id": unit_id, "role": role}, values)

    async def lines(
        self,
        unit_ids: Sequence[int] | None,
        *,
        role_ids: Sequence[int] | None = None,
        identity_id: int | None = None,
        live: bool = True,
    ) -> list[RoleLine]:
        """Roles with their unit and chat, by unit code then grant: in ``unit_ids`` (None: all), live ones only.

        ``role_ids``, ``identity_id``: only those roles, only that chat's.
        """
        query = (
            select(
                ROLES,
                UNITS.c.code.label("unit_code"),
                UNITS.c.name.label("unit_name"),
                CHATS.c.channel,
                CHATS.c.external_id,
            )
            .join(UNITS, UNITS.c.id == ROLES.c.unit_id)
            .join(CHATS, CHATS.c.id == ROLES.c.identity_id)
        )
        if unit_ids is not None:
            query = query.where(ROLES.c.unit_id.in_(list(unit_ids)))
        if role_ids is not None:
            query = query.where(ROLES.c.id.in_(list(role_ids)))
        if identity_id is not None:
            query = query.where(ROLES.c.identity_id == identity_id)
        if live:
            query = query.where(ROLES.c.revoked_at.is_(None))
        return await self._all(RoleLine, query.order_by(UNITS.c.code, ROLES.c.granted_at, ROLES.c.id))

    async def revoke(self, role_id: int, by: str, now: datetime) -> bool:
        """Take a live role away; False when it was not live."""
        statement = (
            update(ROLES)
            .where(ROLES.c.id == role_id, ROLES.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=by)
        )
        return bool(await self._run(statement))

    async def of_chat(self, identity_id: int) -> list[Role]:
        """The live roles of a chat."""
        query = select(ROLES).where(ROLES.c.identity_id == identity_id, ROLES.c.revoked_at.is_(None))
        return await self._all(Role, query.order_by(ROLES.c.id))

    async def chats(self, unit_ids: Sequence[int], roles: Sequence[str]) -> list[StaffChat]:
        """Reachable chats holding one of ``roles`` in one of ``unit_ids``, oldest grant first."""
        query = (
            select(ROLES, CHATS.c.channel, CHATS.c.external_id, CHATS.c.person_id, CHATS.c.status, CHATS.c.locale)
            .add_columns(CHATS.c.pending, CHATS.c.consent_at, CHATS.c.id.label("chat_id"))
            .join(CHATS, CHATS.c.id == ROLES.c.identity_id)
            .where(
                ROLES.c.unit_id.in_(unit_ids),
                ROLES.c.role.in_(roles),
                ROLES.c.revoked_at.is_(None),
                CHATS.c.status == "active",
            )
            .order_by(ROLES.c.granted_at, ROLES.c.id)
        )
        result = []
        for row in await self.connection.execute(query):
            m = row._mapping
            chat = Chat(
                m["chat_id"],
                m["channel"],
                m["external_id"],
                m["person_id"],
                m["status"],
                m["locale"],
                m["pending"],
                m["consent_at"],
            )
            result.append(StaffChat(chat, as_value(Role, row)))
        return result
