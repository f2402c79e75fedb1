"""Files the product made and keeps (charts, workbooks). Never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from storage.repositories.base import Repository, as_value
from storage.tables.staff import FILES
from storage.values import StoredFile


class FileRepository(Repository):
    """Files the product made and keeps."""

    async def add(
        self,
        kind: str,
        unit_id: int | None,
        period: str,
        name: str,
        media_type: str,
        token: str,
        content: bytes,
        now: datetime,
    ) -> StoredFile:
        """Keep a file."""
        statement = (
            insert(FILES)
            .values(
                kind=kind,
                unit_id=unit_id,
                period=period,
                name=name,
                media_type=media_type,
                token=token,
                content=content,
                created_at=now,
            )
            .returning(*[c for c in FILES.c if c.name != "content"])
        )
        stored = await self._first(StoredFile, statement)
        assert stored is not None
        return stored

    async def content(self, *, file_id: int | None = None, token: str | None = None) -> tuple[StoredFile, bytes] | None:
        """A kept file and its bytes, by id or by token."""
        condition = FILES.c.id == file_id if file_id is not None else FILES.c.token == token
        row = (await self.connection.execute(select(FILES).where(condition))).first()
        if row is None:
            return None
        return as_value(StoredFile, row), bytes(row.content)

    async def latest(self, unit_id: int, kind: str, period: str) -> StoredFile | None:
        """The newest kept file of a kind for a unit and period."""
        query = (
            select(*[c for c in FILES.c if c.name != "content"])
            .where(FILES.c.unit_id == unit_id, FILES.c.kind == kind, FILES.c.period == period)
            .order_by(FILES.c.id.desc())
            .limit(1)
        )
        return await self._first(StoredFile, query)
