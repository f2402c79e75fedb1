"""Queries for the short link codes (the receipt's printed code, the linking page's code). Never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from storage.repositories.base import Repository, dialect_insert
from storage.tables.dossiers import LINK_CODES


@dataclass(frozen=True)
class LinkCode:
    """A link code as stored: the printed one carries ``code``, the page's one ``code_hash`` and ``expires_at``."""

    id: int
    dossier_id: int
    kind: str
    code: str | None
    code_hash: str | None
    expires_at: datetime | None
    failures: int
    failed_at: datetime | None


class LinkCodeRepository(Repository):
    """The link codes of dossiers."""

    async def printed(self, dossier_id: int) -> LinkCode | None:
        """The dossier's printed code, if it has one yet."""
        query = select(LINK_CODES).where(LINK_CODES.c.dossier_id == dossier_id, LINK_CODES.c.kind == "printed")
        return await self._first(LinkCode, query)

    async def add_printed(self, dossier_id: int, code: str, now: datetime) -> bool:
        """Give the dossier ``code`` as its printed code; False when the code or the dossier already has one."""
        statement = (
            dialect_insert(self.dialect, LINK_CODES)
            .values(dossier_id=dossier_id, kind="printed", code=code, failures=0, created_at=now)
            .on_conflict_do_nothing()
        )
        return await self._run(statement) == 1

    async def by_printed_code(self, code: str) -> LinkCode | None:
        """The printed code ``code``."""
        query = select(LINK_CODES).where(LINK_CODES.c.kind == "printed", LINK_CODES.c.code == code)
        return await self._first(LinkCode, query)

    async def by_page_hash(self, code_hash: str) -> list[LinkCode]:
        """The page codes with this hash (live or expired), the latest to expire first."""
        query = (
            select(LINK_CODES)
            .where(LINK_CODES.c.kind == "page", LINK_CODES.c.code_hash == code_hash)
            .order_by(LINK_CODES.c.expires_at.desc(), LINK_CODES.c.id.desc())
        )
        return await self._all(LinkCode, query)

    async def page_hash_live(self, code_hash: str, now: datetime) -> bool:
        """Whether another dossier's live page code has this hash (a new code must differ from every live one)."""
        query = select(LINK_CODES.c.id).where(
            LINK_CODES.c.kind == "page", LINK_CODES.c.code_hash == code_hash, LINK_CODES.c.expires_at > now
        )
        return (await self.connection.execute(query.limit(1))).first() is not None

    async def put_page(self, dossier_id: int, code_hash: str, expires_at: datetime, now: datetime) -> None:
        """The dossier's page code from now on (the one before stops working)."""
        await self.connection.execute(
            delete(LINK_CODES).where(LINK_CODES.c.dossier_id == dossier_id, LINK_CODES.c.kind == "page")
        )
        await self.connection.execute(
            dialect_insert(self.dialect, LINK_CODES).values(
                dossier_id=dossier_id,
                kind="page",
                code_hash=code_hash,
                expires_at=expires_at,
                failures=0,
                created_at=now,
            )
        )

    async def purge_pages(self, expired_before: datetime) -> int:
        """Forget the page codes that expired before ``expired_before``; how many."""
        return await self._run(
            delete(LINK_CODES).where(LINK_CODES.c.kind == "page", LINK_CODES.c.expires_at < expired_before)
        )

    async def drop(self, code_id: int) -> None:
        """Forget a code (a page code, once used)."""
        await self.connection.execute(delete(LINK_CODES).where(LINK_CODES.c.id == code_id))

    async def drop_for_dossiers(self, dossier_ids: list[int]) -> None:
        """Forget every code of these dossiers (their people were erased: the receipt's code stops working)."""
        if dossier_ids:
            await self.connection.execute(delete(LINK_CODES).where(LINK_CODES.c.dossier_id.in_(dossier_ids)))

    async def failed(self, code_id: int, failures: int, now: datetime) -> None:
        """Record a wrong confirmation of a printed code: its count of failures is now ``failures``."""
        await self.connection.execute(
            update(LINK_CODES).where(LINK_CODES.c.id == code_id).values(failures=failures, failed_at=now)
        )
