"""Logging: one line per event, as text or JSON (SIPAS_LOG_FORMAT), never with a phone number, ID or name.

Code never logs personal data on purpose; the redacting filter is the safety net for what slips through
(an exception's text, a platform's error message quoting a user), with the same masks as digests use.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from handlers.privacy import redact


class RedactingFilter(logging.Filter):
    """Masks phone numbers, ID numbers, e-mail addresses and Vietnamese names in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message (and exception text) by its redacted form."""
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """A JSON object per line: time (UTC), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str, level: int = logging.WARNING) -> None:
    """Send every log record through the redacting filter, formatted as ``text`` or ``json``."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
