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


def test_secrets_are_masked_in_messages_arguments_and_exceptions() -> None:
    from bot.config import load_settings
    from bot.logs import SECRETS, remember_all, remember_presented

    settings = load_settings(telegram_token="4242:bot-token-Zz9", zalo_oa_app_secret="app-secret-Qq1")
    remember_all(settings.secret_values())
    remember_presented("sk_live_key_Rr2")
    try:
        try:
            raise RuntimeError("POST https://api.telegram.org/bot4242:bot-token-Zz9/getUpdates refused")
        except RuntimeError as error:
            line = emit(record("with %s and %s: /join K7Q2-M9XD", "app-secret-Qq1", "sk_live_key_Rr2", exc=error))
    finally:
        SECRETS.forget_all()
    for secret in ("4242:bot-token-Zz9", "4242%3Abot-token-Zz9", "app-secret-Qq1", "sk_live_key_Rr2", "K7Q2-M9XD"):
        assert secret not in line
    assert "bot***/getUpdates" in line
    assert "/join ***" in line


def test_a_slip_rendered_under_the_service_logging_says_nothing_of_its_fonts(capsys: object) -> None:
    """`sipasbot run` logs at INFO: fontTools' lines (149 per slip) stay below it; our own INFO lines still show."""
    from bot.logs import configure
    from handlers.staff.slip import render_slip
    from tests.test_slip import make_slip

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    quiet = {name: logging.getLogger(name).level for name in ("fontTools", "httpx", "httpcore")}
    try:
        configure("text", logging.INFO)
        render_slip(make_slip())
        logging.getLogger("sipas.test").info("slip rendered")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "INFO sipas.test: slip rendered" in err
    assert "fontTools" not in err
