"""The console channel: a chat in the terminal, without buttons — options become numbered lines.

A terminal cannot show a PDF or a chart: an attachment (an apology slip, a digest's chart, a workbook) is
written to a folder (``SIPAS_FILES_DIR`` or ``sipasbot shell --files DIR``) and its path printed. Only when
that is impossible does its link stand in its place.

`sipasbot run` has no terminal: it delivers console messages to the console's inbox (``ConsoleInbox``),
where the shell — another process, on the same database — finds and prints them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, TextIO

from bot.channels.base import AttachmentLoader, Delivery, no_attachments
from bot.channels.plain import render_plain
from bot.channels.runtime import OK
from bot.texts import say
from handlers.messages import Reply

DEFAULT_FOLDER = Path("sipasbot-tep")


def _file_name(attachment: dict[str, Any]) -> str:
    """The attachment's own file name, reduced to a safe one (no folders, no odd characters)."""
    name = Path(str(attachment.get("filename") or "tep")).name
    name = re.sub(r"[^\w.\-]+", "-", name).strip(".-")
    return name or "tep"


class ConsoleChannel:
    """Prints messages to a terminal (or any text stream); writes their attachments to ``folder``."""

    name = "console"

    def __init__(
        self, stream: TextIO, attachments: AttachmentLoader = no_attachments, folder: Path = DEFAULT_FOLDER
    ) -> None:
        self.stream = stream
        self.attachments = attachments
        self.folder = folder
        self.sent = 0

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to release."""

    def health(self) -> str:
        """Always ``ok``."""
        return OK

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Print the message (a terminal cannot edit what it printed: always a new message)."""
        saved: list[str] = []
        left: list[dict[str, Any]] = []  # attachments shown as their links
        for attachment in reply.attachments:
            content = await self.attachments(attachment)
            if content is None:
                left.append(attachment)
                continue
            try:
                saved.append(say("cli.shell.file_saved", path=self._write(_file_name(attachment), content)))
            except OSError as error:
                left.append(attachment)
                reason = error.strerror or type(error).__name__
                saved.append(say("cli.shell.file_not_saved", folder=self.folder, reason=reason))
        text = render_plain(dataclasses.replace(reply, attachments=tuple(left)))
        self.stream.write("\n" + "\n".join([text, *saved]) + "\n")
        self.stream.flush()
        self.sent += 1
        return Delivery("delivered", platform_message_id=str(self.sent))

    def _write(self, name: str, content: bytes) -> Path:
        """Write a file to the folder, next to (never over) an earlier one of the same name; its full path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem, suffix = Path(name).stem, Path(name).suffix
        path, number = self.folder / name, 1
        while path.exists():
            number += 1
            path = self.folder / f"{stem}-{number}{suffix}"
        path.write_bytes(content)
        return path.resolve()


class ConsoleInbox:
    """The console as `sipasbot run` reaches it: every message is delivered to the inbox the shell reads.

    Sending changes nothing itself: the outbox keeps the message as unread (``storage.console_inbox``)
    instead of marking it sent, and the shell marks it sent when it shows it.
    """

    name = "console"

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to release."""

    def health(self) -> str:
        """Always ``ok``."""
        return OK

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Always delivered: the inbox is the database, which the outbox writes to with the outcome."""
        return Delivery("delivered")
