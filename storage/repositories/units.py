"""Units and their tree, and the fields of procedures (lĩnh vực). Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from storage.repositories.base import Repository, dialect_insert
from storage.tables.units import FIELDS, UNITS
from storage.values import Unit


class UnitRepository(Repository):
    """Units and their tree."""

    async def get_by_code(self, code: str) -> Unit | None:
        """The unit with ``code``."""
        return await self._first(Unit, select(UNITS).where(UNITS.c.code == code))

    async def get(self, unit_id: int) -> Unit:
        """The unit with id ``unit_id``."""
        unit = await self._first(Unit, select(UNITS).where(UNITS.c.id == unit_id))
        if unit is None:
            raise LookupError(f"no unit {unit_id}")
        return unit

    async def add(self, code: str, name: str, parent_id: int | None, now: datetime, **values: Any) -> Unit:
        """Create a unit (``values``: more of its columns, such as ``issues_documents`` or ``place``)."""
        statement = insert(UNITS).values(code=code, name=name, parent_id=parent_id, created_at=now, **values)
        unit = await self._first(Unit, statement.returning(*UNITS.c))
        assert unit is not None
        return unit

    async def update(self, unit_id: int, **values: Any) -> Unit:
        """Change some of a unit's columns; the unit as it is now."""
        if values:
            await self._run(update(UNITS).where(UNITS.c.id == unit_id).values(**values))
        return await self.get(unit_id)

    async def set_form(self, unit_id: int, form_id: str | None) -> None:
        """Give a unit its own survey form (None: the default)."""
        await self._run(update(UNITS).where(UNITS.c.id == unit_id).values(form_id=form_id))

    async def all(self) -> list[Unit]:
        """Every unit, by code."""
        return await self._all(Unit, select(UNITS).order_by(UNITS.c.code))

    async def subtree_ids(self, unit_id: int) -> list[int]:
        """``unit_id`` and every unit below it (a recursive query down the parent index)."""
        tree = select(UNITS.c.id).where(UNITS.c.id == unit_id).cte("tree", recursive=True)
        tree = tree.union_all(select(UNITS.c.id).join(tree, UNITS.c.parent_id == tree.c.id))
        return sorted(int(i) for i in (await self.connection.execute(select(tree.c.id))).scalars())

    async def children(self, unit_id: int) -> list[Unit]:
        """The units right below ``unit_id``, by code."""
        return await self._all(Unit, select(UNITS).where(UNITS.c.parent_id == unit_id).order_by(UNITS.c.code))


class FieldRepository(Repository):
    """Fields of procedures (lĩnh vực)."""

    async def ensure(self, name: str) -> int:
        """The id of the field called ``name``, recorded on first use."""
        statement = (
            dialect_insert(self.dialect, FIELDS).values(name=name).on_conflict_do_nothing(index_elements=["name"])
        )
        await self._run(statement)
        return int((await self.connection.execute(select(FIELDS.c.id).where(FIELDS.c.name == name))).scalar_one())
