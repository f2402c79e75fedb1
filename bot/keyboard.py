"""What is typed at a terminal, and Ctrl-C, for `sipasbot shell` and `sipasbot demo`.

Lines are read from the terminal's descriptor by the event loop, not by a thread: a thread blocked in
``readline`` would hold Ctrl-C (and the exit) until Enter. Ctrl-C while a line is awaited raises
``Interrupted`` at once; the callers end the current flow on the first and raise ``Left`` on a second in a row.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TextIO


class Interrupted(Exception):
    """Ctrl-C was pressed while a line was awaited (or since the last one)."""


class Left(Exception):
    """A second Ctrl-C in a row: the person leaves (exit status 130)."""


class Keyboard:
    """Lines typed at a terminal; Ctrl-C counted from the last line typed."""

    def __init__(self, stdin: TextIO) -> None:
        self.fd = stdin.fileno()
        self.interrupts = 0  # Ctrl-C pressed since the last line typed
        self._buffer = b""
        self._pending = False  # a Ctrl-C came while no line was awaited
        self._waiter: asyncio.Future[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen(self) -> None:
        """Take Ctrl-C (SIGINT) from now on, instead of the default interruption."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_signal_handler(signal.SIGINT, self._interrupt)

    def release(self) -> None:
        """Give Ctrl-C back: a later one interrupts the command as usual (exit status 130)."""
        if self._loop is not None:
            self._loop.remove_signal_handler(signal.SIGINT)
            self._loop = None

    def _interrupt(self) -> None:
        self.interrupts += 1
        self._buffer = b""  # the terminal drops what was being typed: so do we
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(Interrupted())
        else:
            self._pending = True

    async def read_line(self) -> str | None:
        """The next line typed (None at the end of input); ``Interrupted`` on Ctrl-C."""
        if self._pending:
            self._pending = False
            raise Interrupted
        while b"\n" not in self._buffer:
            chunk = await self._read()
            if not chunk:  # Ctrl-D, or the terminal closed
                rest, self._buffer = self._buffer, b""
                return rest.decode("utf-8", "replace") if rest else None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        self.interrupts = 0
        return line.decode("utf-8", "replace").rstrip("\r")

    async def _read(self) -> bytes:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bytes] = loop.create_future()
        self._waiter = waiter

        def readable() -> None:
            if waiter.done():
                return
            try:
                waiter.set_result(os.read(self.fd, 4096))
            except OSError:  # EIO: the terminal is gone
                waiter.set_result(b"")

        loop.add_reader(self.fd, readable)
        try:
            return await waiter
        finally:
            loop.remove_reader(self.fd)
            self._waiter = None
