"""An in-process emulator of the Zalo Bot platform API, for tests (loopback HTTP only, never the internet).

The product's own aiohttp client talks to it over HTTP on 127.0.0.1; tests play the people on the other side::

    async with ZaloBotEmulator(token="1459232241454765289:secret-abc", account_name="bot.SipasTest") as emu:
        base = emu.api_url                      # the product calls f"{base}{token}/{method}"
        an = emu.person("6ede9afa66b88fe6d6a9", display_name="Nguyễn Văn An")
        await an.send_text("/start TOKEN123")   # queued for getUpdates, or pushed to the webhook when one is set
        ...                                     # the product polls getUpdates (or receives the push) and answers
        await an.wait_for(lambda p: p.last.text.startswith("Câu 1/"))

What it emulates (docs/CHANNELS.md): routes ``/bot<token>/<method>`` (POST, or GET with a query string) with
JSON, urlencoded or multipart bodies, or none; the ``{"ok": ...}`` envelope; getMe, getUpdates, setWebhook,
getWebhookInfo, deleteWebhook, sendMessage, sendPhoto, sendSticker and sendChatAction with the documented result
shapes (ids are hex-like strings, ``date`` is epoch milliseconds); getUpdates as the platform does it: ``timeout``
seconds (default 30, fractions accepted), **one update per call (an object, never an array), no offset**, reading
removes it (at-most-once), long polling, and HTTP 200 ``{"ok":false,"error_code":408,"description":"Request
timeout"}`` when nothing arrives in time; webhook pushes (``X-Bot-Api-Secret-Token``, body flat or wrapped per
``emulator.envelope``) with optional retries and a ``redeliver`` helper for duplicate deliveries; person events
``message.text|image|sticker|unsupported.received``; optional rate limits per chat and bot-wide; fault injection.

Error answers (``DEFAULT_ERRORS``; the real codes are undocumented, so every one is overridable through the
constructor's ``errors``):

=====================================  ===========  ==========  ===========================================
case                                   HTTP status  error_code  why this choice
=====================================  ===========  ==========  ===========================================
wrong token                            200          401         what integrators report (docs/CHANNELS.md)
unknown method                         404          404         like the legacy host's 404
getUpdates: nothing within timeout     200          408         measured (docs/CHANNELS.md); not an error
getUpdates while a webhook is set      200          409         Telegram's code for the same conflict
chat unknown / user never wrote        200          403         ``UNKNOWN_CHAT_ERROR_CODE``: "unreachable"
bad parameters (text empty / > 2000,   400          400         our payload defect: park and alert, never
secret length, url, photo, ...)                                 retry (docs/CHANNELS.md, five outcomes)
rate limit (``per_chat``/``global``)   429          429         as one SDK retries on (docs/CHANNELS.md)
=====================================  ===========  ==========  ===========================================

``stats.errors_given`` counts every ``ok:false`` answer except the 408 of an empty poll (that is not an error).

Simplifications, on purpose: private chats only (chat id == user id); a person is "unknown" to ``send*`` until they
write (the platform's "user writes first"), whatever ``emulator.person`` was called with; method names are
case-sensitive; texts are counted in code points (``len``) and kept as sent (no trimming, no normalization: a
non-NFC bot text is only counted in ``stats.non_nfc_texts``); whitespace-only texts count as empty;
``parse_mode`` is ignored (recorded on the message and in ``stats.parse_mode_ignored``); URLs given for photos are
never fetched; an empty ``url`` in setWebhook is an error (use deleteWebhook).

Behaviours worth knowing:
- Person actions push to the webhook **inside** the action: ``await p.send_text(...)`` returns once our server
  answered (after ``push_retries`` retries, ``push_retry_delay`` apart). Pushes are serialized, so they arrive in
  order. An update whose pushes all failed is dropped into ``emulator.undelivered`` (never re-queued).
- Updates queued while no webhook was set stay queued when one is set (getUpdates answers 409 meanwhile) and
  become readable again after deleteWebhook; they are never pushed.
- Concurrent getUpdates calls are allowed; each update goes to exactly one of them. An update handed to a poll
  whose client has gone away is lost, as at-most-once delivery implies.
- Waiting long polls answer 409 when a webhook is set, and 408 when the emulator stops.
- A fault from ``fail_next`` replaces the whole answer (with ``applied=True`` the call takes effect first and only
  the answer is lost: a duplicate-send test). Faults and rate limits never consume an update.
- Updates returned by person actions and ``pending_updates`` are copies: changing them changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import web

from tests.emulators.loopback import LoopbackServer, Push, RequestHandler, Watched, notify_all
from tests.emulators.telegram import _json_response

JSONDict = dict[str, Any]
Envelope = Literal["flat", "wrapped"]
NameField = Literal["display_name", "first_name"]

EVENT_TEXT = "message.text.received"
EVENT_IMAGE = "message.image.received"
EVENT_STICKER = "message.sticker.received"
EVENT_VOICE = "message.voice.received"
EVENT_UNSUPPORTED = "message.unsupported.received"

#: The header carrying setWebhook's ``secret_token`` on every push (documented).
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_TEXT = 2000  # sendMessage text, sendPhoto caption: 1-2000 characters (documented)
MIN_SECRET = 8
MAX_SECRET = 256
DEFAULT_POLL_TIMEOUT = 30.0
CHAT_ACTIONS: frozenset[str] = frozenset({"typing", "upload_photo"})  # "upload_photo" is "coming soon"
DEFAULT_STICKER = "0e078a2fb66a5f34067b"

UNAUTHORIZED_ERROR_CODE = 401
POLL_TIMEOUT_ERROR_CODE = 408
WEBHOOK_ACTIVE_ERROR_CODE = 409
#: sendMessage/sendPhoto/sendSticker/sendChatAction to a chat id that never wrote to the bot (unverified).
UNKNOWN_CHAT_ERROR_CODE = 403
BAD_REQUEST_ERROR_CODE = 400
TOO_MANY_REQUESTS_ERROR_CODE = 429

#: Methods that send something into a chat: they count against the rate limits.
SEND_METHODS: frozenset[str] = frozenset({"sendMessage", "sendPhoto", "sendSticker"})
#: Methods that act on a chat.
CHAT_METHODS: frozenset[str] = SEND_METHODS | {"sendChatAction"}
METHODS: tuple[str, ...] = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "getWebhookInfo",
    "deleteWebhook",
    "sendMessage",
    "sendPhoto",
    "sendSticker",
    "sendChatAction",
)


@dataclass(frozen=True)
class ErrorSpec:
    """One ``ok:false`` answer: the HTTP status it comes with, ``error_code`` and ``description``."""

    http_status: int
    error_code: int
    description: str


_BAD = BAD_REQUEST_ERROR_CODE
#: The emulator's error answers by case (see the module docstring); override any through ``errors=``.
DEFAULT_ERRORS: dict[str, ErrorSpec] = {
    "unauthorized": ErrorSpec(200, UNAUTHORIZED_ERROR_CODE, "Unauthorized"),
    "not_found": ErrorSpec(404, 404, "Not Found"),
    "poll_timeout": ErrorSpec(200, POLL_TIMEOUT_ERROR_CODE, "Request timeout"),
    "webhook_active": ErrorSpec(
        200,
        WEBHOOK_ACTIVE_ERROR_CODE,
        "Conflict: getUpdates is not available while a webhook is set; use deleteWebhook first",
    ),
    "unknown_chat": ErrorSpec(200, UNKNOWN_CHAT_ERROR_CODE, "Forbidden: the user has not chatted with the bot"),
    "chat_id_missing": ErrorSpec(400, _BAD, "Bad Request: chat_id is required"),
    "text_empty": ErrorSpec(400, _BAD, "Bad Request: text must not be empty"),
    "text_too_long": ErrorSpec(400, _BAD, f"Bad Request: text must be 1 to {MAX_TEXT} characters"),
    "caption_too_long": ErrorSpec(400, _BAD, f"Bad Request: caption must be 1 to {MAX_TEXT} characters"),
    "photo_empty": ErrorSpec(400, _BAD, "The photo must not be empty"),
    "photo_scheme": ErrorSpec(400, _BAD, "The photo must start with http:// or https://"),
    "sticker_empty": ErrorSpec(400, _BAD, "Bad Request: sticker is required"),
    "bad_action": ErrorSpec(400, _BAD, "Bad Request: action must be one of typing, upload_photo"),
    "url_missing": ErrorSpec(400, _BAD, "Bad Request: url is required"),
    "url_not_https": ErrorSpec(400, _BAD, "Bad Request: url must be an HTTPS URL"),
    "bad_secret": ErrorSpec(400, _BAD, f"Bad Request: secret_token must be {MIN_SECRET} to {MAX_SECRET} characters"),
    "bad_timeout": ErrorSpec(400, _BAD, "Bad Request: timeout must be a number of seconds"),
    "bad_body": ErrorSpec(400, _BAD, "Bad Request: the body must be a JSON object, a form or a query string"),
    "too_many_requests": ErrorSpec(429, TOO_MANY_REQUESTS_ERROR_CODE, "Too Many Requests"),
}


class ApiError(Exception):
    """An ``ok:false`` answer to give."""

    def __init__(self, spec: ErrorSpec, chat_id: str | None = None) -> None:
        super().__init__(spec.description)
        self.spec = spec
        self.chat_id = chat_id


# --------------------------------------------------------------------------------------------------------------------
# Records the tests read


@dataclass
class BotMessage:
    """A message the bot sent into a chat."""

    message_id: str
    chat_id: str
    date: int  # epoch ms
    kind: str  # "text" | "photo" | "sticker"
    text: str  # the text; for a photo its caption ("" when none); for a sticker ""
    photo: str | None = None  # the photo URL (never fetched)
    sticker: str | None = None
    parse_mode: str | None = None  # given by the bot, ignored by the platform
    params: JSONDict = field(default_factory=dict)  # the request's parameters, as received

    @property
    def caption(self) -> str | None:
        """The caption of a photo (None for a text or a sticker, or a photo without one)."""
        return (self.text or None) if self.kind == "photo" else None


@dataclass(frozen=True)
class WebhookInfo:
    """The webhook set now."""

    url: str
    secret_token: str
    updated_at: int  # epoch ms


@dataclass
class WebhookDelivery(Push):
    """One attempt to push an update to the webhook."""

    update: JSONDict
    attempt: int  # 1, 2, ... (a redelivery starts again at 1)
    url: str
    envelope: str  # "flat" | "wrapped"
    status: int | None  # the HTTP status our server answered; None on a connection error or timeout
    error: str | None
    secret_header: str
    redelivery: bool
    at: float  # time.monotonic()

    @property
    def event_name(self) -> str:
        """The update's ``event_name``."""
        return str(self.update["event_name"])

    @property
    def message_id(self) -> str:
        """The update's ``message.message_id`` (the dedupe key, with ``event_name``)."""
        return str(self.update["message"]["message_id"])


