"""Targets a unit reports against (docs/METHOD.md, targets): its own, and per field (``sipasbot targets set``).

A field's target is the unit's own target for that field where one is set, else the unit's target, else
the configured default (SIPAS_TARGET_SATISFACTION / SIPAS_TARGET_ON_TIME). Rates shown to people and the
verdicts beside them use one rounding: once, half-up, from the exact counts, to one decimal.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Services
from handlers.errors import InvalidInput, NotFound
from handlers.messages import nfc
from handlers.verdicts import met, percent_text, rate_tenths, tenths
from handlers.words import fold
from storage.leader_figures import FieldTarget
from storage.uow import UnitOfWork
from storage.values import Unit

__all__ = ["Goal", "TargetBook", "TargetHandler", "met", "percent_text", "rate_tenths", "tenths"]


@dataclass(frozen=True)
class Goal:
    """The targets one figure is judged against, in percent."""

    satisfaction: float
    on_time: float


@dataclass(frozen=True)
class TargetBook:
    """A unit's targets: its own (or the defaults) and those set per field."""

    unit: Goal
    fields: tuple[FieldTarget, ...] = ()

    def for_field(self, name: str) -> Goal:
        """The targets of field ``name`` (accents, case and spacing ignored when matching)."""
        wanted = fold(name)
        own = next((f for f in self.fields if fold(f.field) == wanted), None)
        if own is None:
            return self.unit
        return Goal(
            own.satisfaction if own.satisfaction is not None else self.unit.satisfaction,
            own.on_time if own.on_time is not None else self.unit.on_time,
        )


def _checked(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not 0 <= value <= 100:
        raise InvalidInput.worded("error.percentage", name=name)
    return float(value)


class TargetHandler:
    """Sets and reads a unit's targets."""

    def __init__(self, services: Services, defaults: Goal | None = None) -> None:
        self.services = services
        self.defaults = defaults or Goal(95.0, 95.0)

    def unit_goal(self, unit: Unit) -> Goal:
        """The unit's own targets, else the configured ones."""
        return Goal(
            unit.target_satisfaction if unit.target_satisfaction is not None else self.defaults.satisfaction,
            unit.target_on_time if unit.target_on_time is not None else self.defaults.on_time,
        )

    async def book(self, unit: Unit, uow: UnitOfWork | None = None) -> TargetBook:
        """Everything the unit's figures are judged against (read on ``uow`` when given)."""
        if uow is None:
            async with self.services.uow(read_only=True) as own:
                return await self.book(unit, own)
        return TargetBook(self.unit_goal(unit), tuple(await uow.targets.fields(unit.id)))

    async def set(
        self, unit_code: str, field: str | None, satisfaction: float | None, on_time: float | None
    ) -> TargetBook:
        """Set the unit's targets, or its targets for ``field``; what the unit is now judged against."""
        satisfaction = _checked("satisfaction", satisfaction)
        on_time = _checked("on-time", on_time)
        if satisfaction is None and on_time is None:
            raise InvalidInput.worded("error.targets_missing")
        async with self.services.uow() as uow:
            unit = await uow.units.get_by_code(unit_code)
            if unit is None:
                raise NotFound.worded("error.no_unit", unit=unit_code)
            if field is None:
                await uow.targets.set_unit(unit.id, satisfaction, on_time)
            else:
                name = await self._field_name(uow, unit.id, field)
                await uow.targets.set_field(unit.id, name, satisfaction, on_time, self.services.clock())
            await uow.commit()
        async with self.services.uow(read_only=True) as uow:
            unit = await uow.units.get(unit.id)
        return await self.book(unit)

    async def _field_name(self, uow: UnitOfWork, unit_id: int, field: str) -> str:
        """The field as dossiers name it (matched without accents or case), else as typed."""
        typed = " ".join(nfc(field).split())
        if not typed or len(typed) > 100:
            raise InvalidInput.worded("error.field_name")
        known = await uow.targets.known_fields() + [f.field for f in await uow.targets.fields(unit_id)]
        return next((name for name in known if fold(name) == fold(typed)), typed)

    async def listing(self, unit_code: str) -> tuple[Unit, TargetBook]:
        """The unit and its targets."""
        async with self.services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(unit_code)
        if unit is None:
            raise NotFound.worded("error.no_unit", unit=unit_code)
        return unit, await self.book(unit)
