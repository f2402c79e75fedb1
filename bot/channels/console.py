"""The console channel: a chat in the terminal, without buttons — options become numbered lines."""

from __future__ import annotations

from typing import TextIO

from bot.channels.base import Delivery
from bot.channels.plain import render_plain
from handlers.messages import Reply


class ConsoleChannel:
    """Prints messages to a terminal (or any text stream)."""

    name = "console"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.sent = 0

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Print the message (a terminal cannot edit what it printed: always a new message)."""
        self.stream.write("\n" + render_plain(reply) + "\n")
        self.stream.flush()
        self.sent += 1
        return Delivery("delivered", platform_message_id=str(self.sent))
