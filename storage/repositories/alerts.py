"""Warnings sent about dossiers, once per dossier and kind. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, select

from storage.repositories.base import Repository, dialect_insert
from storage.tables.dossiers import DOSSIERS, UNRESOLVED
from storage.tables.staff import ALERTS, APOLOGIES


class AlertRepository(Repository):
    """Warnings sent about dossiers, once per dossier and kind."""

    async def claim(self, dossier_id: int, kind: str, now: datetime) -> bool:
        """Record the warning; False when it was sent before."""
        statement = (
            dialect_insert(self.dialect, ALERTS)
            .values(dossier_id=dossier_id, kind=kind, sent_at=now)
            .on_conflict_do_nothing(index_elements=["dossier_id", "kind"])
            .returning(ALERTS.c.id)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def at_risk(self, due_before: datetime, limit: int, kinds: Sequence[str] = ("at_risk",)) -> list[int]:
        """Unresolved dossiers without a delay apology or a warning of ``kinds``, due before ``due_before``: ids."""
        warned = (
            select(ALERTS.c.id).where(ALERTS.c.dossier_id == DOSSIERS.c.id, ALERTS.c.kind.in_(list(kinds))).exists()
        )
        apologised = (
            select(APOLOGIES.c.id).where(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay").exists()
        )
        query = (
            select(DOSSIERS.c.id)
            .where(DOSSIERS.c.state.in_(UNRESOLVED), DOSSIERS.c.due_at < due_before, ~warned, ~apologised)
            .order_by(DOSSIERS.c.due_at, DOSSIERS.c.id)
            .limit(limit)
        )
        return list((await self.connection.execute(query)).scalars())

    async def promises_missed(self, now: datetime, limit: int) -> list[int]:
        """Unresolved dossiers whose apology's new date has passed, not yet reported: their ids."""
        reported = (
            select(ALERTS.c.id).where(ALERTS.c.dossier_id == DOSSIERS.c.id, ALERTS.c.kind == "promise_missed").exists()
        )
        query = (
            select(DOSSIERS.c.id)
            .join(APOLOGIES, and_(APOLOGIES.c.dossier_id == DOSSIERS.c.id, APOLOGIES.c.kind == "delay"))
            .where(DOSSIERS.c.state.in_(UNRESOLVED), APOLOGIES.c.new_due_at < now, ~reported)
            .order_by(APOLOGIES.c.new_due_at, DOSSIERS.c.id)
            .limit(limit)
        )
        return list((await self.connection.execute(query)).scalars())
