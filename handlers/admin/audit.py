"""The audit log as an administrator reads it: who did what, when, in which unit — contact data masked.

Every privileged act is recorded where it happens (keys made and revoked, roles given and taken, apologies
issued, data erased, exports written); this module reads the log back, and records the exports written
at the command line.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from handlers.context import Services
from handlers.errors import NotFound
from handlers.privacy import mask_contacts
from storage.values import AuditEntry

LIMIT = 10_000


def detail_text(detail: dict[str, Any] | None) -> str:
    """An entry's detail on one line, ``key=value`` in the recorded order, phone numbers and e-mails masked."""
    if not detail:
        return ""
    parts = []
    for key, value in detail.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    return mask_contacts(" ".join(parts))


class AuditTrail:
    """Reads the audit log; records exports written."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def entries(self, unit_code: str | None, since: date | None, limit: int = LIMIT) -> list[AuditEntry]:
        """The newest ``limit`` entries, oldest first: of ``unit_code`` and the units below it (None: all)."""
        services = self.services
        start = services.policy.day_start(since) if since is not None else None
        async with services.uow(read_only=True) as uow:
            unit_ids = None
            if unit_code is not None:
                unit = await uow.units.get_by_code(unit_code.strip())
                if unit is None:
                    raise NotFound(unit_code)
                unit_ids = await uow.units.subtree_ids(unit.id)
            return await uow.audit.entries(unit_ids, start, limit)

    async def export_written(self, unit_code: str, what: str, path: str) -> None:
        """Record that ``services.actor`` wrote ``what`` (a report's format) of ``unit_code`` to the file ``path``."""
        services = self.services
        now = services.clock()
        async with services.uow() as uow:
            detail = {"format": what, "file": path}
            await uow.audit.add(services.actor, "export.write", f"unit:{unit_code}", detail, now)
            await uow.commit()
