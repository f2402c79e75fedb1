"""Answers to requests sent with an ``Idempotency-Key``. Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.repositories.base import Repository, dialect_insert
from storage.tables.service import IDEMPOTENCY
from storage.values import StoredResponse


class IdempotencyRepository(Repository):
    """Answers to requests sent with an ``Idempotency-Key``."""

    async def get(self, scope: str, key: str) -> StoredResponse | None:
        """The stored answer for (scope, key), if any."""
        row = (
            await self.connection.execute(
                select(IDEMPOTENCY).where(IDEMPOTENCY.c.scope == scope, IDEMPOTENCY.c.key == key)
            )
        ).first()
        return StoredResponse(row.request_hash, row.status_code, row.response) if row else None

    async def put(
        self, scope: str, key: str, request_hash: str, status_code: int, response: dict[str, Any], now: datetime
    ) -> bool:
        """Store an answer; False when another request stored one for the same key first."""
        statement = (
            dialect_insert(self.dialect, IDEMPOTENCY)
            .values(
                scope=scope,
                key=key,
                request_hash=request_hash,
                status_code=status_code,
                response=response,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IDEMPOTENCY.c.id)
        )
        return (await self.connection.execute(statement)).first() is not None
