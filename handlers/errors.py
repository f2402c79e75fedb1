"""Refusals the handlers give, each with a stable code that the edges map to 4xx, one-line or chat replies."""

from __future__ import annotations


class HandlerError(Exception):
    """A request that cannot be carried out; ``code`` is stable, the message says why."""

    code = "invalid"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The reason, in one line."""
        return str(self)


class InvalidInput(HandlerError):
    """The input is malformed or names something that does not exist (HTTP 422)."""

    code = "invalid_input"


class NotFound(HandlerError):
    """The thing asked for does not exist (HTTP 404)."""

    code = "not_found"


class Conflict(HandlerError):
    """The request contradicts the current state (HTTP 409)."""

    code = "conflict"
