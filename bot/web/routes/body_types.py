"""The value types of request bodies: text a database can keep, and moments in ISO 8601 (local without an offset)."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import partial
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator, WithJsonSchema

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
YEARS = range(1900, 3000)  # far enough either way; keeps every conversion clear of datetime's limits


def _moment(value: object, *, date_allowed: bool = True) -> datetime | date:
    """An ISO 8601 date-time (with or without an offset) or, where allowed, a date alone."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 string")
    text = value.strip()
    date_only = DATE_RE.fullmatch(text) is not None
    if date_only and not date_allowed:
        raise ValueError("a date and a time are required, e.g. 2026-11-18T09:30:00+07:00")
    parsed: datetime | date
    try:
        parsed = date.fromisoformat(text) if date_only else datetime.fromisoformat(text)
    except ValueError:
        example = "2026-11-18T09:30:00+07:00" + (" or 2026-11-18" if date_allowed else "")
        kind = "date or date-time" if date_allowed else "date-time"
        raise ValueError(f"not an ISO 8601 {kind} (e.g. {example})") from None
    if parsed.year not in YEARS:
        raise ValueError(f"the year must be between {YEARS.start} and {YEARS.stop - 1}")
    return parsed


def storable(text: str) -> str:
    """``text`` if a database can keep it: no NUL character, no unpaired surrogate (JSON can carry both)."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain unpaired surrogates") from None
    return text


Text = Annotated[str, AfterValidator(storable)]

_NAIVE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"
Moment = Annotated[
    datetime | date,
    PlainValidator(_moment),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date-time"}, {"pattern": _NAIVE}, {"format": "date"}],
            "description": (
                "ISO 8601. With an offset it is taken as is; without one it is local time (SIPAS_TIMEZONE). "
                "A date alone means the start of that local day for received_at and its end (23:59:59) for due_at."
            ),
            "examples": ["2026-11-18T09:30:00+07:00", "2026-11-18T09:30:00", "2026-11-18"],
        }
    ),
]
EventMoment = Annotated[
    datetime,
    PlainValidator(partial(_moment, date_allowed=False)),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date-time"}, {"pattern": _NAIVE}],
            "description": "ISO 8601 date-time; without an offset it is local time (SIPAS_TIMEZONE).",
            "examples": ["2026-11-20T15:00:00+07:00"],
        }
    ),
]


class Body(BaseModel):
    """A request body: a field it does not know is refused."""

    model_config = ConfigDict(extra="forbid")