@dataclass
class ApiCall:
    """One request the product made, as received (form values are strings), and the answer it got."""

    method: str  # as in the path
    params: JSONDict
    http_method: str  # "POST" | "GET"
    content_type: str
    at: float  # time.monotonic()
    authorized: bool = False
    http_status: int = 0
    ok: bool = False
    error_code: int | None = None
    description: str | None = None


@dataclass
class Stats:
    """Counters for assertions such as "zero 429s"."""

    requests: Counter[str] = field(default_factory=Counter)  # authorized calls of known methods, by name
    messages_sent: int = 0  # sendMessage, sendPhoto, sendSticker that took effect
    chat_actions: int = 0
    updates_created: int = 0  # person events
    updates_delivered: int = 0  # handed to a getUpdates, or pushed with a 2xx answer (redeliveries not counted)
    poll_timeouts: int = 0  # empty polls answered 408
    webhook_pushes: int = 0  # push attempts, retries and redeliveries included
    webhook_failures: int = 0  # push attempts not answered 2xx
    errors_given: int = 0  # ok:false answers (injected ones included), except the 408 of empty polls
    errors: Counter[int] = field(default_factory=Counter)  # every ok:false answer by error_code, 408 included
    too_many_requests: int = 0  # 429s given (rate limits and injected)
    too_many_requests_by_chat: Counter[str] = field(default_factory=Counter)
    faults_injected: int = 0  # answers given by ``fail_next``
    parse_mode_ignored: int = 0  # sends that carried a parse_mode
    non_nfc_texts: int = 0  # bot texts or captions not in Unicode NFC


