"""Apology slips and their numbering per issuing unit and year. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text, update

from storage.repositories.base import Repository, dialect_insert
from storage.tables.dossiers import DOSSIERS
from storage.tables.staff import APOLOGIES
from storage.values import Apology, ApologyLine

SERIES_LOCK = 0x50584C  # "PXL": the advisory lock key of an apology number series (with the issuing unit's id)


class ApologyRepository(Repository):
    """Apology slips."""

    async def add(self, now: datetime, **values: Any) -> Apology | None:
        """Record the dossier's apology; None when the dossier has one of that kind already (one per kind, ever)."""
        statement = (
            dialect_insert(self.dialect, APOLOGIES)
            .values(issued_at=now, **values)
            .on_conflict_do_nothing(index_elements=["dossier_id", "kind"])
            .returning(*APOLOGIES.c)
        )
        return await self._first(Apology, statement)

    async def next_seq(self, unit_id: int, year: int) -> int:
        """The next slip number of the unit in ``year``.

        On PostgreSQL two transactions numbering in one series (a ward's and its reception points') take turns:
        a transaction advisory lock on the series, held until commit, so none reads the same last number.
        """
        if self.dialect == "postgresql":
            await self._run(
                text("SELECT pg_advisory_xact_lock(:series, :unit)"), {"series": SERIES_LOCK, "unit": unit_id % 2**31}
            )
        query = select(func.coalesce(func.max(APOLOGIES.c.seq), 0)).where(
            APOLOGIES.c.unit_id == unit_id, APOLOGIES.c.year == year
        )
        return int((await self.connection.execute(query)).scalar_one()) + 1

    async def get(self, apology_id: int) -> Apology | None:
        """The apology with id ``apology_id`` (without its PDF)."""
        columns = [c for c in APOLOGIES.c if c.name != "pdf"]
        return await self._first(Apology, select(*columns).where(APOLOGIES.c.id == apology_id))

    async def by_token(self, token: str) -> Apology | None:
        """The apology whose slip is published under ``token``."""
        columns = [c for c in APOLOGIES.c if c.name != "pdf"]
        return await self._first(Apology, select(*columns).where(APOLOGIES.c.token == token))

    async def set_pdf(self, apology_id: int, pdf: bytes) -> None:
        """Keep the printable slip."""
        await self._run(update(APOLOGIES).where(APOLOGIES.c.id == apology_id).values(pdf=pdf))

    async def pdf(self, *, apology_id: int | None = None, token: str | None = None) -> bytes | None:
        """The printable slip, by id or by its public token."""
        condition = APOLOGIES.c.id == apology_id if apology_id is not None else APOLOGIES.c.token == token
        return (await self.connection.execute(select(APOLOGIES.c.pdf).where(condition))).scalar()

    async def for_units(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[Apology]:
        """The apologies issued in [start, end) for dossiers of ``unit_ids``, oldest first."""
        query = (
            select(*[c for c in APOLOGIES.c if c.name != "pdf"])
            .join(DOSSIERS, DOSSIERS.c.id == APOLOGIES.c.dossier_id)
            .where(
                DOSSIERS.c.unit_id.in_(unit_ids),
                and_(APOLOGIES.c.issued_at >= start, APOLOGIES.c.issued_at < end),
            )
            .order_by(APOLOGIES.c.issued_at)
        )
        return await self._all(Apology, query)

    async def issued_between(self, unit_ids: Sequence[int], start: datetime, end: datetime) -> list[ApologyLine]:
        """Every apology (of either kind) issued in [start, end) for dossiers of ``unit_ids``, oldest first."""
        query = (
            select(
                DOSSIERS.c.code,
                DOSSIERS.c.handler,
                APOLOGIES.c.issued_by,
                APOLOGIES.c.issued_at,
                DOSSIERS.c.due_at,
                APOLOGIES.c.new_due_at,
                APOLOGIES.c.reason,
                APOLOGIES.c.kind,
                APOLOGIES.c.in_time,
                APOLOGIES.c.number,
                APOLOGIES.c.issued_key,
            )
            .select_from(APOLOGIES.join(DOSSIERS, DOSSIERS.c.id == APOLOGIES.c.dossier_id))
            .where(DOSSIERS.c.unit_id.in_(unit_ids), APOLOGIES.c.issued_at >= start, APOLOGIES.c.issued_at < end)
            .order_by(APOLOGIES.c.issued_at, APOLOGIES.c.id)
        )
        return await self._all(ApologyLine, query)
