"""What every channel adapter provides: send one queued message and say how it went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from handlers.messages import Reply

# "failed": the platform refused the message itself (our defect: too long, bad markup); never retried
DeliveryStatus = Literal["delivered", "retry_later", "unreachable", "reauth", "window_closed", "failed"]


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