@dataclass
class _Fault:
    remaining: int
    methods: frozenset[str] | None  # None: every method
    spec: ErrorSpec
    raw_body: str | None
    applied: bool


@dataclass
class _Hang:
    release: asyncio.Event
    seconds: float | None


class _NoResult:
    """A method answering ``{"ok": true}`` without ``result`` (sendChatAction)."""


_NO_RESULT = _NoResult()


class _Params:
    """A request's parameters whatever the encoding: form and query values are strings, JSON values typed."""

    def __init__(self, values: JSONDict) -> None:
        self.values = values

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def number(self, name: str, error: ErrorSpec) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ApiError(error)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError(error) from None


# --------------------------------------------------------------------------------------------------------------------
# People


class Person(Watched[BotMessage]):
    """A simulated Zalo user in a private chat with the bot (chat id == user id).

    Everything here is what the person sees or does; the bot's side goes over HTTP. Create with
    ``ZaloBotEmulator.person``.
    """

    def __init__(
        self, emulator: ZaloBotEmulator, user_id: str, display_name: str, name_field: NameField, has_written: bool
    ) -> None:
        super().__init__()
        self._emu = emulator
        self.user_id = user_id
        self.display_name = display_name
        self.name_field: NameField = name_field  # the key of the name in ``from`` (the docs' sample: first_name)
        self.has_written = has_written  # sends to this chat answer "unknown chat" until True
        self.sent: list[JSONDict] = []  # the person's own messages (the update's ``message``), oldest first
        self.chat_actions: list[str] = []  # sendChatAction actions received, oldest first

    def _who(self) -> str:
        return f"chat {self.user_id} ({self.display_name})"

    def _line(self, message: BotMessage) -> str:
        return f"{message.kind} {message.message_id}: {message.text!r}"

    # --- what the person sees

    @property
    def chat_id(self) -> str:
        """The private chat's id (== the user id)."""
        return self.user_id

    @property
    def texts(self) -> list[str]:
        """The texts (captions for photos, "" for stickers) of the bot's messages, oldest first."""
        return [m.text for m in self._messages]

    def from_api(self) -> JSONDict:
        """The ``from`` object of this person's messages."""
        return {"id": self.user_id, self.name_field: self.display_name, "is_bot": False}

    def chat_api(self) -> JSONDict:
        """The ``chat`` object of this private chat."""
        return {"id": self.user_id, "chat_type": "PRIVATE"}

    # --- what the person does

    async def send_text(self, text: str) -> JSONDict:
        """Write ``text`` (e.g. ``/start TOKEN``) to the bot; returns the update (``message.text.received``)."""
        return await self.send_event(EVENT_TEXT, {"text": text})

    async def send_image(
        self, url: str = "https://photo.example.vn/anh.jpg", caption: str | None = None, *, key: str = "photo_url"
    ) -> JSONDict:
        """Send a picture (``message.image.received``); ``key="photo"`` uses the other field name reported."""
        content: JSONDict = {key: url}
        if caption is not None:
            content["caption"] = caption
        return await self.send_event(EVENT_IMAGE, content)

    async def send_sticker(self, sticker: str = DEFAULT_STICKER) -> JSONDict:
        """Send a sticker (``message.sticker.received``)."""
        return await self.send_event(EVENT_STICKER, {"sticker": sticker})

    async def send_unsupported(self) -> JSONDict:
        """Send something the platform does not describe (``message.unsupported.received``)."""
        return await self.send_event(EVENT_UNSUPPORTED, {})

    async def send_event(self, event_name: str, content: JSONDict) -> JSONDict:
        """Send any event: ``content`` goes into ``message`` beside from/chat/message_id/date. Returns the update."""
        emu = self._emu
        self.has_written = True
        message: JSONDict = {
            "from": self.from_api(),
            "chat": self.chat_api(),
            **copy.deepcopy(content),
            "message_id": emu._next_id("in"),
            "date": emu._now_ms(),
        }
        self.sent.append(message)
        return await emu._enqueue({"event_name": event_name, "message": message})

    # --- internals


