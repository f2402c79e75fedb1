"""What every repository shares: its connection, rows read as frozen values, statements built once per dialect.

Repositories never commit: the unit of work does. ORM objects are not used at run time (the declarative models
only describe the tables); rows come back as the frozen values of storage/values/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

V = TypeVar("V")


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def field_names(kind: type[Any]) -> tuple[str, ...]:
    """The field names of a value class (looked up once per class)."""
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    return names


def as_value(kind: type[V], row: Row[Any]) -> V:
    """A frozen value from a row that has (at least) the value's fields as columns."""
    mapping = row._mapping
    return kind(**{name: mapping[name] for name in field_names(kind)})


def dialect_insert(dialect: str, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT on both backends (PostgreSQL's dialect is loaded for PostgreSQL only)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


@cache
def _statement(dialect: str, build: Callable[[str], Executable]) -> Executable:
    """A statement built once per dialect (bound parameters carry the values)."""
    return build(dialect)


class Repository:
    """Queries over one connection (a unit of work's): rows read as values, statements prepared per dialect."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    async def _first(self, kind: type[V], statement: Executable, parameters: dict[str, Any] | None = None) -> V | None:
        row = (await self.connection.execute(statement, parameters)).first()
        return as_value(kind, row) if row is not None else None

    async def _all(self, kind: type[V], statement: Executable, parameters: dict[str, Any] | None = None) -> list[V]:
        return [as_value(kind, row) for row in await self.connection.execute(statement, parameters)]

    async def _run(self, statement: Executable, parameters: dict[str, Any] | None = None) -> int:
        """Execute and return the number of rows changed."""
        result = await self.connection.execute(statement, parameters)
        return int(result.rowcount)

    def _prepared(self, build: Callable[[str], Executable]) -> Executable:
        return _statement(self.dialect, build)

    async def _upsert(self, table: Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        """Insert the row of ``key`` with ``values``, or set ``values`` on the row already there with that key."""
        statement = (
            dialect_insert(self.dialect, table)
            .values(**key, **values)
            .on_conflict_do_update(index_elements=list(key), set_=values)
        )
        await self._run(statement)
