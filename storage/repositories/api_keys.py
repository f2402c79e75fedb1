"""API keys of the one-stop-shop software; only hashes are kept. Never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select, update

from storage.repositories.base import Repository
from storage.tables.service import API_KEY_UNITS, API_KEYS
from storage.tables.units import UNITS
from storage.values import ApiKey, ApiKeyListing


class ApiKeyRepository(Repository):
    """API keys of the one-stop-shop software; only hashes are kept."""

    async def add(
        self,
        name: str,
        prefix: str,
        key_hash: str,
        scopes: Iterable[str],
        now: datetime,
        unit_ids: Iterable[int] = (),
        all_units: bool = False,
    ) -> int:
        """Store a new key's hash and its units; its id."""
        statement = insert(API_KEYS).values(
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            scopes=",".join(sorted(scopes)),
            created_at=now,
            all_units=all_units,
        )
        key_id = int((await self.connection.execute(statement.returning(API_KEYS.c.id))).scalar_one())
        rows = [{"api_key_id": key_id, "unit_id": unit_id} for unit_id in sorted(set(unit_ids))]
        if rows:
            await self.connection.execute(insert(API_KEY_UNITS), rows)
        return key_id

    async def find(self, key_hash: str) -> ApiKey | None:
        """The live (not revoked) key with ``key_hash``, with the units it covers (its units and those below)."""
        row = (
            await self.connection.execute(
                select(API_KEYS).where(API_KEYS.c.key_hash == key_hash, API_KEYS.c.revoked_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        tree = select(API_KEY_UNITS.c.unit_id.label("id")).where(API_KEY_UNITS.c.api_key_id == row.id)
        tree_cte = tree.cte("covered", recursive=True)
        tree_cte = tree_cte.union_all(select(UNITS.c.id).join(tree_cte, UNITS.c.parent_id == tree_cte.c.id))
        covered = frozenset(int(i) for i in (await self.connection.execute(select(tree_cte.c.id))).scalars())
        scopes = frozenset(filter(None, row.scopes.split(",")))
        return ApiKey(row.id, row.name, row.prefix, scopes, all_units=bool(row.all_units), covered=covered)

    async def listing(self) -> list[ApiKeyListing]:
        """Every key, live or revoked, by name then creation: what it may do, never the key."""
        keys = (await self.connection.execute(select(API_KEYS).order_by(API_KEYS.c.name, API_KEYS.c.id))).all()
        pairs = await self.connection.execute(
            select(API_KEY_UNITS.c.api_key_id, UNITS.c.code)
            .join(UNITS, UNITS.c.id == API_KEY_UNITS.c.unit_id)
            .order_by(UNITS.c.code)
        )
        codes: dict[int, list[str]] = {}
        for key_id, code in pairs:
            codes.setdefault(int(key_id), []).append(str(code))
        return [
            ApiKeyListing(
                name=row.name,
                prefix=row.prefix,
                scopes=tuple(filter(None, row.scopes.split(","))),
                all_units=bool(row.all_units),
                units=tuple(codes.get(row.id, ())),
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                revoked_at=row.revoked_at,
            )
            for row in keys
        ]

    async def touch(self, key_id: int, now: datetime) -> None:
        """Remember when the key was last used."""
        await self._run(update(API_KEYS).where(API_KEYS.c.id == key_id).values(last_used_at=now))

    async def revoke(self, name: str, now: datetime) -> int:
        """Revoke every live key called ``name``; how many."""
        return await self._run(
            update(API_KEYS).where(API_KEYS.c.name == name, API_KEYS.c.revoked_at.is_(None)).values(revoked_at=now)
        )
