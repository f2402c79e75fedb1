"""Messages on the channels: queued in the outbox, kept in the inbox, and the platforms' credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

INTERACTIVE, BULK = 0, 1  # an outbox message's priority


@dataclass(frozen=True)
class OutboxMessage:
    """A queued message."""

    id: int
    channel: str
    recipient: str
    identity_id: int | None
    invitation_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    not_before: datetime
    priority: int = 1  # INTERACTIVE: a reply to the recipient's own action; BULK: unsolicited

    @property
    def interactive(self) -> bool:
        """A reply to what the recipient just did: sent before the bulk (docs/CHANNELS.md)."""
        return self.priority == INTERACTIVE


@dataclass(frozen=True)
class KeptUpdate:
    """A platform update kept in the inbox, not handled yet."""

    id: int
    update_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class PlatformToken:
    """A platform's current credentials (the Zalo OA token pair) and whether they still work."""

    channel: str
    access_token: str
    refresh_token: str
    expires_at: datetime
    status: str
    last_error: str | None
    refreshed_at: datetime | None
