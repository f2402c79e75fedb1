"""Telegram's wire: an update as a neutral ``Inbound``, a ``Reply`` as HTML and buttons, an error as an outcome.

Pure conversions, no I/O: ``bot.channels.telegram`` calls the Bot API with what these give.
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.channels.base import Delivery, platform_id
from handlers.messages import Identity, Inbound, Option, Reply

NAME = "telegram"
# texts of Bot API errors, matched case-insensitively by substring (docs/CHANNELS.md, Telegram)
NOT_MODIFIED = "message is not modified"
EDIT_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")
GONE_CHATS = ("chat not found", "user not found", "peer_id_invalid")


def render_text(reply: Reply) -> str:
    """The reply as Telegram HTML: everything escaped (people's words included), the heading in bold."""
    if reply.heading:
        first, _, rest = reply.text.partition("\n")
        return f"<b>{html.escape(first)}</b>" + (f"\n{html.escape(rest)}" if rest else "")
    return html.escape(reply.text)


def render_keyboard(options: tuple[Option, ...]) -> InlineKeyboardMarkup | None:
    """Answers one per row, in order; skip, back and similar controls together on the last row."""
    if not options:
        return None
    answers = [o for o in options if o.number not in (None, 0)]
    controls = [o for o in options if o.number in (None, 0)]
    rows = [[InlineKeyboardButton(o.label, callback_data=o.value)] for o in answers]
    if controls:
        rows.append([InlineKeyboardButton(o.label, callback_data=o.value) for o in controls])
    return InlineKeyboardMarkup(rows)


def _locale(language_code: object) -> str | None:
    if not isinstance(language_code, str) or not language_code:
        return None
    return language_code.split("-")[0].lower()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def to_inbound(update: Update) -> Inbound | None:
    """The neutral event an update stands for (None: nothing a person did that we act on).

    PTB builds its objects from whatever JSON came, without checking types: a part that is missing or not
    what it should be (a chat of null, an id that is a list) makes the update one we do not act on.
    """
    event_id = platform_id(update.update_id)
    if event_id is None:
        return None
    query: Any = update.callback_query
    if query is not None:
        user: Any = query.from_user
        sender = platform_id(user.id) if user is not None else None
        if sender is None:
            return None
        return Inbound(
            Identity(NAME, sender),
            event_id,
            "choice",
            value=_text(query.data),
            locale_hint=_locale(user.language_code),
            shows_ack=True,
        )
    member: Any = update.my_chat_member
    if member is not None:
        chat: Any = member.chat
        new: Any = member.new_chat_member
        chat_id = platform_id(chat.id) if chat is not None else None
        if chat_id is None or chat.type != "private" or new is None:
            return None
        blocked = new.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
        return Inbound(Identity(NAME, chat_id), event_id, "blocked" if blocked else "unblocked")
    message: Any = update.message
    if message is None or message.from_user is None or message.chat is None or message.chat.type != "private":
        return None
    chat_id = platform_id(message.chat.id)
    if chat_id is None:
        return None
    identity = Identity(NAME, chat_id)
    locale = _locale(message.from_user.language_code)
    contact: Any = message.contact
    if contact is not None:
        if contact.user_id is None or contact.user_id != message.from_user.id:
            return None  # only a person's own number may link their dossiers
        return Inbound(identity, event_id, "contact", phone=_text(contact.phone_number), locale_hint=locale)
    text = _text(message.text) or _text(message.caption)
    return Inbound(identity, event_id, "text", text=text, locale_hint=locale)


def retry_seconds(error: RetryAfter) -> float:
    """The seconds a flood-control error asks us to wait."""
    value: Any = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def outcome_of(error: TelegramError) -> Delivery:
    """The shared delivery outcome of a Bot API error (docs/CHANNELS.md, five outcomes)."""
    text = str(error)
    lowered = text.lower()
    if isinstance(error, RetryAfter):
        return Delivery("retry_later", retry_after=retry_seconds(error), error=text)
    if isinstance(error, Forbidden):
        return Delivery("unreachable", error=text)
    if isinstance(error, InvalidToken):
        return Delivery("reauth", error=text)
    if isinstance(error, ChatMigrated):
        return Delivery("retry_later", error=text)
    if isinstance(error, BadRequest):
        # a chat that is gone, else our own defect (too long, bad markup, bad button data): never retried
        unreachable = any(marker in lowered for marker in GONE_CHATS)
        return Delivery("unreachable" if unreachable else "failed", error=text)
    if isinstance(error, NetworkError):  # timeouts, 5xx, connection errors
        return Delivery("retry_later", error=text)
    return Delivery("retry_later", error=text)
