"""What a chat is in the middle of (an apology, a reply to a complaint). Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.repositories.base import Repository
from storage.tables.staff import DRAFTS
from storage.values import Draft


class DraftRepository(Repository):
    """What a chat is in the middle of.

    The draft read with the chat (``ChatRepository.with_survey``) is handed to ``know``: ``get`` then answers
    from it instead of asking again, until this unit of work changes that chat's draft.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        self._known: dict[int, Draft | None] = {}

    def know(self, identity_id: int, draft: Draft | None) -> None:
        """The chat's draft as read in this transaction (None: it has none)."""
        self._known[identity_id] = draft

    async def get(self, identity_id: int) -> Draft | None:
        """The chat's draft, if any."""
        if identity_id in self._known:
            return self._known[identity_id]
        return await self._first(Draft, select(DRAFTS).where(DRAFTS.c.identity_id == identity_id))

    async def put(self, identity_id: int, kind: str, data: dict[str, Any], now: datetime) -> None:
        """Start or change the chat's draft."""
        self._known.pop(identity_id, None)
        values = {"kind": kind, "data": data, "updated_at": now}
        await self._upsert(DRAFTS, {"identity_id": identity_id}, values)

    async def drop(self, identity_id: int) -> None:
        """Forget the chat's draft."""
        self._known.pop(identity_id, None)
        await self._run(delete(DRAFTS).where(DRAFTS.c.identity_id == identity_id))
