"""API keys of the one-stop-shop software: made once, shown once, kept only as a hash, limited by scopes and units."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable

from handlers.context import Services
from handlers.errors import InvalidInput, NotFound
from storage.values import ApiKey, ApiKeyListing

SCOPES = ("dossiers:write", "reports:read", "apologies:write")
NAME_RE = re.compile(r"^[\w .-]{1,100}$")
PREFIX = "sipas"
ALL_UNITS = "all"  # a province's key: every unit of the tree


def key_hash(key: str) -> str:
    """The sha256 under which a key is kept (keys are long random strings: no salt or slow hash needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyHandler:
    """Creates and checks API keys."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def create(self, name: str, scopes: Iterable[str], units: Iterable[str]) -> str:
        """A new key with ``scopes`` for ``units`` (each covers the units below it; ``all``: every unit).

        The only time the key's text exists is this return value. A key without a unit is refused.
        """
        wanted = sorted({s.strip() for s in scopes if s.strip()})
        unknown = [s for s in wanted if s not in SCOPES]
        if unknown or not wanted:
            scopes, not_known = ", ".join(SCOPES), ", ".join(unknown)
            if unknown:
                raise InvalidInput.worded("error.apikey_scopes_unknown", scopes=scopes, unknown=not_known)
            raise InvalidInput.worded("error.apikey_scopes", scopes=scopes)
        if not NAME_RE.fullmatch(name):
            raise InvalidInput.worded("error.apikey_name")
        codes = sorted({u.strip() for u in units if u.strip()})
        if not codes:
            raise InvalidInput.worded("error.apikey_units_missing", all=ALL_UNITS)
        all_units = ALL_UNITS in (c.lower() for c in codes)
        if all_units and len(codes) > 1:
            raise InvalidInput.worded("error.apikey_units_all_alone", all=ALL_UNITS)
        public = secrets.token_hex(4)
        key = f"{PREFIX}_{public}_{secrets.token_urlsafe(32)}"
        now = self.services.clock()
        async with self.services.uow() as uow:
            unit_ids = []
            if not all_units:
                found = {code: await uow.units.get_by_code(code) for code in codes}
                missing = [code for code, unit in found.items() if unit is None]
                if missing:
                    raise InvalidInput.worded("error.apikey_units_unknown", units=", ".join(missing))
                unit_ids = [unit.id for unit in found.values() if unit is not None]
            key_id = await uow.api_keys.add(name, public, key_hash(key), wanted, now, unit_ids, all_units)
            shown_units = [ALL_UNITS] if all_units else codes
            await uow.audit.add(
                self.services.actor,
                "apikey.create",
                f"apikey:{key_id}",
                {"name": name, "scopes": wanted, "units": shown_units},
                now,
            )
            await uow.commit()
        return key

    async def listing(self) -> list[ApiKeyListing]:
        """Every key, live or revoked (never the key itself)."""
        async with self.services.uow(read_only=True) as uow:
            return await uow.api_keys.listing()

    async def revoke(self, name: str) -> int:
        """Revoke every live key called ``name``; how many (NotFound when none)."""
        now = self.services.clock()
        async with self.services.uow() as uow:
            revoked = await uow.api_keys.revoke(name, now)
            if not revoked:
                raise NotFound.worded("error.apikey_none", name=name)
            await uow.audit.add(self.services.actor, "apikey.revoke", f"apikey:{name}", {"count": revoked}, now)
            await uow.commit()
        return revoked

    async def check(self, key: str) -> ApiKey | None:
        """The live key ``key`` is, or None."""
        async with self.services.uow() as uow:
            found = await uow.api_keys.find(key_hash(key))
            if found is not None:
                await uow.api_keys.touch(found.id, self.services.clock())
                await uow.commit()
        return found
