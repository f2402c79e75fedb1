"""An in-process emulator of the Telegram Bot API, for tests (loopback HTTP only, never the internet).

The product's real python-telegram-bot ``Bot`` talks to it over HTTP on 127.0.0.1; tests play the people
on the other side::

    async with TelegramEmulator(token="123456:TEST-token", per_chat=20) as emu:
        bot = Bot(TOKEN, base_url=emu.api_url, base_file_url=emu.file_url)
        an = emu.person(user_id=1001, first_name="An", language_code="vi")
        await an.send_command("/start", "TOKEN123")
        ...                                     # the product polls getUpdates (or receives the webhook) and answers
        await an.wait_for(lambda p: "Câu 1" in p.last.text)
        query_id = await an.press("Rất hài lòng")
        assert an.callback_answer(query_id).answered

What it emulates (docs/CHANNELS.md, Telegram): routes ``/bot<token>/<method>`` (method names case-insensitive by
default) and ``/file/bot<token>/<file_path>``; query, urlencoded, JSON and multipart bodies (string fields holding
JSON such as ``reply_markup`` are decoded); the ``{"ok": ...}`` envelope with the real HTTP status on errors;
getMe, getUpdates (offset, limit, long polling, 409 conflicts), setWebhook / deleteWebhook / getWebhookInfo with
push delivery and retries, sendMessage (HTML parse mode), editMessageText, editMessageReplyMarkup,
answerCallbackQuery, sendDocument, sendPhoto, deleteMessage, getFile, sendChatAction and setMyCommands; per-chat
states (unknown, not started, blocked, deactivated); rate limits per chat and per bot; fault injection.

Simplifications, on purpose: private chats only (chat id == user id); only HTML markup is parsed (``MarkdownV2``
and ``Markdown`` answer 400, loudly); no auto-detected entities (urls, mentions) in the bot's texts; lengths are
counted in UTF-16 code units like entity offsets; URLs given for files are never fetched.

Behaviours worth knowing:
- editMessageText without ``reply_markup`` removes the inline keyboard (as Telegram does); "not modified" compares
  text, entities and keyboard. Leading and trailing white space of texts is trimmed (entities follow).
- A person is known but "not started" until they write; writing while blocked unblocks first (a ``member``
  ``my_chat_member`` update), like the client's "Restart" button. Pressing buttons never unblocks.
- ``allowed_updates`` (getUpdates or setWebhook) filters updates when they are created, not when fetched.
- A 429 (limit or ``flood``) has no effect and is counted in ``stats``; ``retry_after`` = ceil(seconds to wait).
- Updates returned by person actions are copies of what was queued: changing them changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import mimetypes
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from tests.emulators.loopback import LoopbackServer, Push, RequestHandler, Watched, notify_all

JSONDict = dict[str, Any]

#: Methods whose successful calls count against the per-chat and the bot-wide rate limits.
RATE_LIMITED_METHODS: frozenset[str] = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument", "sendPhoto"}
)
#: Methods that act on a chat: the default target of ``fail_next`` and ``flood``.
CHAT_METHODS: frozenset[str] = RATE_LIMITED_METHODS | {"deleteMessage", "answerCallbackQuery", "sendChatAction"}

#: Update types Telegram sends when ``allowed_updates`` is not given (or empty).
DEFAULT_UPDATE_TYPES: frozenset[str] = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

#: Error descriptions (docs/CHANNELS.md, Telegram); most are unverified, so the constructor can override any of them.
DEFAULT_ERRORS: dict[str, str] = {
    "unauthorized": "Unauthorized",
    "not_found": "Not Found",
    "chat_id_empty": "Bad Request: chat_id is empty",
    "chat_not_found": "Bad Request: chat not found",
    "blocked": "Forbidden: bot was blocked by the user",
    "cant_initiate": "Forbidden: bot can't initiate conversation with a user",
    "deactivated": "Forbidden: user is deactivated",
    "text_empty": "Bad Request: message text is empty",
    "too_long": "Bad Request: message is too long",
    "caption_too_long": "Bad Request: message caption is too long",
    "parse_entities": "Bad Request: can't parse entities: {detail}",
    "button_data_invalid": "Bad Request: BUTTON_DATA_INVALID",
    "buttons_too_much": "Bad Request: BUTTONS_TOO_MUCH",
    "button_text_empty": "Bad Request: text buttons are unallowed in the inline keyboard",
    "bad_markup": "Bad Request: can't parse reply keyboard markup JSON object",
    "inline_keyboard_expected": "Bad Request: inline keyboard expected",
    "not_modified": (
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
        "same as a current content and reply markup of the message"
    ),
    "edit_not_found": "Bad Request: message to edit not found",
    "no_text_to_edit": "Bad Request: there is no text in the message to edit",
    "delete_not_found": "Bad Request: message to delete not found",
    "query_too_old": "Bad Request: query is too old and response timeout expired or query ID is invalid",
    "answer_too_long": "Bad Request: MESSAGE_TOO_LONG",
    "file_missing": "Bad Request: there is no {field} in the request",
    "wrong_file_id": "Bad Request: wrong file identifier/HTTP URL specified",
    "webhook_active": (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    ),
    "terminated": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    "bad_secret": "Bad Request: secret token contains unallowed characters",
    "bad_max_connections": "Bad Request: bad webhook: max_connections must be between 1 and 100",
    "too_many_requests": "Too Many Requests: retry after {retry_after}",
    "bad_parameter": "Bad Request: invalid {name} specified",
    "bad_json": "Bad Request: can't parse {name} JSON object",
    "unsupported_parse_mode": "Bad Request: unsupported parse_mode {mode!r} (the emulator parses HTML only)",
    "inline_unsupported": "Bad Request: inline messages are not supported by the emulator",
}

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_ANSWER_TEXT = 200
MAX_BUTTONS = 100
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ApiError(Exception):
    """A Bot API error answer: HTTP status == ``error_code``."""

    def __init__(
        self, status: int, description: str, parameters: JSONDict | None = None, chat_id: int | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.chat_id = chat_id


# --------------------------------------------------------------------------------------------------------------------
# Records the tests read


@dataclass
class SentFile:
    """A file the bot uploaded (or referenced by URL / file_id), as kept by the emulator."""

    kind: str  # "document" | "photo"
    file_name: str | None
    mime_type: str | None
    data: bytes | None  # None when the bot gave a URL (never fetched)
    file_id: str
    file_unique_id: str
    file_path: str
    url: str | None = None
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        """Size in bytes (0 for a URL that was never fetched)."""
        return len(self.data) if self.data is not None else 0

    def to_api(self) -> JSONDict:
        """The Bot API object (Document, or the largest PhotoSize)."""
        result: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.kind == "photo":
            result.update(width=self.width, height=self.height)
        else:
            if self.file_name is not None:
                result["file_name"] = self.file_name
            if self.mime_type is not None:
                result["mime_type"] = self.mime_type
        if self.data is not None:
            result["file_size"] = len(self.data)
        return result


@dataclass(frozen=True)
class ReplyButton:
    """A button of a reply keyboard (the one under the text field)."""

    text: str
    request_contact: bool = False
    request_location: bool = False


@dataclass
class BotMessage:
    """A message the bot sent into a chat, as the person sees it now (edits applied in place)."""

    message_id: int
    chat_id: int
    date: int
    kind: str  # "text" | "document" | "photo"
    body: str  # the text, or the caption ("" when none)
    entities: list[JSONDict] = field(default_factory=list)
    inline_keyboard: list[list[JSONDict]] | None = None
    reply_keyboard: list[list[ReplyButton]] | None = None
    file: SentFile | None = None
    edit_date: int | None = None
    edits: int = 0
    deleted: bool = False
    versions: list[str] = field(default_factory=list)  # earlier texts, oldest first
    _bot_user: JSONDict = field(default_factory=dict, repr=False)
    _chat: JSONDict = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        """The text (for a document or photo: its caption; "" when none)."""
        return self.body

    @property
    def caption(self) -> str | None:
        """The caption of a document or photo (None for a text message)."""
        return None if self.kind == "text" else self.body

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """The inline keyboard as rows of ``(text, callback_data)`` (data None for URL buttons)."""
        return [[(b["text"], b.get("callback_data")) for b in row] for row in self.inline_keyboard or []]

    @property
    def button_texts(self) -> list[str]:
        """All inline button texts, row by row."""
        return [text for row in self.buttons for text, _ in row]

    @property
    def document(self) -> SentFile | None:
        """The document, if this is a document message."""
        return self.file if self.kind == "document" else None

    @property
    def photo(self) -> SentFile | None:
        """The photo, if this is a photo message."""
        return self.file if self.kind == "photo" else None

    @property
    def requests_contact(self) -> bool:
        """Whether this message brought a reply keyboard with a "share my phone number" button."""
        return any(b.request_contact for row in self.reply_keyboard or [] for b in row)

    def to_api(self) -> JSONDict:
        """The ``Message`` object the Bot API returns for it."""
        result: JSONDict = {
            "message_id": self.message_id,
            "from": dict(self._bot_user),
            "chat": dict(self._chat),
            "date": self.date,
        }
        if self.edit_date is not None:
            result["edit_date"] = self.edit_date
        if self.kind == "text":
            result["text"] = self.body
            if self.entities:
                result["entities"] = [dict(e) for e in self.entities]
        else:
            assert self.file is not None
            if self.kind == "document":
                result["document"] = self.file.to_api()
            else:
                result["photo"] = [self.file.to_api()]
            if self.body:
                result["caption"] = self.body
                if self.entities:
                    result["caption_entities"] = [dict(e) for e in self.entities]
        if self.inline_keyboard:
            result["reply_markup"] = {"inline_keyboard": [[dict(b) for b in row] for row in self.inline_keyboard]}
        return result


@dataclass
class CallbackAnswer:
    """A button press and how (whether) the bot answered it."""

    query_id: str
    chat_id: int
    message_id: int
    data: str
    pressed_at: float  # time.monotonic()
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None


@dataclass
class WebhookDelivery(Push):
    """One attempt to push an update to the webhook."""

    update_id: int
    attempt: int  # 1, 2, ...
    url: str
    status: int | None  # HTTP status, None on a connection error or timeout
    error: str | None
    secret_header: str | None
    at: float  # time.monotonic()


@dataclass
class ApiCall:
    """One request the bot made, as received (form values undecoded), and the answer it got."""

    method: str  # canonical name, e.g. "sendMessage"
    params: dict[str, Any]
    files: dict[str, str]  # multipart field -> file name
    content_type: str
    at: float  # time.monotonic()
    status: int = 0
    description: str | None = None


@dataclass
class Stats:
    """Counters for assertions such as "zero 429s"."""

    requests: Counter[str] = field(default_factory=Counter)  # by canonical method name
    too_many_requests: int = 0  # 429s given, whatever the cause (limits or ``flood``)
    too_many_requests_by_chat: Counter[int] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)  # every non-2xx answer, by HTTP status
    messages_sent: int = 0  # sendMessage, sendDocument, sendPhoto that took effect
    edits: int = 0  # editMessageText and editMessageReplyMarkup that took effect
    deletions: int = 0
    callback_answers: int = 0
    faults_injected: int = 0  # answers given by ``fail_next`` (429s of ``flood`` count in too_many_requests)


@dataclass
class _Upload:
    field_name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Fault:
    remaining: int
    status: int
    description: str
    methods: frozenset[str]
    applied: bool


@dataclass
class _Hang:
    release: asyncio.Event
    seconds: float | None


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    last_error_date: int | None = None
    last_error_message: str | None = None


# --------------------------------------------------------------------------------------------------------------------
# Text helpers


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """The HTML could not be parsed (Telegram: "can't parse entities: ...")."""


_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_TAG_RE = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z][A-Za-z0-9_-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_ATTR_RE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot);|#([0-9]{1,7});|#[xX]([0-9A-Fa-f]{1,6});)")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_entities(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1):
            return _NAMED[match.group(1)]
        number = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
        return chr(number) if 0 < number <= 0x10FFFF else match.group(0)

    return _ENTITY_RE.sub(one, text)


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Telegram's HTML parse mode: the plain text and its entities (offsets in UTF-16 units).

    Supports b/strong, i/em, u/ins, s/strike/del, tg-spoiler and ``span class="tg-spoiler"``, a href, code, pre
    (``<pre><code class="language-x">`` gives the language), blockquote (``expandable``) and tg-emoji; the named
    entities &lt; &gt; &amp; &quot; and numeric ones. Unknown or unbalanced tags raise ``EntityParseError``.
    """
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, str | None, int, JSONDict]] = []  # tag, entity type, start offset, extra fields
    entities: list[JSONDict] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            byte_offset = len(source[:i].encode())
            match = _TAG_RE.match(source, i)
            if match is None:
                if source.find(">", i) == -1:
                    raise EntityParseError(f"Can't find end of the tag starting at byte offset {byte_offset}")
                bad = re.match(r"</?([^\s>]*)", source[i:])
                raise EntityParseError(
                    f'Unsupported start tag "{bad.group(1) if bad else ""}" at byte offset {byte_offset}'
                )
            closing, name, raw_attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
            if closing:
                if not stack:
                    raise EntityParseError(f'Unexpected end tag "{name}" at byte offset {byte_offset}')
                tag, entity_type, start, extra = stack.pop()
                if tag != name:
                    raise EntityParseError(
                        f'Unmatched end tag at byte offset {byte_offset}, expected "</{tag}>", found "</{name}>"'
                    )
                language = extra.pop("_language", None)
                if tag == "code" and language and stack and stack[-1][0] == "pre":
                    stack[-1][3]["language"] = language  # <pre><code class="language-x">: one pre entity
                elif entity_type is not None and pos16 > start:
                    entities.append({"offset": start, "length": pos16 - start, "type": entity_type, **extra})
            else:
                attrs = {
                    m.group(1).lower(): _decode_entities(m.group(2) or m.group(3) or m.group(4) or "")
                    for m in _ATTR_RE.finditer(raw_attrs)
                }
                entity_type, extra = _tag_entity(name, attrs, byte_offset)
                stack.append((name, entity_type, pos16, extra))
            i = match.end()
            continue
        end = source.find("<", i)
        end = len(source) if end == -1 else end
        chunk = _decode_entities(source[i:end])
        out.append(chunk)
        pos16 += utf16_len(chunk)
        i = end
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _tag_entity(name: str, attrs: dict[str, str], byte_offset: int) -> tuple[str | None, JSONDict]:
    if name in _SIMPLE_TAGS:
        entity_type = _SIMPLE_TAGS[name]
        if name == "blockquote" and "expandable" in attrs:
            return "expandable_blockquote", {}
        if name == "code":
            language = attrs.get("class", "")
            return "code", (
                {"_language": language.removeprefix("language-")} if language.startswith("language-") else {}
            )
        return entity_type, {}
    if name == "span" and attrs.get("class") == "tg-spoiler":
        return "spoiler", {}
    if name == "a":
        href = attrs.get("href")
        return ("text_link", {"url": href}) if href else (None, {})
    if name == "tg-emoji" and attrs.get("emoji-id"):
        return "custom_emoji", {"custom_emoji_id": attrs["emoji-id"]}
    raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset}')


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram trims leading and trailing white space; entities are moved and clipped along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"], lead) - lead
        end = min(entity["offset"] + entity["length"], lead + size) - lead
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 0, 0


