"""Targets per field, on time per field, online dossiers and repeated supplement requests (docs/METHOD.md, targets).

Counts computed in SQL, never row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, case, func, insert, select, update

from storage.repositories.base import Repository
from storage.tables.dossiers import DOSSIERS, EVENTS
from storage.tables.staff import APOLOGIES, FEEDBACK
from storage.tables.units import FIELD_TARGETS, FIELDS, UNITS

ONLINE = "truc_tuyen"
SUPPLEMENT = "supplement_requested"
UNHANDLED_FEEDBACK = "received"  # neither answered nor closed: the complement of the handled rate's "handled"


@dataclass(frozen=True)
class FieldTarget:
    """A unit's own targets for one field, in percent (None: the unit's targets apply)."""

    field: str
    satisfaction: float | None
    on_time: float | None


@dataclass(frozen=True)
class FieldOnTime:
    """Dossiers of one field resolved in a period, and how many of them on time."""

    field: str
    resolved: int
    on_time: int
    late: int


@dataclass(frozen=True)
class ComplaintBacklog:
    """Complaints received before a moment and still unhandled now: how many, and when the oldest came in."""

    count: int
    oldest_at: datetime | None


@dataclass(frozen=True)
class IntakeCounts:
    """Dossiers received in a period and how many of them online; dossiers asked again for a supplement."""

    received: int
    received_online: int
    supplement_repeated: int


def _within(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class TargetRepository(Repository):
    """A unit's targets (on the unit) and its targets per field (``field_targets``)."""

    async def set_unit(self, unit_id: int, satisfaction: float | None, on_time: float | None) -> None:
        """Change the unit's own targets; a None leaves that target as it is."""
        values = {
            key: value
            for key, value in (("target_satisfaction", satisfaction), ("target_on_time", on_time))
            if value is not None
        }
        if values:
            await self._run(update(UNITS).where(UNITS.c.id == unit_id).values(**values))

    async def set_field(
        self, unit_id: int, field: str, satisfaction: float | None, on_time: float | None, now: datetime
    ) -> None:
        """Change the unit's targets for ``field`` (named exactly so); a None leaves that target as it is."""
        row = (
            await self.connection.execute(
                select(FIELD_TARGETS.c.id).where(FIELD_TARGETS.c.unit_id == unit_id, FIELD_TARGETS.c.field == field)
            )
        ).first()
        values: dict[str, Any] = {
            key: value
            for key, value in (("target_satisfaction", satisfaction), ("target_on_time", on_time))
            if value is not None
        }
        if row is None:
            await self._run(insert(FIELD_TARGETS).values(unit_id=unit_id, field=field, updated_at=now, **values))
        elif values:
            await self._run(update(FIELD_TARGETS).where(FIELD_TARGETS.c.id == row[0]).values(updated_at=now, **values))

    async def fields(self, unit_id: int) -> list[FieldTarget]:
        """The unit's targets per field, by field name."""
        query = (
            select(FIELD_TARGETS.c.field, FIELD_TARGETS.c.target_satisfaction, FIELD_TARGETS.c.target_on_time)
            .where(FIELD_TARGETS.c.unit_id == unit_id)
            .order_by(FIELD_TARGETS.c.field)
        )
        return [FieldTarget(f, s, o) for f, s, o in await self.connection.execute(query)]

    async def known_fields(self) -> list[str]:
        """Every field name dossiers have used."""
        return [str(name) for name in (await self.connection.execute(select(FIELDS.c.name))).scalars()]


