"""The database: one async engine; SQLite pragmas and transaction mode."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.sqlite_driver import LATER, OneTripConnection, OneTripCursor, one_trip_dbapi

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL: connections each instance keeps open, and as many again lent out in a burst (docs/OPERATIONS.md)
POOL_SIZE = 10
SORTER_THREADS = min(4, os.cpu_count() or 1)
READ_ONLY = "sipas_read_only"
KEPT_READERS = 4  # SQLite: reading connections kept open between units of work (Database.lend)


class DatabaseError(Exception):
    """The database URL cannot be used; the message says why in one line."""

    def __init__(self, message: str, key: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.key = key  # the wording of the command line: bot/texts cli.<key>
        self.values = values


def _sqlite_setup(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for writing transactions.

    pysqlite's own implicit BEGIN is switched off so that SQLAlchemy's transaction is the real one;
    a writing transaction takes the write lock at BEGIN, so two writers queue on the busy timeout
    instead of failing with "database is locked" when a read lock cannot be upgraded.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA threads = {SORTER_THREADS}")  # large GROUP BYs sort in parallel
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        statement = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        driver_connection: Any = connection.connection.dbapi_connection
        if isinstance(driver_connection, OneTripConnection):
            driver_connection.defer_begin(statement)  # sent with the transaction's first statement
        else:
            connection.exec_driver_sql(statement)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _on_execute(_conn: Connection, cursor: Any, _sql: str, _params: Any, context: Any, _many: bool) -> None:
        if context is not None and context.execution_options.get(LATER) and isinstance(cursor, OneTripCursor):
            cursor.later = True  # a write nobody reads: it travels with the next statement or the commit


def _check_sqlite_folder(database: str | None) -> None:
    """Refuse a database file in a folder that does not exist, before the driver's thread is started.

    aiosqlite's worker thread reports a failed connect after the event loop may have closed, which
    prints a stray traceback from that thread; the common cause, a wrong folder, is caught here.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    if not folder.is_dir():
        raise DatabaseError(
            f"cannot use the database: unable to open database file (no folder {folder})",
            "database.no_folder",
            folder=folder,
        )


def create_engine(url: str, *, pool_size: int = POOL_SIZE, **options: Any) -> AsyncEngine:
    """An async engine for ``url`` (sqlite+aiosqlite or postgresql+asyncpg).

    ``pool_size``: on PostgreSQL, the connections kept open, and as many more opened for a burst; SQLite has one
    writer at a time (``Database.write_lock``), so its pool stays SQLAlchemy's own.
    """
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - sqlalchemy raises several types for a bad URL
        raise DatabaseError(f"not a database URL: {url!r}", "database.not_url", url=url) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() != "aiosqlite":
            raise DatabaseError("SQLite needs the async driver: use sqlite+aiosqlite:///FILE", "database.sqlite_driver")
        _check_sqlite_folder(parsed.database)
        dbapi = one_trip_dbapi()
        if dbapi is not None:
            options.setdefault("module", dbapi)
        # every unit of work ends its transaction itself; the pool's extra rollback would be a wasted trip
        options.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(parsed, **options)
        _sqlite_setup(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "asyncpg":
            raise DatabaseError("PostgreSQL needs the async driver: use postgresql+asyncpg://…", "database.pg_driver")
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_size", pool_size)
        options.setdefault("max_overflow", pool_size)
        return create_async_engine(parsed, **options)
    raise DatabaseError(
        f"unsupported database {backend!r}: use SQLite or PostgreSQL", "database.unsupported", backend=backend
    )


class Database:
    """An engine and its connection pool, made once by the composition root."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE, **options: Any) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, **options)
        # SQLite has one writer at a time; writers in this process queue here rather than in SQLite's
        # busy handler, which sleeps in steps of milliseconds (other processes still wait on the timeout)
        self.write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None
        # SQLite: the connections kept open between units of work (see ``lend``)
        self._writer: AsyncConnection | None = None
        self._readers: list[AsyncConnection] = []
        self._lent: dict[AsyncConnection, int] = {}  # connection lent -> the closes of the database before it
        self._closes = 0

    async def lend(self, *, read_only: bool) -> AsyncConnection:
        """A connection for one unit of work; hand it back with ``give_back``.

        On SQLite the writing transactions of this process take turns (``write_lock``, held by the caller), so
        they share one connection kept open, and reading ones take a kept connection when one is free: a
        checkout from SQLAlchemy's pool and its return cost more than a short transaction's statements. A
        connection kept open holds no lock between transactions (WAL). On PostgreSQL, the pool lends.
        """
        connection = await self._lend(read_only)
        self._lent[connection] = self._closes
        return connection

    async def _lend(self, read_only: bool) -> AsyncConnection:
        if self.write_lock is None:
            connection = await self.engine.connect()
        elif not read_only:
            if self._writer is None or self._writer.closed or self._writer.invalidated:
                self._writer = await self.engine.connect()
            return self._writer
        elif self._readers:
            return self._readers.pop()
        else:
            connection = await self.engine.connect()
        if read_only:  # a writing transaction is the default (BEGIN IMMEDIATE on SQLite): no options to set
            connection = await connection.execution_options(**{READ_ONLY: True})
        return connection

    async def give_back(self, connection: AsyncConnection, *, read_only: bool, clean: bool) -> None:
        """Take back a connection lent, outside any transaction; one that saw an error (not ``clean``) is closed."""
        if self._lent.pop(connection, self._closes) < self._closes:  # lent before ``close``: its pool is gone
            await connection.invalidate()  # the driver's connection closed now, not left to the garbage collector
            clean = False
        sound = not (connection.closed or connection.invalidated) and connection.get_transaction() is None
        if self.write_lock is not None and clean and sound:
            if not read_only and connection is self._writer:
                return
            if read_only and len(self._readers) < KEPT_READERS:
                self._readers.append(connection)
                return
        if connection is self._writer:
            self._writer = None
        await connection.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def close(self) -> None:
        """Close every connection kept or pooled; one lent out is closed when it is handed back."""
        kept, self._readers = self._readers, []  # a reader lent out is not in the list
        if self._writer is not None and not (self.write_lock is not None and self.write_lock.locked()):
            kept.append(self._writer)  # the writer is lent only while the write lock is held
        self._writer = None
        self._closes += 1
        for connection in kept:
            await connection.close()
        await self.engine.dispose()


async def backup_sqlite(database: Database, target: Path) -> int:
    """Copy a SQLite database, online and consistent, to ``target``; its size in bytes.

    SQLite's backup API copies page by page while the service keeps writing (WAL mode); the copy is a
    complete database file. PostgreSQL is backed up with pg_dump instead.
    """
    if database.dialect != "sqlite":
        raise DatabaseError(
            "this is not SQLite: back PostgreSQL up with pg_dump (see docs/OPERATIONS.md)", "database.not_sqlite"
        )
    source_path = make_url(database.url).database or ""

    def copy() -> int:
        import sqlite3

        if target.resolve() == Path(source_path).resolve():
            raise DatabaseError("the backup would overwrite the database itself", "database.backup_onto_itself")
        if not target.parent.is_dir():
            raise DatabaseError(f"no folder {target.parent}", "database.no_backup_folder", folder=target.parent)
        source = sqlite3.connect(source_path)
        try:
            destination = sqlite3.connect(str(target))
            try:
                source.backup(destination)
            finally:
                destination.close()
        finally:
            source.close()
        return target.stat().st_size

    return await asyncio.to_thread(copy)