# --------------------------------------------------------------------------------------------------------------------
# The emulator


class ZaloBotEmulator(LoopbackServer):
    """The Zalo Bot platform API for one bot, on ``127.0.0.1:<random port>``.

    Args:
        token: the bot token ``<bot_id>:<secret>`` (requests with another answer 401). ``bot_id`` is getMe's id.
        account_name: getMe's ``account_name``.
        account_type: getMe's ``account_type``.
        envelope: webhook body shape, ``"flat"`` (live traffic) or ``"wrapped"`` (the docs); settable later.
        allow_http_webhook: accept ``http://`` webhook URLs (tests use http://127.0.0.1); False: HTTPS only.
        push_retries: extra attempts per update after a non-2xx answer or a connection error (0: one attempt).
        push_retry_delay: seconds between attempts.
        webhook_timeout: seconds our server has to answer one push.
        default_poll_timeout: getUpdates' ``timeout`` when not given.
        per_chat: sends per second per chat (``SEND_METHODS``); None: no limit.
        global_rate: at most this many sends in any sliding second, bot-wide; None: no limit.
        tolerance: seconds of slack on the per-chat spacing.
        errors: overrides of ``DEFAULT_ERRORS`` by case.
        clock: wall clock (epoch seconds) for ``date`` fields (given in milliseconds).
        port: the TCP port to listen on (0: a free one), e.g. an address the product was given before it came up.
    """

    PUSH_REFUSED = "Wrong response from the webhook: {status} {reason}"
    PUSH_FAILED = "Connection failed: {kind}: {error}"

    def __init__(
        self,
        token: str = "1459232241454765289:secret-abc",
        account_name: str = "bot.SipasTest",
        *,
        account_type: str = "BASIC",
        envelope: Envelope = "flat",
        allow_http_webhook: bool = True,
        push_retries: int = 0,
        push_retry_delay: float = 0.05,
        webhook_timeout: float = 5.0,
        default_poll_timeout: float = DEFAULT_POLL_TIMEOUT,
        per_chat: float | None = None,
        global_rate: float | None = None,
        tolerance: float = 0.05,
        errors: Mapping[str, ErrorSpec] | None = None,
        clock: Callable[[], float] = time.time,
        port: int = 0,
    ) -> None:
        super().__init__(port)
        self.token = token
        self.bot_id = token.split(":", 1)[0]
        self.account_name = account_name
        self.account_type = account_type
        self._envelope: Envelope = "flat"
        self.envelope = envelope  # validated by the setter
        self.allow_http_webhook = allow_http_webhook
        self.push_retries = max(0, push_retries)
        self.push_retry_delay = push_retry_delay
        self.webhook_timeout = webhook_timeout
        self.default_poll_timeout = default_poll_timeout
        self.per_chat = per_chat
        self.global_rate = global_rate
        self.tolerance = tolerance
        self.errors: dict[str, ErrorSpec] = {**DEFAULT_ERRORS, **(errors or {})}
        self.clock = clock

        self.stats = Stats()
        self.calls: list[ApiCall] = []  # every request, in arrival order (wrong tokens and unknown methods too)
        self.updates: list[JSONDict] = []  # every update ever created, in order
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.undelivered: list[JSONDict] = []  # updates whose every push attempt failed (lost)
        self.people: dict[str, Person] = {}
        self.waiting_polls = 0  # getUpdates calls waiting for an update right now

        self._webhook: WebhookInfo | None = None
        self._webhook_updated_at = 0
        self._queue: deque[JSONDict] = deque()
        self._pushed: list[JSONDict] = []  # updates pushed (whatever the outcome), for ``redeliver``
        self._id_counter = itertools.count(1)
        self._chat_last_send: dict[str, float] = {}
        self._global_window: deque[float] = deque()
        self._faults: list[_Fault] = []
        self._hangs: dict[str, _Hang] = {}
        self._queue_changed = asyncio.Condition()
        self._push_lock = asyncio.Lock()
        self._handlers: dict[str, Callable[[_Params], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "deleteWebhook": self._delete_webhook,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendSticker": self._send_sticker,
            "sendChatAction": self._send_chat_action,
        }

    # --- lifecycle

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/bot``: the product calls ``f"{api_url}{token}/{method}"``."""
        return f"{self.base_url}/bot"

    def _served(self) -> list[tuple[str, RequestHandler]]:
        return [("/bot{token}/{method}", self._handle)]

    async def _stopping(self) -> None:
        """Waiting long polls answer 408, hung methods are released."""
        self.release()
        await notify_all(self._queue_changed)

    # --- the test side

    @property
    def envelope(self) -> Envelope:
        """The webhook body shape: ``"flat"`` ``{"event_name", "message"}`` or ``"wrapped"`` ``{"ok", "result"}``."""
        return self._envelope

    @envelope.setter
    def envelope(self, value: Envelope) -> None:
        if value not in ("flat", "wrapped"):
            raise ValueError(f"envelope must be 'flat' or 'wrapped', not {value!r}")
        self._envelope = value

    @property
    def webhook(self) -> WebhookInfo | None:
        """The webhook set now (url, secret_token, updated_at), or None."""
        return self._webhook

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet fetched by getUpdates, oldest first (copies)."""
        return copy.deepcopy(list(self._queue))

    def person(
        self,
        user_id: str | None = None,
        display_name: str = "Người dùng",
        *,
        name_field: NameField = "display_name",
        has_written: bool = False,
    ) -> Person:
        """A Zalo user (the same object again for a known id; ``None``: a new hex-like id).

        ``name_field="first_name"`` puts the name under ``from.first_name`` as the docs' sample does. Until the
        person writes (``has_written=True`` pretends they already did), sends to them answer "unknown chat".
        """
        if user_id is None:
            user_id = self._next_id("user")
        if user_id in self.people:
            return self.people[user_id]
        person = Person(self, user_id, display_name, name_field, has_written)
        self.people[user_id] = person
        return person

    def fail_next(
        self,
        method: str | Iterable[str] = "*",
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        description: str | None = None,
        count: int = 1,
        raw_body: str | None = None,
        applied: bool = False,
    ) -> None:
        """The next ``count`` calls of ``method`` (a name, several, or ``"*"``: any) answer an error.

        - ``http_status=429``: HTTP 429 ``{"ok":false,"error_code":429,"description":"Too Many Requests"}``.
        - ``http_status=500`` (or any): that status, ``error_code`` = the status unless given.
        - only ``error_code``: HTTP 200 with ``ok:false`` and that code (the platform's usual way).
        - neither: HTTP 500.
        ``raw_body`` sends that text (``text/html``) instead of JSON, like a proxy's error page. With
        ``applied=True`` the call takes effect first and only the answer is lost.
        """
        if http_status is None:
            http_status = 500 if error_code is None else 200
        if error_code is None:
            error_code = http_status if http_status != 200 else BAD_REQUEST_ERROR_CODE
        if description is None:
            if error_code == TOO_MANY_REQUESTS_ERROR_CODE:
                description = self.errors["too_many_requests"].description
            else:
                try:
                    description = HTTPStatus(error_code).phrase
                except ValueError:
                    description = "Error"
        methods = None if method == "*" else frozenset([method] if isinstance(method, str) else method)
        spec = ErrorSpec(http_status, error_code, description)
        self._faults.append(_Fault(count, methods, spec, raw_body, applied))

    def hang(self, method: str, seconds: float | None = None) -> None:
        """Calls of ``method`` wait (``seconds``, or until ``release``) before being handled as usual."""
        self._hangs[method] = _Hang(asyncio.Event(), seconds)

    def release(self, method: str | None = None) -> None:
        """End ``hang`` for ``method`` (None: all); waiting calls proceed."""
        for name in [method] if method is not None else list(self._hangs):
            hang = self._hangs.pop(name, None)
            if hang is not None:
                hang.release.set()

    def calls_to(self, method: str) -> list[ApiCall]:
        """The logged calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    async def redeliver(self, n: int = 1) -> list[WebhookDelivery]:
        """Push the last ``n`` pushed updates again (same ``message_id``), in their order: duplicate deliveries.

        Uses the webhook set now, the current ``envelope`` and ``push_retries``; returns the new delivery records.
        """
        hook = self._webhook
        if hook is None:
            raise RuntimeError("no webhook is set")
        again = self._pushed[-n:] if n > 0 else []
        deliveries: list[WebhookDelivery] = []
        for update in again:
            deliveries += await self._push(hook, update, redelivery=True)
        return deliveries

    def reset_limits(self) -> None:
        """Forget the rate-limit history."""
        self._chat_last_send.clear()
        self._global_window.clear()

    # --- HTTP

    def _summary(self) -> str:
        return f"calls={dict(self.stats.requests)} pending={len(self._queue)} webhook={self._webhook}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = ApiCall(method, {}, request.method, request.content_type, time.monotonic())
        self.calls.append(call)
        try:
            return await self._answer(request, method, call)
        finally:
            person = self.people.get(str(call.params.get("chat_id", "")))
            if person is not None:
                await person._notify()
            await self._notify_state()

    async def _answer(self, request: web.Request, method: str, call: ApiCall) -> web.StreamResponse:
        try:
            params = await self._read_params(request)
        except ApiError as error:
            return self._error_response(error, call)
        call.params = dict(params.values)
        if request.match_info["token"] != self.token:
            return self._error_response(ApiError(self.errors["unauthorized"]), call)
        call.authorized = True
        handler = self._handlers.get(method)
        if handler is None:
            return self._error_response(ApiError(self.errors["not_found"]), call)
        self.stats.requests[method] += 1
        hang = self._hangs.get(method)
        if hang is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hang.release.wait(), hang.seconds)
        fault = next((f for f in self._faults if f.methods is None or method in f.methods), None)
        if fault is not None:
            fault.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining > 0]
            self.stats.faults_injected += 1
            if fault.applied:
                with contextlib.suppress(ApiError):
                    await self._run(handler, params)
            chat_id = params.text("chat_id")
            return self._error_response(ApiError(fault.spec, chat_id), call, raw_body=fault.raw_body)
        try:
            result = await self._run(handler, params)
        except ApiError as error:
            return self._error_response(error, call)
        call.http_status, call.ok = 200, True
        body: JSONDict = {"ok": True}
        if result is not _NO_RESULT:
            body["result"] = result
        return _json_response(body, 200)

    @staticmethod
    async def _run(handler: Callable[[_Params], Any], params: _Params) -> Any:
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    def _error_response(self, error: ApiError, call: ApiCall, *, raw_body: str | None = None) -> web.Response:
        spec = error.spec
        self.stats.errors[spec.error_code] += 1
        if spec != self.errors["poll_timeout"]:
            self.stats.errors_given += 1
        if spec.http_status == 429 or spec.error_code == TOO_MANY_REQUESTS_ERROR_CODE:
            self.stats.too_many_requests += 1
            if error.chat_id is not None:
                self.stats.too_many_requests_by_chat[str(error.chat_id)] += 1
        call.http_status, call.ok = spec.http_status, False
        call.error_code, call.description = spec.error_code, spec.description
        if raw_body is not None:
            return web.Response(text=raw_body, status=spec.http_status, content_type="text/html")
        body = {"ok": False, "error_code": spec.error_code, "description": spec.description}
        return _json_response(body, spec.http_status)

    async def _read_params(self, request: web.Request) -> _Params:
        values: JSONDict = dict(request.query)
        if not request.body_exists:
            return _Params(values)
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, str):
                    values[name] = value
                elif isinstance(value, web.FileField):  # the platform takes URLs only ("The photo must not be empty")
                    value.file.close()
                    values[name] = ""
                else:
                    values[name] = bytes(value).decode(errors="replace")
            return _Params(values)
        raw = await request.read()
        if not raw.strip():
            return _Params(values)
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(self.errors["bad_body"]) from None
        if not isinstance(body, dict):
            raise ApiError(self.errors["bad_body"])
        values.update(body)
        return _Params(values)

    # --- state helpers

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _next_id(self, kind: str) -> str:
        """A fresh 20-hex-digit id (deterministic per emulator token)."""
        seed = f"{self.token}:{kind}:{next(self._id_counter)}"
        return hashlib.sha256(seed.encode()).hexdigest()[:20]

    async def _enqueue(self, update: JSONDict) -> JSONDict:
        """Queue an update for getUpdates, or push it when a webhook is set; returns a copy of it."""
        self.updates.append(update)
        self.stats.updates_created += 1
        hook = self._webhook
        if hook is None:
            self._queue.append(update)
            async with self._queue_changed:
                self._queue_changed.notify_all()
            await self._notify_state()
        else:
            self._pushed.append(update)
            await self._push(hook, update, redelivery=False)
        return copy.deepcopy(update)

    def _recipient(self, params: _Params) -> Person:
        chat_id = params.text("chat_id")
        if not chat_id:
            raise ApiError(self.errors["chat_id_missing"])
        person = self.people.get(chat_id)
        if person is None or not person.has_written:
            raise ApiError(self.errors["unknown_chat"], chat_id)
        return person

    def _take_rate(self, chat_id: str) -> None:
        """Refuse (429) or count one send; call only once the request will take effect."""
        now = time.monotonic()
        if self.per_chat:
            last = self._chat_last_send.get(chat_id)
            if last is not None and now - last < 1.0 / self.per_chat - self.tolerance:
                raise ApiError(self.errors["too_many_requests"], chat_id)
        if self.global_rate:
            while self._global_window and self._global_window[0] <= now - 1.0:
                self._global_window.popleft()
            if len(self._global_window) >= max(1, int(self.global_rate)):
                raise ApiError(self.errors["too_many_requests"], chat_id)
        self._chat_last_send[chat_id] = now
        self._global_window.append(now)

    def _check_text(self, value: str | None, *, caption: bool) -> str:
        text = value or ""
        if len(text) > MAX_TEXT:
            raise ApiError(self.errors["caption_too_long" if caption else "text_too_long"])
        if not caption and not text.strip():
            raise ApiError(self.errors["text_empty"])
        return text

    def _record(self, person: Person, kind: str, params: _Params, **fields: Any) -> JSONDict:
        parse_mode = params.text("parse_mode")
        if parse_mode:
            self.stats.parse_mode_ignored += 1
        text = str(fields.pop("text", ""))
        if text and not unicodedata.is_normalized("NFC", text):
            self.stats.non_nfc_texts += 1
        message = BotMessage(
            message_id=self._next_id("out"),
            chat_id=person.user_id,
            date=self._now_ms(),
            kind=kind,
            text=text,
            parse_mode=parse_mode,
            params=dict(params.values),
            **fields,
        )
        person._messages.append(message)
        self.stats.messages_sent += 1
        return {"message_id": message.message_id, "date": message.date}

    # --- methods

    def _get_me(self, params: _Params) -> JSONDict:
        return {
            "id": self.bot_id,
            "account_name": self.account_name,
            "account_type": self.account_type,
            "can_join_groups": False,
        }

    async def _get_updates(self, params: _Params) -> JSONDict:
        if self._webhook is not None:
            raise ApiError(self.errors["webhook_active"])
        timeout = params.number("timeout", self.errors["bad_timeout"])
        timeout = max(0.0, self.default_poll_timeout if timeout is None else timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._long_poll(self._queue_changed) as wait:
            while True:
                if self._webhook is not None:
                    raise ApiError(self.errors["webhook_active"])
                if self._queue and not self._closing:
                    update = self._queue.popleft()
                    self.stats.updates_delivered += 1
                    return copy.deepcopy(update)
                remaining = deadline - loop.time()
                if remaining <= 0 or self._closing:
                    self.stats.poll_timeouts += 1
                    raise ApiError(self.errors["poll_timeout"])
                await wait(remaining)

    async def _set_webhook(self, params: _Params) -> JSONDict:
        url = (params.text("url") or "").strip()
        if not url:
            raise ApiError(self.errors["url_missing"])
        schemes = ("https://", "http://") if self.allow_http_webhook else ("https://",)
        if not url.lower().startswith(schemes):
            raise ApiError(self.errors["url_not_https"])
        secret = params.text("secret_token") or ""
        if not MIN_SECRET <= len(secret) <= MAX_SECRET:
            raise ApiError(self.errors["bad_secret"])
        self._webhook_updated_at = self._now_ms()
        self._webhook = WebhookInfo(url, secret, self._webhook_updated_at)
        async with self._queue_changed:
            self._queue_changed.notify_all()  # waiting long polls answer webhook_active
        return {"url": url, "updated_at": self._webhook_updated_at}

    def _get_webhook_info(self, params: _Params) -> JSONDict:
        hook = self._webhook
        return {"url": hook.url if hook else "", "updated_at": self._webhook_updated_at}

    def _delete_webhook(self, params: _Params) -> JSONDict:
        self._webhook = None
        self._webhook_updated_at = self._now_ms()
        return {"url": "", "updated_at": self._webhook_updated_at}

    def _send_message(self, params: _Params) -> JSONDict:
        person = self._recipient(params)
        text = self._check_text(params.text("text"), caption=False)
        self._take_rate(person.user_id)
        return self._record(person, "text", params, text=text)

    def _send_photo(self, params: _Params) -> JSONDict:
        person = self._recipient(params)
        photo = (params.text("photo") or "").strip()
        if not photo:
            raise ApiError(self.errors["photo_empty"])
        if not photo.lower().startswith(("http://", "https://")):
            raise ApiError(self.errors["photo_scheme"])
        caption = self._check_text(params.text("caption"), caption=True)
        self._take_rate(person.user_id)
        return self._record(person, "photo", params, text=caption, photo=photo)

    def _send_sticker(self, params: _Params) -> JSONDict:
        person = self._recipient(params)
        sticker = (params.text("sticker") or "").strip()
        if not sticker:
            raise ApiError(self.errors["sticker_empty"])
        self._take_rate(person.user_id)
        return self._record(person, "sticker", params, sticker=sticker)

    def _send_chat_action(self, params: _Params) -> _NoResult:
        person = self._recipient(params)
        action = params.text("action") or ""
        if action not in CHAT_ACTIONS:
            raise ApiError(self.errors["bad_action"])
        person.chat_actions.append(action)
        self.stats.chat_actions += 1
        return _NO_RESULT

    # --- webhook delivery

    async def _push(self, hook: WebhookInfo, update: JSONDict, *, redelivery: bool) -> list[WebhookDelivery]:
        """Push one update (with retries); serialized, so pushes arrive in order."""
        deliveries: list[WebhookDelivery] = []
        async with self._push_lock:
            envelope = self._envelope
            shaped = update if envelope == "flat" else {"ok": True, "result": update}
            body = json.dumps(shaped, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json", SECRET_HEADER: hook.secret_token}
            for attempt in range(1, self.push_retries + 2):
                status, error = await self._post(hook.url, body, headers)
                delivery = WebhookDelivery(
                    copy.deepcopy(update),
                    attempt,
                    hook.url,
                    envelope,
                    status,
                    error,
                    hook.secret_token,
                    redelivery,
                    time.monotonic(),
                )
                deliveries.append(delivery)
                self.webhook_deliveries.append(delivery)
                self.stats.webhook_pushes += 1
                if delivery.ok:
                    if not redelivery:
                        self.stats.updates_delivered += 1
                    await self._notify_state()
                    return deliveries
                self.stats.webhook_failures += 1
                await self._notify_state()
                if attempt <= self.push_retries:
                    await asyncio.sleep(self.push_retry_delay)
            if not redelivery:
                self.undelivered.append(update)
        return deliveries
