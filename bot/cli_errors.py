"""The command line's own failures, apart from the commands so that parsing a command line loads none of them."""

from __future__ import annotations


class UsageError(Exception):
    """A bad command line."""


class RowsRejected(Exception):
    """An import applied its good rows and refused others (exit status 3)."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count
