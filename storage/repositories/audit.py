"""The audit log: who did what, and the unit it concerns. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select

from storage.repositories.base import Repository
from storage.tables.dossiers import DOSSIERS
from storage.tables.service import AUDIT
from storage.tables.staff import FEEDBACK
from storage.tables.units import UNITS
from storage.values import AuditEntry


class AuditRepository(Repository):
    """The audit log."""

    async def add(
        self,
        actor: str,
        action: str,
        subject: str | None,
        detail: dict[str, Any] | None,
        now: datetime,
        *,
        unit_id: int | None = None,
    ) -> None:
        """Record who did what; the unit it concerns is ``unit_id``, else the one its subject names."""
        unit = unit_id if unit_id is not None else _unit_of_subject(subject)
        await self._run(
            insert(AUDIT).values(at=now, actor=actor, action=action, subject=subject, detail=detail, unit_id=unit)
        )

    async def entries(self, unit_ids: Sequence[int] | None, since: datetime | None, limit: int) -> list[AuditEntry]:
        """The newest ``limit`` entries, oldest first: of ``unit_ids`` (None: every unit, and acts tied to none)."""
        query = select(*AUDIT.c, UNITS.c.code.label("unit_code")).select_from(
            AUDIT.outerjoin(UNITS, UNITS.c.id == AUDIT.c.unit_id)
        )
        if unit_ids is not None:
            query = query.where(AUDIT.c.unit_id.in_(list(unit_ids)))
        if since is not None:
            query = query.where(AUDIT.c.at >= since)
        newest = await self._all(AuditEntry, query.order_by(AUDIT.c.at.desc(), AUDIT.c.id.desc()).limit(limit))
        return newest[::-1]


def _unit_of_subject(subject: str | None) -> Any:
    """The unit a subject names, as a subquery: ``unit:CODE``, ``dossier:CODE``, ``feedback:ID``, ``person:ID``.

    A person is attributed to the unit of their latest dossier; any other subject to no unit.
    """
    kind, _, key = (subject or "").partition(":")
    if kind == "unit":
        return select(UNITS.c.id).where(UNITS.c.code == key).scalar_subquery()
    if kind == "dossier":
        return select(DOSSIERS.c.unit_id).where(DOSSIERS.c.code == key).scalar_subquery()
    if not key.isascii() or not key.isdigit() or len(key) > 18:
        return None
    if kind == "feedback":
        return select(FEEDBACK.c.unit_id).where(FEEDBACK.c.id == int(key)).scalar_subquery()
    if kind == "person":
        person = int(key)
        return (
            select(DOSSIERS.c.unit_id)
            .where(or_(DOSSIERS.c.applicant_id == person, DOSSIERS.c.representative_id == person))
            .order_by(DOSSIERS.c.received_at.desc(), DOSSIERS.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
    return None
