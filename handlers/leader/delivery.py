"""How what leaders read reaches them: their chats, the files kept for them, and the messages that carry those.

A chart or a workbook is kept under an unguessable token, so a channel that cannot carry a file sends its link.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from handlers.context import Services
from handlers.messages import Reply
from handlers.staff.desk import LEADER_ROLES
from storage.uow import UnitOfWork
from storage.values import Chat, StoredFile, Unit


class LeaderDelivery:
    """Finds a unit's leaders and makes the messages that bring them a digest or a kept file."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    async def leaders(uow: UnitOfWork, unit_id: int) -> list[Chat]:
        """The reachable chats of the unit's own leaders (a leader of the unit above gets that unit's digest)."""
        return list({s.chat.id: s.chat for s in await uow.roles.chats([unit_id], LEADER_ROLES)}.values())

    async def units_with_leaders(self) -> list[Unit]:
        """Units that have at least one reachable leader of their own."""
        async with self.services.uow(read_only=True) as uow:
            units = await uow.units.all()
            return [u for u in units if await self.leaders(uow, u.id)]

    @staticmethod
    async def keep(
        uow: UnitOfWork, kind: str, unit_id: int, period: str, name: str, media_type: str, content: bytes, now: datetime
    ) -> StoredFile:
        """Keep a file (a chart, a workbook) under an unguessable token."""
        return await uow.files.add(kind, unit_id, period, name, media_type, secrets.token_urlsafe(16), content, now)

    def replies(self, text: str, stored: StoredFile, locale: str) -> list[Reply]:
        """A digest as messages: its text (cut where a channel needs it) and its chart."""
        return [
            Reply(text, heading=True),
            self.file_reply(stored, self.services.texts(locale, "digest.chart_caption"), locale),
        ]

    def file_reply(self, stored: StoredFile, caption: str, locale: str) -> Reply:
        """A kept file as a message of its own (sent as a file, or as its link where files cannot go)."""
        url = f"{self.services.policy.public_url.rstrip('/')}/tep/{stored.token}/{stored.name}"
        attachment = {
            "kind": "file",
            "file_id": stored.id,
            "filename": stored.name,
            "media_type": stored.media_type,
            "url": url,
            "link_text": self.services.texts(locale, "file.link", url=url),
        }
        return Reply(caption, attachments=(attachment,))
