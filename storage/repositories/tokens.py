"""Platform credentials that rotate (the Zalo OA token pair). Never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from storage.repositories.base import Repository, dialect_insert
from storage.tables.messaging import TOKENS
from storage.values import PlatformToken


class TokenRepository(Repository):
    """Platform credentials that rotate (the Zalo OA token pair)."""

    async def get(self, channel: str, *, for_update: bool = False) -> PlatformToken | None:
        """The current pair.

        ``for_update`` locks it until the transaction ends (PostgreSQL; SQLite writers hold the database's
        write lock anyway), so two instances never spend one refresh token.
        """
        query = select(TOKENS).where(TOKENS.c.channel == channel)
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        return await self._first(PlatformToken, query)

    async def seed(
        self, channel: str, access_token: str, refresh_token: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Store the first pair (from the settings) unless one is stored; False when one was."""
        statement = (
            dialect_insert(self.dialect, TOKENS)
            .values(
                channel=channel,
                access_token=access_token,
                refresh_token=refresh_token,
                expires_at=expires_at,
                status="active",
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel"])
            .returning(TOKENS.c.channel)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def replace(
        self, channel: str, access_token: str, refresh_token: str, expires_at: datetime, now: datetime
    ) -> None:
        """Keep a new pair (after a refresh, or a new grant by the OA's administrator)."""
        values = {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires_at": expires_at,
            "status": "active",
            "last_error": None,
            "refreshed_at": now,
            "updated_at": now,
        }
        if not await self._run(update(TOKENS).where(TOKENS.c.channel == channel).values(**values)):
            await self._run(insert(TOKENS).values(channel=channel, **values))

    async def mark(self, channel: str, status: str, error: str | None, now: datetime) -> None:
        """Record that the pair no longer works (``reauthorise``: the administrator must grant again)."""
        await self._run(
            update(TOKENS)
            .where(TOKENS.c.channel == channel)
            .values(status=status, last_error=(error or "")[:500] or None, updated_at=now)
        )
