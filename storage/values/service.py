"""Running the service: API keys, stored answers to idempotent requests, the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ApiKey:
    """A live API key (its hash never leaves storage) and the units it may act for."""

    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    all_units: bool = False  # a province's key: every unit
    covered: frozenset[int] = frozenset()  # the ids of its units and of every unit below them

    def covers(self, unit_id: int) -> bool:
        """Whether the key may read or change what belongs to the unit ``unit_id``."""
        return self.all_units or unit_id in self.covered


@dataclass(frozen=True)
class ApiKeyListing:
    """An API key as `sipasbot apikey list` shows it: never the key itself."""

    name: str
    prefix: str
    scopes: tuple[str, ...]
    all_units: bool
    units: tuple[str, ...]  # unit codes
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class StoredResponse:
    """The answer once given to a request with an Idempotency-Key."""

    request_hash: str
    status_code: int
    response: dict[str, Any]


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log, with the code of the unit it concerns (None: not tied to one)."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    detail: dict[str, Any] | None
    unit_code: str | None
