"""aiosqlite behind SQLAlchemy with one trip to the driver thread per statement.

SQLAlchemy's stock aiosqlite adapter opens, executes, fetches and closes a cursor in four separate
round trips to aiosqlite's worker thread; each costs tens of microseconds of thread hand-over, which
dominates a short transaction. This adapter does the four steps in one trip. It is installed through
``create_async_engine(..., module=...)``, the documented way to hand SQLAlchemy a DBAPI, and changes
nothing else: same driver, same SQL, same transactions.
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


def _run(connection: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool) -> _Outcome:
    """In aiosqlite's thread: begin the transaction if one is pending, execute, fetch everything, close."""
    if begin is not None:
        connection.execute(begin)
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

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

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
        begin = None
        if isinstance(adapted, OneTripConnection):
            begin, adapted.pending_begin = adapted.pending_begin, None
        try:
            outcome = await_(
                connection._execute(_run, connection._conn, begin, operation, parameters, many)  # type: ignore[no-untyped-call]
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
    trip; a transaction that ran no statement has nothing to commit or roll back.
    """

    __slots__ = ("pending_begin",)
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None

    def defer_begin(self, statement: str) -> None:
        """Begin a transaction with ``statement`` in the trip of the next statement."""
        self.pending_begin = statement

    def commit(self) -> None:
        """Commit, unless the transaction never started."""
        if self.pending_begin is not None:
            self.pending_begin = None
            return
        super().commit()

    def rollback(self) -> None:
        """Roll back, unless the transaction never started."""
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
