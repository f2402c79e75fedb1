"""aiosqlite behind SQLAlchemy with one trip to the driver thread per statement.

SQLAlchemy's stock aiosqlite adapter opens, executes, fetches and closes a cursor in four separate
round trips to aiosqlite's worker thread; each costs tens of microseconds of thread hand-over, which
dominates a short transaction. This adapter does the four steps in one trip. It is installed through
``create_async_engine(..., module=...)``, the documented way to hand SQLAlchemy a DBAPI, and changes
nothing else: same driver, same SQL, same transactions.

A statement whose result nobody reads (an answer upserted, a reply queued, a cursor moved) may be executed with
``WRITE_LATER``: it then waits on the connection and travels with the transaction's next statement, or with its
COMMIT, in that statement's trip and in order. Reads still see it (it runs before them); an error in it is
raised by that later statement or by the commit, and the transaction is rolled back as for any error.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, int, int | None, list[Any]]
_Write = tuple[Any, Any, bool]  # a statement executed later: operation, parameters, executemany

LATER = "sipas_write_later"
WRITE_LATER = {LATER: True}  # execution options of a write whose result is not read (see above)


async def _held() -> None:
    """Nothing to wait for: SQLAlchemy's async execute insists on one await, even for a write held back."""


def _catch_up(connection: sqlite3.Connection, begin: str | None, writes: list[_Write]) -> None:
    """In aiosqlite's thread: begin the transaction if one is pending, then the writes held back, in order."""
    if begin is not None:
        connection.execute(begin)
    for operation, parameters, many in writes:
        if many:
            connection.executemany(operation, parameters)
        else:
            connection.execute(operation, parameters if parameters is not None else ())


def _commit(connection: sqlite3.Connection, begin: str | None, writes: list[_Write]) -> None:
    """In aiosqlite's thread: the writes held back, then COMMIT; if one fails, nothing is kept.

    The transaction is rolled back here: SQLAlchemy takes a failed commit as the end of the transaction.
    """
    try:
        _catch_up(connection, begin, writes)
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def _run(
    connection: sqlite3.Connection, begin: str | None, writes: list[_Write], operation: str, parameters: Any, many: bool
) -> _Outcome:
    """In aiosqlite's thread: catch up (BEGIN, held-back writes), execute, fetch everything, close."""
    _catch_up(connection, begin, writes)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters if parameters is not None else ())
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose execute is a single trip to the driver thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount", "later")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self.later = False  # set for one statement executed with WRITE_LATER (db.py's before_cursor_execute)

    @property
    def description(self) -> Any:
        """The result's columns, as DBAPI describes them."""
        return self._description

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        """The rowid of the last inserted row."""
        return self._lastrowid or 0

    def _trip(self, operation: Any, parameters: Any, many: bool) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted = self._adapt_connection
        begin, writes = None, []
        if isinstance(adapted, OneTripConnection):
            if self.later:
                self.later = False
                adapted.writes.append((operation, parameters, many))
                self._description, self._rowcount, self._lastrowid = None, -1, None
                self._rows = collections.deque()
                return await_(_held())
            begin, adapted.pending_begin = adapted.pending_begin, None
            writes, adapted.writes = adapted.writes, []
        try:
            outcome = await_(
                connection._execute(_run, connection._conn, begin, writes, operation, parameters, many)  # type: ignore[no-untyped-call]
            )
        except Exception as error:  # noqa: BLE001 - handed to SQLAlchemy, which maps every driver error
            self._adapt_connection._handle_exception(error)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)
        return None

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        """Execute one statement."""
        return self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        """Execute one statement for many parameter sets."""
        return self._trip(operation, seq_of_parameters, many=True)

    def close(self) -> None:
        """Nothing to close: the real cursor was closed in the driver thread."""
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        return None


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """An adapted aiosqlite connection that hands out one-trip cursors.

    ``pending_begin`` holds a BEGIN statement to run just before the next statement, in the same
    trip; a transaction that ran no statement has nothing to commit or roll back. ``writes`` holds the
    statements executed with WRITE_LATER, sent with the next statement or with the commit.
    """

    __slots__ = ("pending_begin", "writes")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None
        self.writes: list[_Write] = []

    def defer_begin(self, statement: str) -> None:
        """Begin a transaction with ``statement`` in the trip of the next statement."""
        self.pending_begin = statement

    def commit(self) -> None:
        """Commit (with the writes held back, in the same trip), unless the transaction never started."""
        begin, self.pending_begin = self.pending_begin, None
        writes, self.writes = self.writes, []
        if not writes:
            if begin is None:
                super().commit()
            return
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            await_(connection._execute(_commit, connection._conn, begin, writes))  # type: ignore[no-untyped-call]
        except Exception as error:  # noqa: BLE001 - handed to SQLAlchemy, which maps every driver error
            self._handle_exception(error)

    def rollback(self) -> None:
        """Roll back (the writes held back were never sent), unless the transaction never started."""
        self.writes = []
        if self.pending_begin is not None:
            self.pending_begin = None
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter with one-trip cursors."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        """Connect as SQLAlchemy's adapter does, wrapping the connection in ours."""
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def one_trip_dbapi() -> OneTripDBAPI | None:
    """The adapter, or None when this aiosqlite lacks what it relies on (then SQLAlchemy's own is used)."""
    if not hasattr(aiosqlite.Connection, "_execute") or not hasattr(aiosqlite.Connection, "_conn"):
        return None
    return OneTripDBAPI(aiosqlite, sqlite3)