# --------------------------------------------------------------------------------------------------------------------
# Request parameters


class _Params:
    """A request's parameters, whatever the encoding; form values are strings, JSON values typed."""

    def __init__(self, values: dict[str, Any], files: dict[str, _Upload], errors: Mapping[str, str]) -> None:
        self.values = values
        self.files = files
        self._errors = errors

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ApiError(400, self._errors["bad_parameter"].format(name=name))
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise ApiError(400, self._errors["bad_parameter"].format(name=name)) from None

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError(400, self._errors["bad_parameter"].format(name=name)) from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def structured(self, name: str) -> Any:
        """A field holding JSON (``reply_markup``, ``allowed_updates``, ``entities``...), decoded."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, self._errors["bad_json"].format(name=name)) from None
        return value


# --------------------------------------------------------------------------------------------------------------------
# People


class Person(Watched[BotMessage]):
    """A simulated Telegram user in a private chat with the bot (chat id == user id).

    Everything here is what the person sees or does; the bot's side goes over HTTP. Create with
    ``TelegramEmulator.person``.
    """

    def __init__(
        self,
        emulator: TelegramEmulator,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        super().__init__()
        self._emu = emulator
        self.user_id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.started = False  # has written to the bot (pressed Start) at least once
        self.blocked = False
        self.deactivated = False
        self.reply_keyboard: list[list[ReplyButton]] | None = None  # the reply keyboard shown now
        self.reply_keyboard_one_time = False
        self.sent: list[JSONDict] = []  # the person's own messages (Message objects), oldest first
        self.queries: dict[str, CallbackAnswer] = {}

    # --- what the person sees

    @property
    def chat_id(self) -> int:
        """The private chat's id (== the user id)."""
        return self.user_id

    @property
    def messages(self) -> list[BotMessage]:
        """The bot's messages in this chat as shown now (edits applied, deleted ones gone), oldest first."""
        return [m for m in self._messages if not m.deleted]

    @property
    def texts(self) -> list[str]:
        """The texts (or captions) of the bot's messages, oldest first."""
        return [m.text for m in self.messages]

    @property
    def contact_requested(self) -> bool:
        """Whether the reply keyboard shown now has a "share my phone number" button."""
        return any(b.request_contact for row in self.reply_keyboard or [] for b in row)

    def message(self, message_id: int) -> BotMessage:
        """One of the bot's messages by id (KeyError if unknown or deleted)."""
        for m in self.messages:
            if m.message_id == message_id:
                return m
        raise KeyError(f"no message {message_id} from the bot in chat {self.user_id}")

    def callback_answer(self, query_id: str) -> CallbackAnswer:
        """The press ``query_id`` and the bot's answer (``.answered``, ``.text``, ``.show_alert``)."""
        return self.queries[query_id]

    def user_api(self) -> JSONDict:
        """The Bot API ``User`` object of this person."""
        user: JSONDict = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat_api(self) -> JSONDict:
        """The Bot API ``Chat`` object of this private chat."""
        chat: JSONDict = {"id": self.user_id, "first_name": self.first_name, "type": "private"}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    # --- what the person does

    async def send_text(self, text: str) -> JSONDict:
        """Write ``text`` to the bot; a leading ``/command`` gets its ``bot_command`` entity. Returns the Update."""
        entities: list[JSONDict] = []
        command = re.match(r"/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,64})?", text)
        if command:
            entities.append({"offset": 0, "length": utf16_len(command.group(0)), "type": "bot_command"})
        return await self._send({"text": text, **({"entities": entities} if entities else {})})

    async def send_command(self, command: str, payload: str | None = None) -> JSONDict:
        """Send ``/command [payload]`` (a deep link ``t.me/<bot>?start=<payload>`` arrives as ``/start <payload>``)."""
        command = command if command.startswith("/") else "/" + command
        return await self.send_text(f"{command} {payload}" if payload else command)

    async def share_contact(
        self, phone_number: str, *, own: bool = True, first_name: str | None = None, user_id: int | None = None
    ) -> JSONDict:
        """Share a contact: one's own (``contact.user_id`` == this person) or, with ``own=False``, someone else's."""
        contact: JSONDict = {"phone_number": phone_number}
        if own:
            contact["first_name"] = self.first_name
            if self.last_name:
                contact["last_name"] = self.last_name
            contact["user_id"] = self.user_id
        else:
            contact["first_name"] = first_name or "Người khác"
            if user_id is not None:
                contact["user_id"] = user_id
        return await self._send({"contact": contact})

    async def press(self, text: str, *, message_id: int | None = None) -> str:
        """Press the inline button labelled ``text`` on the latest bot message showing it; returns the query id."""
        candidates = [self.message(message_id)] if message_id is not None else list(reversed(self.messages))
        for message in candidates:
            for button_text, data in (b for row in message.buttons for b in row):
                if button_text == text and data is not None:
                    return await self._press(message, data)
        shown = {m.message_id: m.button_texts for m in self.messages if m.inline_keyboard}
        raise LookupError(f"no button {text!r} with callback data in chat {self.user_id}; buttons shown: {shown}")

    async def press_data(self, data: str, *, message_id: int | None = None) -> str:
        """Press a button by its ``callback_data`` (may be forged: no keyboard needs to show it).

        The press is attached to ``message_id``, else to the latest bot message with a button carrying ``data``,
        else to the latest bot message. Returns the callback query id.
        """
        if message_id is not None:
            return await self._press(self.message(message_id), data)
        for message in reversed(self.messages):
            if any(d == data for row in message.buttons for _, d in row):
                return await self._press(message, data)
        return await self._press(self.last, data)

    async def block(self) -> JSONDict:
        """Block the bot (a ``my_chat_member`` update, status ``kicked``); sends to this chat then get 403."""
        self.blocked = True
        return await self._emu._enqueue({"my_chat_member": self._member_update("member", "kicked")})

    async def unblock(self) -> JSONDict:
        """Unblock the bot (a ``my_chat_member`` update, status ``member``)."""
        self.blocked = False
        return await self._emu._enqueue({"my_chat_member": self._member_update("kicked", "member")})

    def deactivate(self) -> None:
        """Delete the account: sends then get 403 "user is deactivated" (no update, as in Telegram)."""
        self.deactivated = True

    # --- internals

    def _who(self) -> str:
        return f"chat {self.user_id} ({self.first_name})"

    def _line(self, message: BotMessage) -> str:
        return f"#{message.message_id}: {message.text!r} buttons={message.button_texts}"

    async def _send(self, content: JSONDict) -> JSONDict:
        emu = self._emu
        if self.blocked:  # writing to a blocked bot ("Restart") unblocks it first
            await self.unblock()
        self.started = True
        if self.reply_keyboard_one_time:
            self.reply_keyboard, self.reply_keyboard_one_time = None, False
        message: JSONDict = {
            "message_id": emu._next_message_id(self.user_id),
            "from": self.user_api(),
            "chat": self.chat_api(),
            "date": emu._now(),
            **content,
        }
        self.sent.append(message)
        return await emu._enqueue({"message": message})

    async def _press(self, message: BotMessage, data: str) -> str:
        emu = self._emu
        query_id = str(next(emu._query_ids))
        self.queries[query_id] = CallbackAnswer(query_id, self.user_id, message.message_id, data, time.monotonic())
        emu._queries[query_id] = self.queries[query_id]
        await emu._enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user_api(),
                    "message": message.to_api(),
                    "chat_instance": str(-(8410000000000000000 + self.user_id)),
                    "data": data,
                }
            }
        )
        return query_id

    def _member_update(self, old: str, new: str) -> JSONDict:
        def member(status: str) -> JSONDict:
            # ChatMemberBanned requires until_date (0: forever)
            return {"user": self._emu.bot_user(), "status": status, **({"until_date": 0} if status == "kicked" else {})}

        return {
            "chat": self.chat_api(),
            "from": self.user_api(),
            "date": self._emu._now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }


