"""What every channel adapter provides: send one queued message and say how it went."""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from handlers.clock import Clock, SystemClock
from handlers.messages import Reply

# "failed": the platform refused the message itself (our defect: too long, bad markup); never retried
DeliveryStatus = Literal["delivered", "retry_later", "unreachable", "reauth", "window_closed", "failed"]


PLATFORM_ID = re.compile(r"[\x21-\x7e]{1,128}")  # what every platform's ids of chats, users and messages are

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
    """A way to reach people (Telegram, Zalo OA, ZNS, the Zalo Bot platform, the console), as the outbox sees it.

    The sending part of a ``ChannelRuntime`` (``bot.channels.runtime``), which every channel is.
    """

    name: str

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Send ``reply`` to ``recipient`` (a chat id on this channel).

        ``replace`` is the platform id of an earlier message of the same thread, to edit in place
        where the channel can; a channel that cannot sends a new message.
        """
        ...


def platform_id(value: object) -> str | None:
    """A platform's id (of a chat, a user, a message) as text: an integer or 1–128 visible ASCII characters.

    None for anything else: a webhook body is outside data, and an id that is not one is not an event we act on.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    return value if isinstance(value, str) and PLATFORM_ID.fullmatch(value) else None


def json_object(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a field of a body that is not what it should be)."""
    return value if isinstance(value, dict) else {}


def json_text(value: object) -> str:
    """``value`` when it is a string (a number is taken as its digits), else an empty string."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def secret_matches(given: str, secret: str | None) -> bool:
    """Whether a webhook's secret header is ours, in constant time; no secret configured matches nothing.

    A header that is not UTF-8 arrives with surrogates standing for its bytes: it is compared as those bytes.
    """
    return bool(secret) and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), (secret or "").encode())


SYSTEM_CLOCK = SystemClock()  # the real time (it holds nothing)


async def pause(stop: asyncio.Event, seconds: float, clock: Clock | None = None) -> None:
    """Wait ``seconds`` of ``clock`` (the real one unless given), or less if ``stop`` is set meanwhile (a back-off)."""
    await (clock or SYSTEM_CLOCK).wait(stop, seconds)
