"""Logging: one line per event, as text or JSON (SIPAS_LOG_FORMAT), never with a phone number, ID or name.

Code never logs personal data on purpose; the redacting filter is the safety net for what slips through
(an exception's text, a platform's error message quoting a user), with the same masks as digests use.

Nor a secret: every token, key, webhook secret and invite code the process knows of (the settings', the Zalo OA
pair as it rotates, an API key or an invite code once presented) is remembered here and shown as ``***`` in every
log line and every error message the command prints (``scrub``). The HTTP clients' request lines, which carry the
bot tokens in their URLs, and fontTools' per-glyph chatter are kept below INFO.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

from handlers.privacy import redact

MASK = "***"
SHORTEST_SECRET = 4  # shorter values would mask ordinary words; no real secret is that short
PRESENTED = 512  # presented values kept (guessed codes must not grow the list without end)
# libraries that log every request (with the bot token in the URL) or every glyph of a slip at INFO
QUIET_LOGGERS = ("httpx", "httpcore", "fontTools", "hpack", "urllib3")
_JOIN_CODE = re.compile(r"(/join(?:@\w+)?\s+)\S+", re.IGNORECASE)  # an invite code, wherever a message quotes one


class Secrets:
    """The secret values this process holds; ``scrub`` masks them (raw and URL-encoded) in any text."""

    def __init__(self) -> None:
        self._values: set[str] = set()  # configured and platform secrets: kept for the life of the process
        self._presented: OrderedDict[str, None] = OrderedDict()  # keys and codes people sent: the latest ones
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _forms(values: Iterable[str | None]) -> set[str]:
        found = {v for value in values if value for v in (value.strip(), quote(value.strip(), safe=""))}
        return {v for v in found if len(v) >= SHORTEST_SECRET}

    def remember(self, *values: str | None) -> None:
        """Add secret values (None and very short ones are ignored)."""
        fresh = self._forms(values) - self._values
        if fresh:
            with self._lock:
                self._values |= fresh
                self._compile()

    def remember_presented(self, *values: str | None) -> None:
        """Add values a caller presented (an API key, an invite code); only the latest ``PRESENTED`` are kept."""
        fresh = self._forms(values) - self._values - self._presented.keys()
        if fresh:
            with self._lock:
                for value in fresh:
                    self._presented[value] = None
                while len(self._presented) > PRESENTED:
                    self._presented.popitem(last=False)
                self._compile()

    def _compile(self) -> None:
        ordered = sorted({*self._values, *self._presented}, key=len, reverse=True)  # longest first: none half-masked
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def scrub(self, text: str) -> str:
        """``text`` with every known secret, and the code after any ``/join``, replaced by ``***``."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return _JOIN_CODE.sub(lambda m: m.group(1) + MASK, text)

    def forget_all(self) -> None:
        """Forget every value (tests)."""
        with self._lock:
            self._values.clear()
            self._presented.clear()
            self._pattern = None


SECRETS = Secrets()


def remember_secrets(*values: str | None) -> None:
    """Never show these values in a log line or an error message."""
    SECRETS.remember(*values)


def remember_presented(*values: str | None) -> None:
    """Never show these values (a valid API key, an invite code sent to the bot) in a log line."""
    SECRETS.remember_presented(*values)


def remember_join_code(text: str) -> None:
    """The invite code of a ``/join CODE`` message, remembered as a presented secret."""
    found = _JOIN_CODE.search(text.strip())
    if found is not None and found.start() == 0:
        SECRETS.remember_presented(text.strip()[found.end(1) :].split()[0])


def remember_all(values: Iterable[str | None]) -> None:
    """``remember_secrets`` for an iterable."""
    SECRETS.remember(*values)


def scrub(text: str) -> str:
    """``text`` without any secret this process knows of."""
    return SECRETS.scrub(text)


class RedactingFilter(logging.Filter):
    """Masks secrets, phone numbers, ID numbers, e-mail addresses and Vietnamese names in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message (and exception and stack text) by its redacted form."""
        record.msg = redact(scrub(record.getMessage()))
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(scrub(record.exc_text))
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
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
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