class LeaderFigureRepository(Repository):
    """Counts for one set of units over one period [start, end)."""

    async def on_time_by_field(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[FieldOnTime]:
        """Dossiers resolved in the period per field (by name): resolved, on time, late."""
        resolved = _within(DOSSIERS.c.finished_at, start, end)
        query = (
            select(
                FIELDS.c.name,
                func.count(),
                _count(DOSSIERS.c.on_time.is_(True)),
                _count(DOSSIERS.c.on_time.is_(False)),
            )
            .select_from(DOSSIERS.join(FIELDS, FIELDS.c.id == DOSSIERS.c.field_id))
            .where(DOSSIERS.c.unit_id.in_(unit_ids), resolved)
            .group_by(FIELDS.c.name)
        )
        rows = [FieldOnTime(f, int(r), int(o), int(la)) for f, r, o, la in await self.connection.execute(query)]
        return sorted(rows, key=lambda row: row.field)  # by code point, as by_field is, whatever the collation

    async def intake(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> IntakeCounts:
        """Received in the period (and of them online), and the dossiers asked again for a supplement in it.

        A dossier is counted as asked again when a supplement request in the period follows an earlier
        request for the same dossier (its second, third… request), once however many came in the period.
        """
        received = _within(DOSSIERS.c.received_at, start, end)
        received_n, online_n = (
            await self.connection.execute(
                select(_count(received), _count(and_(received, DOSSIERS.c.channel == ONLINE))).where(
                    DOSSIERS.c.unit_id.in_(unit_ids)
                )
            )
        ).one()
        later, earlier = EVENTS.alias("later"), EVENTS.alias("earlier")
        asked_before = (
            select(earlier.c.id)
            .where(earlier.c.dossier_id == later.c.dossier_id, earlier.c.type == SUPPLEMENT, earlier.c.at < later.c.at)
            .exists()
        )
        repeated = await self.connection.scalar(
            select(func.count(func.distinct(later.c.dossier_id)))
            .select_from(later.join(DOSSIERS, DOSSIERS.c.id == later.c.dossier_id))
            .where(
                DOSSIERS.c.unit_id.in_(unit_ids),
                later.c.type == SUPPLEMENT,
                _within(later.c.at, start, end),
                asked_before,
            )
        )
        return IntakeCounts(int(received_n), int(online_n), int(repeated or 0))

    async def first_received(self, unit_ids: Sequence[int]) -> datetime | None:
        """When the first dossier of ``unit_ids`` was received (None: the units have no dossier yet)."""
        query = (
            select(DOSSIERS.c.received_at)
            .where(DOSSIERS.c.unit_id.in_(unit_ids))
            .order_by(DOSSIERS.c.received_at, DOSSIERS.c.id)
            .limit(1)
        )
        return cast(datetime | None, (await self.connection.execute(query)).scalar_one_or_none())

    async def complaint_backlog(self, unit_ids: Sequence[int], before: datetime) -> ComplaintBacklog:
        """Complaints received before ``before`` that stand neither answered nor closed: a stock, whatever the day."""
        condition = and_(
            FEEDBACK.c.unit_id.in_(unit_ids),
            FEEDBACK.c.status == UNHANDLED_FEEDBACK,
            FEEDBACK.c.created_at < before,
        )
        count = int(await self.connection.scalar(select(func.count()).where(condition)) or 0)
        oldest = (
            await self.connection.execute(
                select(FEEDBACK.c.created_at).where(condition).order_by(FEEDBACK.c.created_at, FEEDBACK.c.id).limit(1)
            )
        ).scalar_one_or_none()
        return ComplaintBacklog(count, cast(datetime | None, oldest))

    async def new_due_dates(self, unit_ids: Sequence[int], codes: Sequence[str]) -> dict[str, datetime]:
        """The appointment each of ``codes`` was given again by its delay apology, where it has one."""
        if not codes:
            return {}
        query = (
            select(DOSSIERS.c.code, APOLOGIES.c.new_due_at)
            .select_from(DOSSIERS.join(APOLOGIES, APOLOGIES.c.dossier_id == DOSSIERS.c.id))
            .where(
                DOSSIERS.c.unit_id.in_(unit_ids),
                DOSSIERS.c.code.in_(list(codes)),
                APOLOGIES.c.kind == "delay",
                APOLOGIES.c.new_due_at.is_not(None),
            )
        )
        return {str(code): new_due for code, new_due in await self.connection.execute(query)}
