"""Wake the delivering instance when another one queues a message (PostgreSQL LISTEN/NOTIFY).

Every transaction that queues an outbox row also sends ``NOTIFY sipas_outbox`` (delivered by PostgreSQL
at commit, once per transaction), so a reply written by any web instance goes out at once rather than at
the deliverer's next look at the table. On SQLite there is one instance: its own commits wake it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.repositories.outbox import OUTBOX_CHANNEL

log = logging.getLogger(__name__)


class OutboxListener:
    """Calls ``wake`` whenever any instance commits a queued message."""

    def __init__(self, database: Database, wake: Callable[[], None]) -> None:
        self.database = database
        self.wake = wake
        self._connection: AsyncConnection | None = None
        self._raw: Any = None

    async def start(self) -> bool:
        """Listen (PostgreSQL only); False when there is nothing to listen to or it failed."""
        if self.database.dialect != "postgresql":
            return False
        try:
            self._connection = await self.database.engine.connect()
            fairy = await self._connection.get_raw_connection()
            self._raw = fairy.driver_connection
            await self._raw.add_listener(OUTBOX_CHANNEL, self._on_notify)
        except (SQLAlchemyError, OSError) as error:
            log.warning("cannot listen for queued messages (%s): the table is read every second", type(error).__name__)
            await self.stop()
            return False
        return True

    def _on_notify(self, *_args: object) -> None:
        self.wake()

    async def stop(self) -> None:
        """Stop listening and give the connection back."""
        if self._raw is not None:
            try:
                await self._raw.remove_listener(OUTBOX_CHANNEL, self._on_notify)
            except Exception:
                log.debug("removing the outbox listener failed", exc_info=True)
            self._raw = None
        if self._connection is not None:
            try:
                await self._connection.close()
            except (SQLAlchemyError, OSError):
                await self._connection.invalidate()
            self._connection = None
