"""What every channel adapter provides: send one queued message and say how it went."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from handlers.messages import Reply

# "failed": the platform refused the message itself (our defect: too long, bad markup); never retried
DeliveryStatus = Literal["delivered", "retry_later", "unreachable", "reauth", "window_closed", "failed"]


# reads the bytes of a reply's attachment (the printable apology slip); None when they are gone
AttachmentLoader = Callable[[dict[str, Any]], Awaitable[bytes | None]]


async def no_attachments(_reference: dict[str, Any]) -> bytes | None:
    """For channels built without a loader: attachments travel as their links."""
    return None


@dataclass(frozen=True)
class Delivery:
    """The shared outcome of one send, whatever the platform said."""

    status: DeliveryStatus
    platform_message_id: str | None = None
    retry_after: float | None = None
    error: str | None = None


class Channel(Protocol):
    """A way to reach people: Telegram, Zalo OA, ZNS, the Zalo Bot platform, the console."""

    name: str

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Send ``reply`` to ``recipient`` (a chat id on this channel).

        ``replace`` is the platform id of an earlier message of the same thread, to edit in place
        where the channel can; a channel that cannot sends a new message.
        """
        ...
