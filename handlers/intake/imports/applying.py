"""Applying the checked rows of a batch, in one transaction.

Runs of rows whose dossiers are new are written at once (batches.py); a row for a dossier already
stored is applied in a savepoint of its own, through the lifecycle the REST API applies. An upsert of the same
data and an event seen before change nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from handlers.context import Services
from handlers.errors import HandlerError
from handlers.intake.dossiers import ContactInput, DossierHandler, DossierInput
from handlers.intake.imports.batches import NewDossierWriter, conflict, last_step_at, moves, step
from handlers.intake.imports.memory import ImportMemory
from handlers.intake.imports.report import ImportWords, RowError
from handlers.intake.imports.rows import Plan, RowFault
from storage.uow import UnitOfWork
from storage.values import Dossier


def _kept(existing: Dossier, plan: Plan) -> DossierInput:
    """The row's dossier with what the export does not carry kept as stored: its Zalo opt-in, absent columns."""
    kept: dict[str, Any] = {key: getattr(existing, key) for key in plan.absent}
    return replace(plan.data, zalo_optin=existing.zalo_optin, **kept)


class RowApplier:
    """Applies batches of planned rows, counting what each did and collecting the errors of those refused."""

    def __init__(self, services: Services, say: ImportWords) -> None:
        self.services = services
        self.say = say
        self.dossiers = DossierHandler(services)
        self._new = NewDossierWriter(services, self.dossiers, say)

    async def apply_batch(
        self, plans: list[Plan], memory: ImportMemory, counts: dict[str, int], errors: list[RowError]
    ) -> None:
        """Apply a batch of rows in one transaction: runs of new dossiers at once, each other row in a savepoint."""
        if not plans:
            return
        async with self.services.uow() as uow:
            await memory.start_batch(uow, [plan.data.code for plan in plans])
            new: list[Plan] = []
            for plan in plans:
                if memory.batch_dossiers.get(plan.data.code, False) is None and plan.data.representative is None:
                    new.append(plan)  # not in the database: written with the run it belongs to
                    continue
                await self._apply_new(uow, new, memory, counts, errors)
                new = []
                memory.start_row()
                try:
                    outcome = await self._apply(uow, plan)
                except (RowFault, HandlerError) as exc:
                    errors.append(RowError(plan.row, str(exc)))
                    continue
                memory.keep_row()
                counts[outcome] += 1
            await self._apply_new(uow, new, memory, counts, errors)
            await uow.commit()

    async def _apply_new(
        self, uow: UnitOfWork, plans: list[Plan], memory: ImportMemory, counts: dict[str, int], errors: list[RowError]
    ) -> None:
        """Write a run of rows whose dossiers are new (handlers/intake/imports/batches.py)."""
        if not plans:
            return
        memory.start_row()
        written = await self._new.write(uow, plans, memory.units)
        memory.keep_row()
        for person_id in written.people_changed:
            memory.batch_people.pop(person_id, None)
        counts["created"] += written.created
        errors.extend(RowError(row, message) for row, message in written.refused)

    async def _apply(self, uow: UnitOfWork, plan: Plan) -> str:
        """Apply one row (in a savepoint of its own when it changes anything): created, updated or unchanged."""
        existing = await uow.dossiers.get_by_code(plan.data.code)
        data = plan.data if existing is None else _kept(existing, plan)
        same = existing is not None and await self._same(uow, existing, data, plan.phone)
        if existing is not None and same and not moves(existing, plan.events):
            return "unchanged"  # nothing to write: no savepoint either
        async with uow.connection.begin_nested():
            changed = False
            if existing is None or not same:
                if existing is not None:
                    data = await self._with_representative(uow, existing, data)
                dossier = (await self.dossiers.upsert_in(uow, data)).dossier
                changed = True
            else:
                dossier = existing
            for type_, at in plan.events:
                dossier, applied = await self._event(uow, dossier, type_, at)
                changed = changed or applied
        if existing is None:
            return "created"
        return "updated" if changed else "unchanged"

    async def _with_representative(self, uow: UnitOfWork, existing: Dossier, data: DossierInput) -> DossierInput:
        """``data`` with the dossier's authorised representative kept (an export does not name one)."""
        representative = None
        if existing.representative_id is not None:
            person = await uow.people.get(existing.representative_id)
            if person.erased_at is None and person.name:
                representative = ContactInput(person.name, person.phone, person.email, person.zalo_user_id)
        return replace(data, representative=representative)

    async def _same(self, uow: UnitOfWork, existing: Dossier, data: DossierInput, phone: str | None) -> bool:
        """Whether the upsert of ``data`` would store what is stored already."""
        if data.applicant.kind is not None and data.applicant.kind != existing.applicant_kind:
            return False
        unit = await uow.units.get_by_code(data.unit)
        if unit is None or (
            existing.unit_id,
            existing.procedure_name,
            existing.procedure_code,
            existing.field,
            existing.channel,
            existing.handler,
            existing.receiver,
            existing.received_at,
            existing.due_at,
        ) != (
            unit.id,
            data.procedure,
            data.procedure_code,
            data.field,
            data.channel,
            data.handler,
            data.receiver,
            data.received_at,
            data.due_at,
        ):
            return False
        if existing.applicant_id is None:
            return False
        person = await uow.people.get(existing.applicant_id)
        if person.erased_at is not None:
            return True  # the person asked to be forgotten: an old export does not bring them back
        contact = data.applicant
        return (
            person.name == contact.name
            and (phone is None or phone == person.phone)
            and (contact.email is None or contact.email == person.email)
        )

    async def _event(self, uow: UnitOfWork, dossier: Dossier, type_: str, at: datetime) -> tuple[Dossier, bool]:
        """Apply one event the row implies, unless the dossier is already there or further along."""
        what = step(dossier.state, last_step_at(dossier), type_, at)
        if what == "skip":
            return dossier, False
        if what == "conflict":
            if await uow.dossiers.has_event(dossier.id, type_, at):
                return dossier, False  # it happened before the dossier was cancelled
            raise conflict(type_, self.say)
        changed = False
        if what == "resume":
            result = await self.dossiers.add_event_in(uow, dossier.code, "supplement_received", at, None)
            changed = result.changed
        result = await self.dossiers.add_event_in(uow, dossier.code, type_, at, None)
        return result.dossier, changed or result.changed
