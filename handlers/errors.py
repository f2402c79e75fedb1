"""Refusals the handlers give, each with a stable code that the edges map to 4xx, one-line or chat replies."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Self

from handlers.texts import Texts


@cache
def _texts() -> Texts:
    return Texts.load()


class HandlerError(Exception):
    """A request that cannot be carried out; ``code`` is stable, the message says why.

    A refusal made with ``worded(key, **values)`` is worded by the catalogs (handlers/texts, keys ``error.*``):
    its message, the API's, is the English wording; ``text(locale)`` gives it in any locale (the command line
    shows it in the run's).
    """

    code = "invalid"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        key: str | None = None,
        values: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.key = key
        self.values = dict(values or {})

    @classmethod
    def worded(cls, key: str, /, **values: object) -> Self:
        """A refusal whose wording is ``key`` of the catalogs, filled with ``values`` (its class's code)."""
        return cls(_texts()("en", key, **values), key=key, values=values)

    @property
    def message(self) -> str:
        """The reason, in one line."""
        return str(self)

    def text(self, locale: str) -> str:
        """The reason in ``locale`` (the message as given when it has no catalog key)."""
        return _texts()(locale, self.key, **self.values) if self.key else self.message


class InvalidInput(HandlerError):
    """The input is malformed or names something that does not exist (HTTP 422)."""

    code = "invalid_input"


class NotFound(HandlerError):
    """The thing asked for does not exist (HTTP 404)."""

    code = "not_found"


class Conflict(HandlerError):
    """The request contradicts the current state (HTTP 409)."""

    code = "conflict"
