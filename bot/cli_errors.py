"""The command line's own failures, apart from the commands so that parsing a command line loads none of them."""

from __future__ import annotations

import logging
import sys

from bot.logs import scrub
from bot.texts import say

log = logging.getLogger("sipasbot")


class UsageError(Exception):
    """A bad command line."""


class RowsRejected(Exception):
    """An import applied its good rows and refused others (exit status 3)."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


def unexpected(exc: BaseException, debug: bool) -> int:
    """A failure nobody planned for, or an interrupt: one line (the traceback only with --debug); the exit status."""
    if isinstance(exc, KeyboardInterrupt):
        print("", file=sys.stderr)
        return 130
    if debug:
        log.exception("internal error")
    print(scrub(say("cli.internal_error", kind=type(exc).__name__, message=exc)), file=sys.stderr)
    return 1
