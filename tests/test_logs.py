"""Logs carry no personal data, and come as JSON lines when asked."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import JsonFormatter, RedactingFilter


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("sipas.test", logging.WARNING, __file__, 1, message, args, exc_info)


def emit(entry: logging.LogRecord, *, json_lines: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    handler.handle(entry)
    return stream.getvalue()


def test_phones_names_ids_and_emails_never_reach_the_log() -> None:
    line = emit(record("platform said: %s", "user Nguyễn Văn An (0912 345 678, an@example.vn, 012345678901) blocked"))
    assert "0912 345 678" not in line
    assert "Nguyễn Văn An" not in line
    assert "an@example.vn" not in line
    assert "012345678901" not in line
    assert "09*****678" in line


def test_an_exception_text_is_redacted_too() -> None:
    try:
        raise ValueError("no chat for +84912345678")
    except ValueError as error:
        line = emit(record("delivery failed", exc=error))
    assert "+84912345678" not in line
    assert "ValueError" in line


def test_json_lines() -> None:
    entry = json.loads(emit(record("outbox %s waiting", 3), json_lines=True))
    assert entry["level"] == "warning"
    assert entry["logger"] == "sipas.test"
    assert entry["message"] == "outbox 3 waiting"
    assert entry["at"].endswith("+00:00")
