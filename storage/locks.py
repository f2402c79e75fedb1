"""Which instance delivers and schedules: one lock per database, held by one instance at a time.

Any number of instances serve webhooks and the API against one database; one of them at a time holds
the lock and runs delivery and the scheduler; the others stand by, trying every few seconds.

PostgreSQL: a session advisory lock, held on a connection of its own. If the holder dies (or its
connection does) PostgreSQL releases it at once and another instance takes over.

SQLite: an exclusive ``flock`` on a file beside the database (``sipasbot.db.lock`` for ``sipasbot.db``),
held open by the holder. The kernel releases it when the holder's process ends, however it ends (even
SIGKILL), so a second `sipasbot run` on the same file serves the web and stands by, and takes over when the
first dies, as on PostgreSQL. The file's existence means nothing; only the lock on it does. An in-memory
database has one instance by nature: its lock is always held.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database

log = logging.getLogger(__name__)

# "SIPAS" in ASCII as a 64-bit key: one lock per database, whatever else uses advisory locks there
LEADER_KEY = 0x5349504153


class Leadership:
    """The delivery-and-scheduling lock of one instance."""

    def __init__(self, database: Database, key: int = LEADER_KEY) -> None:
        self.database = database
        self.key = key
        self._connection: AsyncConnection | None = None
        self._file: int | None = None  # SQLite: the open lock file's descriptor, while held
        self.held = False

    @property
    def shared(self) -> bool:
        """Whether other instances may share the database (PostgreSQL), so the lock means something."""
        return self.database.dialect == "postgresql"

    @property
    def lock_file(self) -> Path | None:
        """SQLite: the file locked beside the database file; None for PostgreSQL and in-memory databases."""
        if self.database.dialect != "sqlite":
            return None
        path = make_url(self.database.url).database or ""
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return Path(path).expanduser().with_name(Path(path).name + ".lock")

    async def acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this instance holds it (now or already)."""
        if self.held:
            return True
        if not self.shared:
            return self._acquire_file()
        try:
            connection = await self.database.engine.connect()
            got = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))
            await connection.commit()  # the lock is the session's, not the transaction's
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not ask for the delivery lock: %s", type(error).__name__)
            return False
        if not got:
            await connection.close()
            return False
        self._connection, self.held = connection, True
        return True

    def _acquire_file(self) -> bool:
        """SQLite: an exclusive, non-blocking flock on the lock file (always held for an in-memory database)."""
        path = self.lock_file
        if path is None:
            self.held = True
            return True
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            log.warning("could not open the delivery lock file %s: %s", path, error.strerror or error)
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another process (or another instance in this one) holds it
            os.close(descriptor)
            return False
        self._file, self.held = descriptor, True
        return True

    async def alive(self) -> bool:
        """Whether the lock is still held: the holding connection answers (a heartbeat)."""
        if not self.held:
            return False
        if self._connection is None:
            return True  # SQLite: the flock lasts as long as this process keeps the lock file open
        try:
            await self._connection.scalar(text("SELECT 1"))
            await self._connection.commit()
        except (SQLAlchemyError, OSError) as error:
            log.error("lost the delivery lock's connection (%s): stepping down", type(error).__name__)
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        """Give the lock up (on a clean stop); another instance takes over at its next try."""
        if self._connection is not None:
            try:
                await self._connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await self._connection.commit()
            except (SQLAlchemyError, OSError):
                pass  # closing the connection releases it as well
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection, self.held = self._connection, None, False
        descriptor, self._file = self._file, None
        if descriptor is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)  # closing releases it as well
        if connection is not None:
            try:
                await connection.close()
            except (SQLAlchemyError, OSError, DBAPIError):
                await connection.invalidate()

    async def holder(self) -> Any:
        """The backend pid holding the lock, if any (for /healthz and metrics); None when none or unknown."""
        if not self.shared:
            return "this instance" if self.held else None
        try:
            async with self.database.engine.connect() as connection:
                return await connection.scalar(
                    text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND ((classid::bigint << 32) | objid::bigint) = :key LIMIT 1"
                    ),
                    {"key": self.key},
                )
        except (SQLAlchemyError, OSError):
            return None