# --------------------------------------------------------------------------------------------------------------------
# The emulator


class TelegramEmulator(LoopbackServer):
    """The Telegram Bot API for one bot, on ``127.0.0.1:<random port>``.

    Args:
        token: the bot token (requests with another answer 401). Its digits before ":" are the bot's user id.
        username: the bot's @username (getMe).
        first_name: the bot's display name.
        per_chat: messages per second per chat (``RATE_LIMITED_METHODS``); 0 or None: no per-chat limit.
        per_chat_burst: how many may go back to back before spacing applies (1: none, Telegram's "≈1/s").
        tolerance: seconds of slack on the per-chat spacing (timers are never exact).
        global_rate: at most this many rate-limited calls in any sliding one-second window, bot-wide; 0/None: off.
        enforce_limits: False turns both limits off (still switchable later through the attribute).
        callback_max_age: seconds after a press when answerCallbackQuery gets "query is too old"; None: never.
        webhook_retry_base: first webhook retry delay (doubling each time, capped by ``webhook_retry_cap``).
        webhook_max_attempts: attempts per update before the emulator gives up (as Telegram eventually does).
        webhook_concurrency: deliveries in flight at once (also bounded by setWebhook's max_connections);
            1 keeps strict order.
        webhook_timeout: seconds the receiver has to answer one delivery.
        case_insensitive_methods: ``/bot<token>/SENDMESSAGE`` works (Telegram's behaviour, unverified).
        errors: overrides of ``DEFAULT_ERRORS`` texts.
        clock: wall clock (epoch seconds) for ``date`` fields.
        first_update_id: the first update_id handed out.
        port: the TCP port to listen on (0: a free one), e.g. an address the product was given before it came up.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        username: str = "sipas_test_bot",
        *,
        first_name: str = "SIPAS Test Bot",
        per_chat: float | None = 1.0,
        per_chat_burst: int = 1,
        tolerance: float = 0.05,
        global_rate: float | None = 30.0,
        enforce_limits: bool = True,
        callback_max_age: float | None = 15.0,
        webhook_retry_base: float = 0.05,
        webhook_retry_cap: float = 2.0,
        webhook_max_attempts: int = 10,
        webhook_concurrency: int = 1,
        webhook_timeout: float = 5.0,
        case_insensitive_methods: bool = True,
        errors: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        first_update_id: int = 500000001,
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self.token = token
        self.username = username
        self.first_name = first_name
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 7000000001
        self.per_chat = per_chat
        self.per_chat_burst = max(1, per_chat_burst)
        self.tolerance = tolerance
        self.global_rate = global_rate
        self.enforce_limits = enforce_limits
        self.callback_max_age = callback_max_age
        self.webhook_retry_base = webhook_retry_base
        self.webhook_retry_cap = webhook_retry_cap
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_concurrency = max(1, webhook_concurrency)
        self.webhook_timeout = webhook_timeout
        self.case_insensitive_methods = case_insensitive_methods
        self.errors: dict[str, str] = {**DEFAULT_ERRORS, **(errors or {})}
        self.clock = clock

        self.stats = Stats()
        self.calls: list[ApiCall] = []  # every request, in arrival order
        self.updates: list[JSONDict] = []  # every update ever queued (delivered or not), in order
        self.dropped_updates: list[JSONDict] = []  # not queued: type outside allowed_updates
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_given_up: list[JSONDict] = []  # updates dropped after webhook_max_attempts
        self.webhook: _Webhook | None = None
        self.allowed_updates: list[str] | None = None  # as last set by getUpdates / setWebhook
        self.people: dict[int, Person] = {}
        self.files: dict[str, SentFile] = {}  # by file_id
        self.waiting_polls = 0  # getUpdates calls waiting for an update right now (long polling)

        self._pending: dict[int, JSONDict] = {}  # unconfirmed updates by update_id, in order
        self._update_ids = itertools.count(first_update_id)
        self._query_ids = itertools.count(4382000000000000001)
        self._file_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._queries: dict[str, CallbackAnswer] = {}
        self._chat_sent: dict[int, deque[float]] = {}  # per chat: times of the last per_chat_burst counted calls
        self._global_window: deque[float] = deque()
        self._faults: list[_Fault] = []
        self._flood: tuple[int, frozenset[str]] | None = None
        self._hangs: dict[str, _Hang] = {}
        self._touched: set[int] = set()  # chats changed by the request being handled
        self._updates_changed = asyncio.Condition()
        self._poll_generation = 0
        self._in_flight: set[int] = set()
        self._webhook_tasks: list[asyncio.Task[None]] = []
        self._methods: dict[str, tuple[str, Callable[[_Params], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "deleteMessage": self._delete_message,
                "getFile": self._get_file,
                "sendChatAction": self._send_chat_action,
                "setMyCommands": self._accept,
                "deleteMyCommands": self._accept,
            }.items()
        }

    # --- lifecycle

    MAX_BODY = 64 * 1024 * 1024

    def _served(self) -> list[tuple[str, RequestHandler]]:
        return [("/bot{token}/{method}", self._handle), ("/file/bot{token}/{path:.+}", self._handle_file)]

    async def _stopping(self) -> None:
        """Long polls answer ``[]``, hung methods are released, webhook pushes cancelled."""
        self.release()
        await self._stop_webhook_workers()
        await notify_all(self._updates_changed)

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/bot``: PTB's ``base_url`` (PTB appends the token)."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """``http://127.0.0.1:PORT/file/bot``: PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    # --- the test side

    def person(
        self,
        user_id: int,
        first_name: str = "An",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = False,
    ) -> Person:
        """A Telegram user the bot may know (the same object again for a known id).

        Until they write (``started=True`` pretends they already did), sends to them answer 403 "bot can't
        initiate conversation with a user". Chat ids of no person answer 400 "chat not found".
        """
        if user_id in self.people:
            return self.people[user_id]
        person = Person(self, user_id, first_name, last_name, username, language_code)
        person.started = started
        self.people[user_id] = person
        return person

    def bot_user(self) -> JSONDict:
        """The bot's ``User`` object as it appears in messages."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed (by a later getUpdates offset, or a 2xx webhook answer)."""
        return list(self._pending.values())

    def callback_answer(self, query_id: str) -> CallbackAnswer:
        """A press by anyone, by query id."""
        return self._queries[query_id]

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        methods: Iterable[str] | None = None,
        description: str | None = None,
        applied: bool = False,
    ) -> None:
        """The next ``n`` calls of ``methods`` (default ``CHAT_METHODS``) answer ``status`` (500, 502, ...).

        With ``applied=True`` the call takes effect first and only the answer is lost (a duplicate-send test).
        """
        text = description or HTTPStatus(status).phrase
        self._faults.append(_Fault(n, status, text, self._method_set(methods), applied))

    def flood(self, retry_after: int = 5, *, methods: Iterable[str] | None = None) -> None:
        """Until ``clear_flood``, calls of ``methods`` (default ``CHAT_METHODS``) answer 429 ``retry_after``."""
        self._flood = (retry_after, self._method_set(methods))

    def clear_flood(self) -> None:
        """End ``flood``."""
        self._flood = None

    def hang(self, method: str, seconds: float | None = None) -> None:
        """Calls of ``method`` wait (``seconds``, or until ``release``) before being handled as usual."""
        self._hangs[self._method_name(method)] = _Hang(asyncio.Event(), seconds)

    def release(self, method: str | None = None) -> None:
        """End ``hang`` for ``method`` (None: all); waiting calls proceed."""
        names = [self._method_name(method)] if method is not None else list(self._hangs)
        for name in names:
            hang = self._hangs.pop(name, None)
            if hang is not None:
                hang.release.set()

    def reset_limits(self) -> None:
        """Forget the rate-limit history (e.g. after a warm-up)."""
        self._chat_sent.clear()
        self._global_window.clear()

    # --- HTTP

    def _summary(self) -> str:
        return f"calls={dict(self.stats.requests)} pending={len(self._pending)}"

    def _canonical(self, name: str) -> str | None:
        entry = self._methods.get(name.lower())
        if entry is None or (not self.case_insensitive_methods and entry[0] != name):
            return None
        return entry[0]

    def _method_name(self, name: str) -> str:
        """The canonical spelling of a method name given in any case (test-side helpers)."""
        entry = self._methods.get(name.lower())
        return entry[0] if entry else name

    def _method_set(self, methods: Iterable[str] | None) -> frozenset[str]:
        if methods is None:
            return CHAT_METHODS
        return frozenset(self._method_name(m) for m in methods)

    def _envelope_error(self, error: ApiError, call: ApiCall | None = None) -> web.Response:
        body: JSONDict = {"ok": False, "error_code": error.status, "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        self.stats.errors[error.status] += 1
        if error.status == 429:
            self.stats.too_many_requests += 1
            if error.chat_id is not None:
                self.stats.too_many_requests_by_chat[error.chat_id] += 1
        if call is not None:
            call.status, call.description = error.status, error.description
        return _json_response(body, error.status)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._envelope_error(ApiError(401, self.errors["unauthorized"]))
        canonical = self._canonical(request.match_info["method"])
        if canonical is None:
            return self._envelope_error(ApiError(404, self.errors["not_found"]))
        self.stats.requests[canonical] += 1
        try:
            params = await self._read_params(request)
        except ApiError as error:
            return self._envelope_error(error)
        call = ApiCall(
            canonical,
            dict(params.values),
            {name: upload.filename or "" for name, upload in params.files.items()},
            request.content_type,
            time.monotonic(),
        )
        self.calls.append(call)
        try:
            return await self._dispatch(canonical, params, call)
        finally:
            touched, self._touched = self._touched, set()
            for chat_id in touched:
                if chat_id in self.people:
                    await self.people[chat_id]._notify()
            await self._notify_state()

    async def _dispatch(self, method: str, params: _Params, call: ApiCall) -> web.Response:
        hang = self._hangs.get(method)
        if hang is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hang.release.wait(), hang.seconds)
        fault = next((f for f in self._faults if method in f.methods and f.remaining > 0), None)
        if fault is not None:
            fault.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining > 0]
            self.stats.faults_injected += 1
            if fault.applied:
                with contextlib.suppress(ApiError):
                    await self._run(method, params)
            return self._envelope_error(ApiError(fault.status, fault.description), call)
        if self._flood is not None and method in self._flood[1]:
            return self._envelope_error(self._too_many(self._chat_of(params), self._flood[0]), call)
        try:
            result = await self._run(method, params)
        except ApiError as error:
            return self._envelope_error(error, call)
        call.status = 200
        body: JSONDict = {"ok": True, "result": result}
        if method == "setWebhook":
            body["description"] = "Webhook was set" if self.webhook else "Webhook was deleted"
        elif method == "deleteWebhook":
            body["description"] = "Webhook was deleted"
        return _json_response(body, 200)

    async def _run(self, method: str, params: _Params) -> Any:
        _, handler = self._methods[method.lower()]
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    def _too_many(self, chat_id: int | None, retry_after: float) -> ApiError:
        seconds = max(1, math.ceil(retry_after))
        description = self.errors["too_many_requests"].format(retry_after=seconds)
        return ApiError(429, description, {"retry_after": seconds}, chat_id)

    @staticmethod
    def _chat_of(params: _Params) -> int | None:
        try:
            return params.integer("chat_id")
        except ApiError:
            return None

    async def _read_params(self, request: web.Request) -> _Params:
        values: dict[str, Any] = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: the JSON body must be an object")
                values.update(body)
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        try:
                            data = value.file.read()
                        finally:
                            value.file.close()
                        files[name] = _Upload(name, value.filename, value.content_type, data)
                    else:
                        values[name] = value
        return _Params(values, files, self.errors)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._envelope_error(ApiError(401, self.errors["unauthorized"]))
        path = request.match_info["path"]
        for sent in self.files.values():
            if sent.file_path == path and sent.data is not None:
                return web.Response(body=sent.data, content_type=sent.mime_type or "application/octet-stream")
        return self._envelope_error(ApiError(404, self.errors["not_found"]))

    # --- state helpers

    def _now(self) -> int:
        return int(self.clock())

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    async def _enqueue(self, content: JSONDict) -> JSONDict:
        """Queue an update (``content`` holds one update field); returns the Update."""
        update: JSONDict = {"update_id": next(self._update_ids), **content}
        kind = next(k for k in content if k != "update_id")
        allowed = set(self.allowed_updates) if self.allowed_updates else DEFAULT_UPDATE_TYPES
        if kind not in allowed:
            self.dropped_updates.append(update)
        else:
            self.updates.append(update)
            self._pending[update["update_id"]] = update
            async with self._updates_changed:
                self._updates_changed.notify_all()
        await self._notify_state()
        return copy.deepcopy(update)  # the caller's copy: changing it does not change the queued update

    def _person_for(self, chat_id: int, *, sending: bool) -> Person:
        person = self.people.get(chat_id)
        if person is None:
            raise ApiError(400, self.errors["chat_not_found"], chat_id=chat_id)
        if sending:
            if person.blocked:
                raise ApiError(403, self.errors["blocked"], chat_id=chat_id)
            if person.deactivated:
                raise ApiError(403, self.errors["deactivated"], chat_id=chat_id)
            if not person.started:
                raise ApiError(403, self.errors["cant_initiate"], chat_id=chat_id)
        return person

    def _chat_id(self, params: _Params) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise ApiError(400, self.errors["chat_id_empty"])
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, self.errors["chat_not_found"]) from None  # "@username": no such channel here

    def _take_rate(self, chat_id: int) -> None:
        """Refuse (429) or count one rate-limited call; call only once the request will take effect.

        Per chat: at most ``per_chat_burst`` calls in any ``per_chat_burst / per_chat`` seconds, less
        ``tolerance`` (burst 1: consecutive calls at least ``1 / per_chat - tolerance`` apart). Bot-wide: at most
        ``int(global_rate)`` calls in any sliding second.
        """
        if not self.enforce_limits:
            return
        now = time.monotonic()
        recent = self._chat_sent.setdefault(chat_id, deque(maxlen=self.per_chat_burst))
        if self.per_chat and len(recent) == self.per_chat_burst:
            allowed_at = recent[0] + self.per_chat_burst / self.per_chat - self.tolerance
            if now < allowed_at:
                raise self._too_many(chat_id, allowed_at - now)
        if self.global_rate:
            while self._global_window and self._global_window[0] <= now - 1.0:
                self._global_window.popleft()
            if len(self._global_window) >= max(1, int(self.global_rate)):
                raise self._too_many(chat_id, self._global_window[0] + 1.0 - now)
        recent.append(now)
        self._global_window.append(now)

    def _formatted(
        self, params: _Params, text_field: str, entities_field: str, *, required: bool
    ) -> tuple[str, list[JSONDict]]:
        raw = params.text(text_field)
        mode = (params.text("parse_mode") or "").strip()
        if raw is None:
            raw = ""
        if mode.lower() == "html":
            try:
                text, entities = parse_html(raw)
            except EntityParseError as error:
                raise ApiError(400, self.errors["parse_entities"].format(detail=error)) from None
        elif mode:
            raise ApiError(400, self.errors["unsupported_parse_mode"].format(mode=mode))
        else:
            text = raw
            given = params.structured(entities_field) or []
            if not isinstance(given, list):
                raise ApiError(400, self.errors["bad_json"].format(name=entities_field))
            entities = [dict(e) for e in given if isinstance(e, dict)]
        text, entities = _strip_text(text, entities)
        limit = MAX_TEXT if text_field == "text" else MAX_CAPTION
        if required and not text:
            raise ApiError(400, self.errors["text_empty"])
        if utf16_len(text) > limit:
            raise ApiError(400, self.errors["too_long" if text_field == "text" else "caption_too_long"])
        return text, entities

    def _markup(
        self, params: _Params, *, inline_only: bool = False
    ) -> tuple[list[list[JSONDict]] | None, list[list[ReplyButton]] | None, bool, bool]:
        """Validate ``reply_markup``: (inline keyboard, reply keyboard, one_time, remove_keyboard)."""
        markup = params.structured("reply_markup")
        if markup is None:
            return None, None, False, False
        if not isinstance(markup, dict):
            raise ApiError(400, self.errors["bad_markup"])
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, self.errors["bad_markup"])
            if sum(len(r) for r in rows) > MAX_BUTTONS:
                raise ApiError(400, self.errors["buttons_too_much"])
            keyboard: list[list[JSONDict]] = []
            for row in rows:
                buttons: list[JSONDict] = []
                for button in row:
                    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                        raise ApiError(400, self.errors["bad_markup"])
                    if "callback_data" in button:
                        data = button["callback_data"]
                        size = len(data.encode()) if isinstance(data, str) else 0
                        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                            raise ApiError(400, self.errors["button_data_invalid"])
                    elif len(button) == 1:
                        raise ApiError(400, self.errors["button_text_empty"])
                    buttons.append(dict(button))
                if buttons:
                    keyboard.append(buttons)
            return keyboard or None, None, False, False
        if inline_only:
            raise ApiError(400, self.errors["inline_keyboard_expected"])
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, self.errors["bad_markup"])
            reply_rows: list[list[ReplyButton]] = []
            for row in rows:
                reply_row: list[ReplyButton] = []
                for button in row:
                    if isinstance(button, str):
                        reply_row.append(ReplyButton(button))
                    elif isinstance(button, dict) and str(button.get("text", "")).strip():
                        reply_row.append(
                            ReplyButton(
                                str(button["text"]),
                                bool(button.get("request_contact")),
                                bool(button.get("request_location")),
                            )
                        )
                    else:
                        raise ApiError(400, self.errors["bad_markup"])
                reply_rows.append(reply_row)
            return None, reply_rows, bool(markup.get("one_time_keyboard")), False
        if markup.get("remove_keyboard"):
            return None, None, False, True
        if markup.get("force_reply"):
            return None, None, False, False
        raise ApiError(400, self.errors["bad_markup"])

    def _new_message(
        self,
        person: Person,
        kind: str,
        body: str,
        entities: list[JSONDict],
        markup: tuple[list[list[JSONDict]] | None, list[list[ReplyButton]] | None, bool, bool],
        file: SentFile | None = None,
    ) -> BotMessage:
        inline, reply, one_time, remove = markup
        message = BotMessage(
            message_id=self._next_message_id(person.user_id),
            chat_id=person.user_id,
            date=self._now(),
            kind=kind,
            body=body,
            entities=entities,
            inline_keyboard=inline,
            reply_keyboard=reply,
            file=file,
            _bot_user=self.bot_user(),
            _chat=person.chat_api(),
        )
        if reply is not None:
            person.reply_keyboard, person.reply_keyboard_one_time = reply, one_time
        elif remove:
            person.reply_keyboard, person.reply_keyboard_one_time = None, False
        person._messages.append(message)
        self.stats.messages_sent += 1
        return message

    def _editable(self, params: _Params) -> tuple[Person, BotMessage]:
        if params.get("inline_message_id"):
            raise ApiError(400, self.errors["inline_unsupported"])
        chat_id = self._chat_id(params)
        person = self._person_for(chat_id, sending=True)
        message_id = params.integer("message_id")
        for message in person.messages:
            if message.message_id == message_id:
                return person, message
        raise ApiError(400, self.errors["edit_not_found"], chat_id=chat_id)

    # --- methods

    def _get_me(self, params: _Params) -> JSONDict:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _accept(params: _Params) -> bool:
        return True

    async def _get_updates(self, params: _Params) -> list[JSONDict]:
        if self.webhook is not None:
            raise ApiError(409, self.errors["webhook_active"])
        offset = params.integer("offset")
        limit = min(100, max(1, params.integer("limit") or 100))
        timeout = max(0.0, params.number("timeout") or 0.0)
        allowed = params.structured("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed] or None
        if offset is not None:
            if offset < 0:
                keep = list(self._pending)[offset:]
                self._pending = {k: self._pending[k] for k in keep}
            else:
                self._pending = {k: v for k, v in self._pending.items() if k >= offset}
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._long_poll(self._updates_changed) as wait:
            self._updates_changed.notify_all()  # an older long poll is terminated
            while True:
                if self._closing:
                    return []
                if generation != self._poll_generation:
                    raise ApiError(409, self.errors["terminated"])
                if self.webhook is not None:
                    raise ApiError(409, self.errors["webhook_active"])
                available = list(self._pending.values())[:limit]
                remaining = deadline - loop.time()
                if available or remaining <= 0:
                    return available
                await wait(remaining)

    async def _set_webhook(self, params: _Params) -> bool:
        url = (params.text("url") or "").strip()
        if not url:
            await self._remove_webhook(params.flag("drop_pending_updates"))
            return True
        secret = params.text("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ApiError(400, self.errors["bad_secret"])
        max_connections = params.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise ApiError(400, self.errors["bad_max_connections"])
        allowed = params.structured("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed] or None
        await self._stop_webhook_workers()
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self.webhook = _Webhook(url, secret, max_connections, self.allowed_updates)
        self._poll_generation += 1
        async with self._updates_changed:
            self._updates_changed.notify_all()  # a waiting long poll answers 409
        workers = min(self.webhook_concurrency, max_connections)
        self._webhook_tasks = [
            asyncio.create_task(self._webhook_worker(self.webhook), name=f"telegram-emulator-webhook-{n}")
            for n in range(workers)
        ]
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        await self._remove_webhook(params.flag("drop_pending_updates"))
        return True

    async def _remove_webhook(self, drop_pending: bool) -> None:
        await self._stop_webhook_workers()
        self.webhook = None
        if drop_pending:
            self._pending.clear()

    def _get_webhook_info(self, params: _Params) -> JSONDict:
        hook = self.webhook
        info: JSONDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.allowed_updates:
                info["allowed_updates"] = list(hook.allowed_updates)
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    def _send_message(self, params: _Params) -> JSONDict:
        chat_id = self._chat_id(params)
        person = self._person_for(chat_id, sending=True)
        text, entities = self._formatted(params, "text", "entities", required=True)
        markup = self._markup(params)
        self._take_rate(chat_id)
        message = self._new_message(person, "text", text, entities, markup)
        self._schedule_notify(person)
        return message.to_api()

    def _edit_message_text(self, params: _Params) -> JSONDict:
        person, message = self._editable(params)
        if message.kind != "text":
            raise ApiError(400, self.errors["no_text_to_edit"], chat_id=person.user_id)
        text, entities = self._formatted(params, "text", "entities", required=True)
        inline, _, _, _ = self._markup(params, inline_only=True)
        if text == message.body and entities == message.entities and inline == message.inline_keyboard:
            raise ApiError(400, self.errors["not_modified"], chat_id=person.user_id)
        self._take_rate(person.user_id)
        message.versions.append(message.body)
        message.body, message.entities, message.inline_keyboard = text, entities, inline
        self._edited(person, message)
        return message.to_api()

    def _edit_message_reply_markup(self, params: _Params) -> JSONDict:
        person, message = self._editable(params)
        inline, _, _, _ = self._markup(params, inline_only=True)
        if inline == message.inline_keyboard:
            raise ApiError(400, self.errors["not_modified"], chat_id=person.user_id)
        self._take_rate(person.user_id)
        message.inline_keyboard = inline
        self._edited(person, message)
        return message.to_api()

    def _edited(self, person: Person, message: BotMessage) -> None:
        message.edit_date = self._now()
        message.edits += 1
        self.stats.edits += 1
        self._schedule_notify(person)

    def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        query = self._queries.get(query_id)
        too_old = (
            query is not None
            and self.callback_max_age is not None
            and time.monotonic() - query.pressed_at > self.callback_max_age
        )
        if query is None or query.answered or too_old:
            raise ApiError(400, self.errors["query_too_old"])
        text = params.text("text")
        if text is not None and len(text) > MAX_ANSWER_TEXT:
            raise ApiError(400, self.errors["answer_too_long"], chat_id=query.chat_id)
        query.answered, query.text = True, text
        query.show_alert, query.url = params.flag("show_alert"), params.text("url")
        self.stats.callback_answers += 1
        person = self.people.get(query.chat_id)
        if person is not None:
            self._schedule_notify(person)
        return True

    def _send_document(self, params: _Params) -> JSONDict:
        return self._send_file(params, "document")

    def _send_photo(self, params: _Params) -> JSONDict:
        return self._send_file(params, "photo")

    def _send_file(self, params: _Params, kind: str) -> JSONDict:
        chat_id = self._chat_id(params)
        person = self._person_for(chat_id, sending=True)
        caption, entities = self._formatted(params, "caption", "caption_entities", required=False)
        markup = self._markup(params)
        sent = self._file_of(params, kind)
        self._take_rate(chat_id)
        if sent.file_id not in self.files:
            self.files[sent.file_id] = sent
        message = self._new_message(person, kind, caption, entities, markup, sent)
        self._schedule_notify(person)
        return message.to_api()

    def _file_of(self, params: _Params, kind: str) -> SentFile:
        value = params.get(kind)
        upload = params.files.get(kind)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = params.files.get(value.removeprefix("attach://"))
        number = next(self._file_ids)
        file_id = f"{'BQAC' if kind == 'document' else 'AgAC'}AgUAAx-emu-{number:06d}"
        unique_id = f"AgAD{number:06d}"
        folder = "documents" if kind == "document" else "photos"
        if upload is not None:
            name = upload.filename
            mime = upload.content_type or (mimetypes.guess_type(name)[0] if name else None)
            if kind == "photo":
                width, height = _png_size(upload.data)
                return SentFile(
                    kind,
                    None,
                    mime,
                    upload.data,
                    file_id,
                    unique_id,
                    f"{folder}/file_{number}.jpg",
                    width=width,
                    height=height,
                )
            suffix = ("." + name.rsplit(".", 1)[-1]) if name and "." in name else ""
            return SentFile(
                kind,
                name or "document",
                mime or "application/octet-stream",
                upload.data,
                file_id,
                unique_id,
                f"{folder}/file_{number}{suffix}",
            )
        if isinstance(value, str) and value:
            if value in self.files:
                return self.files[value]
            if value.startswith(("http://", "https://")):
                name = value.rsplit("/", 1)[-1] or "file"
                return SentFile(
                    kind,
                    name if kind == "document" else None,
                    mimetypes.guess_type(name)[0],
                    None,
                    file_id,
                    unique_id,
                    f"{folder}/file_{number}",
                    url=value,
                )
            raise ApiError(400, self.errors["wrong_file_id"])
        raise ApiError(400, self.errors["file_missing"].format(field=kind))

    def _delete_message(self, params: _Params) -> bool:
        chat_id = self._chat_id(params)
        person = self._person_for(chat_id, sending=False)
        message_id = params.integer("message_id")
        for message in person.messages:
            if message.message_id == message_id:
                message.deleted = True
                self.stats.deletions += 1
                self._schedule_notify(person)
                return True
        raise ApiError(400, self.errors["delete_not_found"], chat_id=chat_id)

    def _get_file(self, params: _Params) -> JSONDict:
        sent = self.files.get(params.text("file_id") or "")
        if sent is None:
            raise ApiError(400, self.errors["wrong_file_id"])
        return {
            **{k: v for k, v in sent.to_api().items() if k in ("file_id", "file_unique_id", "file_size")},
            "file_path": sent.file_path,
        }

    def _send_chat_action(self, params: _Params) -> bool:
        self._person_for(self._chat_id(params), sending=True)
        return True

    def _schedule_notify(self, person: Person) -> None:
        """Wake ``person.wait_for`` once the current request is answered."""
        self._touched.add(person.user_id)

    # --- webhook delivery

    async def _stop_webhook_workers(self) -> None:
        tasks, self._webhook_tasks = self._webhook_tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._in_flight.clear()

    async def _webhook_worker(self, hook: _Webhook) -> None:
        while True:
            async with self._updates_changed:
                while True:
                    update = next((u for k, u in self._pending.items() if k not in self._in_flight), None)
                    if update is not None:
                        break
                    await self._updates_changed.wait()
            update_id = update["update_id"]
            self._in_flight.add(update_id)
            try:
                await self._deliver(hook, update)
            finally:
                self._in_flight.discard(update_id)
            self._pending.pop(update_id, None)  # delivered, or given up (not when cancelled: it stays pending)

    async def _deliver(self, hook: _Webhook, update: JSONDict) -> None:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        body = json.dumps(update, ensure_ascii=False).encode()
        for attempt in range(1, self.webhook_max_attempts + 1):
            status: int | None = None
            error: str | None = None
            try:
                async with self._session.post(
                    hook.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
                ) as response:
                    status = response.status
                    await response.read()
                    if not 200 <= status < 300:
                        error = f"Wrong response from the webhook: {status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {type(exc).__name__}: {exc}"
            self.webhook_deliveries.append(
                WebhookDelivery(
                    update["update_id"], attempt, hook.url, status, error, hook.secret_token, time.monotonic()
                )
            )
            await self._notify_state()
            if error is None:
                return
            hook.last_error_date, hook.last_error_message = self._now(), error
            if attempt < self.webhook_max_attempts:
                await asyncio.sleep(min(self.webhook_retry_cap, self.webhook_retry_base * 2 ** (attempt - 1)))
        self.webhook_given_up.append(update)


def _json_response(body: JSONDict, status: int) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(), status=status, content_type="application/json"
    )
