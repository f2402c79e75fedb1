"""An in-process emulator of the Zalo OA Open API v3, its OAuth token endpoint and ZNS, for tests (loopback only).

The product's own aiohttp client talks to it over HTTP on 127.0.0.1; tests play the citizens on the other side. One
server, one port, three APIs, because ZNS uses the OA's tokens (the ZNS part lives in ``tests.emulators.zns`` and is
reached as ``emu.zns``)::

    async with ZaloOAEmulator(app_id="1234567890", app_secret="app-secret", oa_secret_key="oa-secret-key",
                              oa_id="579745863508352884", access_token="AT-1", refresh_token="RT-1") as emu:
        emu.webhook_url = receiver_url          # set in Zalo's console in real life; every OA and ZNS event goes there
        an = emu.person("2468458835296117922", display_name="Nguyễn Văn An")
        await an.follow()
        await an.send_text("/start TOKEN")      # a signed user_send_text push; returns the event
        ...                                     # the product POSTs {emu.api_url}/v3.0/oa/message/cs
        await an.wait_for(lambda p: p.last.button_titles == ["Hài lòng", "Không hài lòng"])
        await an.press("Hài lòng")              # comes back as user_send_text carrying the button's payload

Interface (all times are the emulator's clock, see ``advance``):

- URLs: ``emu.api_url`` (``…/openapi``: ``POST {api_url}/v3.0/oa/message/cs``, ``GET {api_url}/v3.0/oa/user/detail``),
  ``emu.oauth_url`` (``…/oauth``: ``POST {oauth_url}/v4/oa/access_token``), ``emu.zns_url`` (``…/business``: see
  ``tests.emulators.zns``).
- Tokens: ``emu.access_token`` / ``emu.refresh_token`` (the pair issued last), ``emu.refreshes``,
  ``emu.refresh_log`` (``RefreshRecord``), ``grant()`` (a new pair: the administrator authorised the app again),
  ``emu.refresh_event`` (an ``asyncio.Event`` set once each refresh answer
  is written: ``clear()`` it yourself), ``emu.on_refresh`` (a hook, sync or async, called with the
  ``RefreshRecord`` right after the answer is written), ``expire_access_token()``, ``expire_refresh_token()``.
- People: ``emu.person(user_id, display_name, ...)`` → ``Person`` with ``follow``, ``unfollow``, ``send_text``,
  ``press``, ``messages`` / ``last`` / ``texts`` (``OAMessage``: ``text``, ``buttons`` as ``(title, type,
  payload)``, ``button_titles``), ``wait_for``.
- Pushes: ``emu.webhook_url``; ``await emu.push(event, signature="valid"|"wrong"|"missing"|"bare",
  timestamp_ms=None)`` → our server's HTTP status; ``emu.deliveries`` (``WebhookDelivery``), ``emu.events``,
  ``emu.undelivered``; ``await emu.settle()`` waits for background pushes (ZNS receipts).
- Faults and clock: ``fail_next(path_suffix, http_status=, error=, message=, count=, applied=, disconnect=,
  delay=)``, ``advance(seconds)``, ``now()``, ``now_ms()``.
- Records: ``emu.stats`` (``Stats``), ``emu.calls`` (``ApiCall``: path, headers, body, answer), ``calls_to(suffix)``,
  ``wait_for(predicate)``.

Error answers (HTTP 200 with ``{"error": code, "message": text}``; Zalo's tables change and disagree, so every case
is overridable through the constructor's ``errors=``; ZNS's table is in ``tests.emulators.zns``):

=======================  =====  ====================================================================================
case (``errors`` key)    error  when
=======================  =====  ====================================================================================
``token_invalid``        -216   ``access_token`` header missing, unknown, expired or revoked (docs/CHANNELS.md, Zalo OA)
``bad_request``          -201   body not a JSON object; ``recipient.user_id`` or ``message`` missing
``bad_user_id``          -201   ``user_id`` not a string of digits
``text_empty``           -201   no text and no attachment, or a blank text
``text_too_long``        -201   text longer than ``max_text`` (2000) characters
``too_many_buttons``     -201   more than ``max_buttons`` (5)
``bad_button``           -201   unknown button type, empty title, query payload not a non-empty string, open.url
                                without ``payload.url``, open.phone / open.sms without ``payload.phone_code``
``button_title_long``    -201   a title longer than ``max_button_title`` (20) characters
``bad_attachment``       -201   attachment other than template (buttons / media) or file
``unknown_user``         -230   the user id is not a person of the emulator, or one who never followed nor wrote
``unfollowed``           -232   the person unfollowed and has neither followed again nor written since (unverified)
``interaction_expired``  -230   the last interaction is older than ``interaction_window`` (7 days)
``window_closed``        -213   the last interaction is older than ``reply_window`` (48 h)
``reply_limit``          -213   ``replies_per_window`` (8) replies already sent since the last interaction
``rate_limited``         -32    more than ``rate_per_second`` message/cs calls in a sliding second (off by default)
=======================  =====  ====================================================================================

OAuth answers (HTTP 200, Zalo's OAuth shape ``{"error", "error_name", "error_description"}``; codes other than
-14014 unverified; overridable through ``oauth_errors=``): wrong ``secret_key`` header → ``INVALID_SECRET_KEY``
(-14003), wrong ``app_id`` → ``INVALID_APP_ID`` (-14002), ``grant_type`` other than ``refresh_token`` →
``INVALID_GRANT_TYPE`` (-14001), unknown, spent or expired refresh token → ``INVALID_REFRESH_TOKEN`` (-14014).
Success: ``{"access_token", "refresh_token", "expires_in": "90000"}`` (``expires_in`` a string, as Zalo sends it).
Unknown paths answer HTTP 404 ``{"error": 404, "message": "Not Found"}``.

What it emulates (docs/CHANNELS.md): the ``access_token`` header on every OA and ZNS call (expired →
-216 on openapi paths, -124 on business paths); access tokens expiring after ``access_ttl`` seconds; the rotating,
single-use refresh token (the old one is spent by its use; the old access token stays valid until its own expiry
unless ``old_access_valid_after_refresh=False``); customer-service messages (text, query/url/phone/sms buttons,
media and file attachments) with the 48 h / 8 replies / 7 days windows; a per-OA rate limit; webhook pushes signed
``X-ZEvent-Signature: mac=<sha256(app_id + raw_body + timestamp + oa_secret_key)>`` (plain SHA-256) for ``follow``,
``unfollow``, ``user_send_text``, ``user_click_button``, ``user_received_message`` and (from ZNS)
``user_feedback``; fault injection.

Simplifications, on purpose: one OA; no proactive ("tin chủ động") or paid-consultation quota between 48 h and
7 days (those sends are refused with -213); the reply need not cite the user's message id; no authorization-code
grant; uploads, articles, tags and the transaction/promotion message APIs are not emulated; texts are counted in
code points (``len``); a non-NFC text from the product is accepted and counted in ``stats.non_nfc_texts``.

Behaviours worth knowing:
- A person is "interacted" once they follow (``follow_is_interaction``) or write or press a button; each of those
  restarts the reply window and the reply count. ``unfollow`` makes sends answer ``unfollowed`` until the person
  follows again or writes.
- Person actions push **inside** the action: ``await p.send_text(...)`` returns once our server answered (after
  ``push_retries`` retries). Pushes are serialized, so they arrive in order. With no ``webhook_url`` the event is
  recorded in ``emu.events`` and ``emu.undelivered`` and nothing is pushed (no error). Events carry the emulator
  clock's time: a product checking the events' age needs the emulator's clock (``clock=emu.now``) once a test has
  called ``advance``.
- A fault from ``fail_next`` comes before the token check; with ``applied=True`` the call takes effect first (after-
  effects such as a ZNS receipt or ``refresh_event`` included) and only the answer is replaced: a lost refresh
  answer or a duplicate send.
- Returned events are copies: changing them changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import inspect
import json
import re
import secrets
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from tests.emulators.loopback import LoopbackServer, Push, RequestHandler, Watched

if TYPE_CHECKING:
    from tests.emulators.zns import ZnsService

JSONDict = dict[str, Any]
SignatureMode = Literal["valid", "wrong", "missing", "bare"]
ButtonEvent = Literal["user_send_text", "user_click_button"]

#: The header that signs every push (docs/CHANNELS.md, Zalo OA).
SIGNATURE_HEADER = "X-ZEvent-Signature"
#: The header carrying the OA access token on every OA and ZNS call.
ACCESS_TOKEN_HEADER = "access_token"
#: The header carrying the App Secret on the OAuth token call.
SECRET_KEY_HEADER = "secret_key"

QUERY_BUTTONS: frozenset[str] = frozenset({"oa.query.show", "oa.query.hide"})
BUTTON_TYPES: frozenset[str] = QUERY_BUTTONS | {"oa.open.url", "oa.open.sms", "oa.open.phone"}

#: Error codes counted in ``stats.param_errors``: the request itself is wrong (OA -201; ZNS -108, -112, -122).
PARAM_ERROR_CODES: frozenset[int] = frozenset({-201, -108, -112, -122})

HOUR = 3600.0
DAY = 24 * HOUR
DEFAULT_ACCESS_TTL = 90000.0  # 25 h
DEFAULT_REFRESH_TTL = 90 * DAY  # "3 months"
MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 20

#: The OAuth answer to an unknown, spent or expired refresh token (HTTP 200).
INVALID_REFRESH_TOKEN: JSONDict = {
    "error": -14014,
    "error_name": "Invalid refresh token",
    "error_description": "Invalid refresh token",
}
#: The OAuth answer to a wrong ``secret_key`` header (code unverified).
INVALID_SECRET_KEY: JSONDict = {
    "error": -14003,
    "error_name": "Invalid secret key",
    "error_description": "Invalid secret key",
}
#: The OAuth answer to a wrong ``app_id`` (code unverified).
INVALID_APP_ID: JSONDict = {"error": -14002, "error_name": "Invalid app_id", "error_description": "Invalid app_id"}
#: The OAuth answer to a ``grant_type`` other than ``refresh_token`` (code unverified).
INVALID_GRANT_TYPE: JSONDict = {
    "error": -14001,
    "error_name": "Invalid parameter",
    "error_description": "grant_type must be refresh_token (the emulator has no authorization_code grant)",
}
DEFAULT_OAUTH_ERRORS: dict[str, JSONDict] = {
    "invalid_refresh_token": INVALID_REFRESH_TOKEN,
    "invalid_secret_key": INVALID_SECRET_KEY,
    "invalid_app_id": INVALID_APP_ID,
    "invalid_grant_type": INVALID_GRANT_TYPE,
}


@dataclass(frozen=True)
class ErrorSpec:
    """One Zalo error answer: ``{"error": error, "message": message}`` (``message`` may hold ``{placeholders}``)."""

    error: int
    message: str


#: The OA's error answers by case (module docstring); override any through ``errors=``.
DEFAULT_ERRORS: dict[str, ErrorSpec] = {
    "token_invalid": ErrorSpec(-216, "Access token is invalid"),
    "bad_request": ErrorSpec(-201, "Parameters are invalid: {detail}"),
    "bad_user_id": ErrorSpec(-201, "Parameters are invalid: user_id must be a string of digits"),
    "text_empty": ErrorSpec(-201, "Parameters are invalid: the message has no text"),
    "text_too_long": ErrorSpec(-201, "Parameters are invalid: text is longer than {limit} characters"),
    "too_many_buttons": ErrorSpec(-201, "Parameters are invalid: at most {limit} buttons"),
    "bad_button": ErrorSpec(-201, "Parameters are invalid: {detail}"),
    "button_title_long": ErrorSpec(-201, "Parameters are invalid: a button title is longer than {limit} characters"),
    "bad_attachment": ErrorSpec(-201, "Parameters are invalid: {detail}"),
    "unknown_user": ErrorSpec(-230, "User has not interacted with the OA in the past 7 days"),
    "unfollowed": ErrorSpec(-232, "User has unfollowed the OA"),
    "interaction_expired": ErrorSpec(-230, "User has not interacted with the OA in the past 7 days"),
    "window_closed": ErrorSpec(-213, "User has not interacted with the OA in the past 48 hours"),
    "reply_limit": ErrorSpec(-213, "The OA has used its {limit} replies since the user's last interaction"),
    "rate_limited": ErrorSpec(-32, "The OA exceeded its request rate limit"),
}


class ApiError(Exception):
    """A Zalo error answer to give (HTTP 200 unless ``http_status``)."""

    def __init__(self, error: int, message: str, http_status: int = 200) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message
        self.http_status = http_status

    @classmethod
    def of(cls, spec: ErrorSpec, **detail: Any) -> ApiError:
        """The answer ``spec`` stands for, its message's placeholders filled from ``detail``."""
        return cls(spec.error, spec.message.format(**detail) if detail else spec.message)

    def body(self) -> JSONDict:
        """The JSON answer."""
        return {"error": self.error, "message": self.message}


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The hex SHA-256 of ``app_id + raw_body + timestamp + oa_secret_key`` (docs/CHANNELS.md; plain, not HMAC)."""
    return hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


def new_hex(size: int = 20) -> str:
    """A fresh random id of ``size`` hex digits (message ids look like ``cb31dff1c39642cc1b83``)."""
    return secrets.token_hex((size + 1) // 2)[:size]


def new_digits(size: int = 19) -> str:
    """A fresh random id of ``size`` decimal digits, not starting with 0 (user ids)."""
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(size - 1))


# --------------------------------------------------------------------------------------------------------------------
# Records the tests read


@dataclass
class OAMessage:
    """A customer-service message the OA sent to a person."""

    message_id: str
    user_id: str
    text: str
    attachment: JSONDict | None
    sent_at: int  # epoch ms, emulator clock
    request: JSONDict  # the request body as received
    presses: list[str] = field(default_factory=list)  # payloads of the query buttons pressed on it, oldest first

    @property
    def buttons(self) -> list[tuple[str, str, Any]]:
        """The buttons as ``(title, type, payload)`` (payload a string for query buttons, else an object)."""
        if not self.attachment or self.attachment.get("type") != "template":
            return []
        payload = self.attachment.get("payload") or {}
        return [(str(b.get("title")), str(b.get("type")), b.get("payload")) for b in payload.get("buttons") or []]

    @property
    def button_titles(self) -> list[str]:
        """The buttons' titles, in order."""
        return [title for title, _, _ in self.buttons]


@dataclass
class WebhookDelivery(Push):
    """One attempt to push an event to ``webhook_url``."""

    event: JSONDict
    body: bytes  # the raw body, as signed
    url: str
    signature_header: str | None  # the X-ZEvent-Signature value sent (None: "missing")
    signature_mode: str  # "valid" | "wrong" | "missing" | "bare"
    attempt: int  # 1, 2, ...
    status: int | None  # the HTTP status our server answered; None on a connection error or timeout
    error: str | None
    at: float  # time.monotonic()

    @property
    def event_name(self) -> str:
        """The event's ``event_name``."""
        return str(self.event.get("event_name"))


@dataclass
class ApiCall:
    """One request the product made, as received, and the answer it got."""

    path: str  # e.g. "/openapi/v3.0/oa/message/cs"
    http_method: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any  # decoded JSON, a form as a dict, the raw text when neither decodes, or None
    at: float  # time.monotonic()
    http_status: int = 0
    error: int | None = None  # the answer's "error" when not 0
    answer: Any = None  # the decoded answer (None for a disconnect or a raw fault body)
    fault: bool = False  # answered by ``fail_next``


@dataclass(frozen=True)
class RefreshRecord:
    """One successful token refresh."""

    old_refresh_token: str
    access_token: str
    refresh_token: str
    at: float  # emulator clock, epoch seconds


@dataclass
class Stats:
    """Counters for assertions."""

    requests: Counter[str] = field(default_factory=Counter)  # by route, e.g. "/v3.0/oa/message/cs"
    errors: Counter[int] = field(default_factory=Counter)  # every non-zero "error" answered, by code
    messages_sent: int = 0  # OA customer-service messages that took effect
    refreshes: int = 0
    refresh_failures: int = 0  # OAuth calls answered with an error
    rejected_tokens: int = 0  # -216 / -124 answers
    window_errors: int = 0  # -213 / -230 / unfollowed / unknown user answers
    param_errors: int = 0  # -201 (OA) and template-data / phone / body errors (ZNS)
    rate_limited: int = 0
    quota_errors: int = 0  # ZNS -144 / -147
    zns_sent: int = 0  # ZNS messages that took effect
    ratings: int = 0  # user_feedback events created by recipients
    webhook_pushes: int = 0  # push attempts, retries included
    webhook_failures: int = 0  # push attempts not answered 2xx
    faults_injected: int = 0
    non_nfc_texts: int = 0  # product texts not in Unicode NFC


@dataclass
class _Fault:
    suffix: str
    remaining: int
    http_status: int | None
    error: int | None
    message: str | None
    applied: bool
    disconnect: bool
    delay: float
    raw_body: str | None


@dataclass
class _Context:
    """What a route handler gets: the request's parameters and a place for after-effects."""

    params: JSONDict  # query string values, then the body's fields when the body is an object
    body: Any
    headers: Mapping[str, str]
    http_method: str
    after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # run once the answer is written


Handler = Callable[[_Context], Awaitable[JSONDict]]


# --------------------------------------------------------------------------------------------------------------------
# People


class Person(Watched[OAMessage]):
    """A Zalo user facing the OA. Everything here is what the person sees or does; create with ``emu.person``."""

    def __init__(self, emulator: ZaloOAEmulator, user_id: str, display_name: str, user_id_by_app: str) -> None:
        super().__init__()
        self._emu = emulator
        self.user_id = user_id
        self.display_name = display_name
        self.user_id_by_app = user_id_by_app
        self.following = False
        self.unfollowed = False  # unfollowed, and has neither followed again nor written since
        self.last_interaction: float | None = None  # emulator clock, epoch seconds
        self.replies_since = 0  # OA messages sent since the last interaction
        self.events: list[JSONDict] = []  # the events this person caused, oldest first (copies)

    def _who(self) -> str:
        return f"{self.user_id} ({self.display_name})"

    def _line(self, message: OAMessage) -> str:
        return f"{message.message_id}: {message.text!r} buttons={message.button_titles}"

    # --- what the person sees

    @property
    def texts(self) -> list[str]:
        """The texts of the OA's messages, oldest first."""
        return [m.text for m in self._messages]

    def message(self, message_id: str) -> OAMessage:
        """One of the OA's messages by id (KeyError if unknown)."""
        for m in self._messages:
            if m.message_id == message_id:
                return m
        raise KeyError(f"no OA message {message_id} to {self.user_id}")

    # --- what the person does

    async def follow(self, source: str = "oa_profile") -> JSONDict:
        """Follow the OA (a ``follow`` push); returns the event."""
        self.following, self.unfollowed = True, False
        if self._emu.follow_is_interaction:
            self._interacted()
        return await self._emu._emit(self._follow_event("follow", source))

    async def unfollow(self, source: str = "oa_profile") -> JSONDict:
        """Unfollow the OA (an ``unfollow`` push); sends to this person answer ``unfollowed`` until they come back."""
        self.following, self.unfollowed = False, True
        return await self._emu._emit(self._follow_event("unfollow", source))

    async def send_text(self, text: str) -> JSONDict:
        """Write ``text`` to the OA (a ``user_send_text`` push); returns the event."""
        return await self._emu._emit(self._message_event("user_send_text", {"text": text}))

    async def press(self, title: str, *, message_id: str | None = None) -> JSONDict:
        """Press the query button titled ``title`` on the latest OA message showing it; returns the event.

        ``emu.button_event == "user_send_text"`` (default): the press arrives as the person's text, the button's
        payload. ``"user_click_button"``: as ``user_click_button`` with ``message.text`` and ``message.payload``
        both the payload (the event's shape is unverified) and ``message.quote_msg_id`` the OA message's id.
        """
        candidates = [self.message(message_id)] if message_id is not None else list(reversed(self._messages))
        for message in candidates:
            for button_title, kind, payload in message.buttons:
                if button_title == title and kind in QUERY_BUTTONS:
                    message.presses.append(str(payload))
                    if self._emu.button_event == "user_click_button":
                        content = {"text": str(payload), "payload": str(payload), "quote_msg_id": message.message_id}
                        return await self._emu._emit(self._message_event("user_click_button", content))
                    return await self.send_text(str(payload))
        shown = {m.message_id: m.button_titles for m in self._messages if m.buttons}
        raise LookupError(f"no query button {title!r} for {self.user_id}; buttons shown: {shown}")

    # --- internals

    def _interacted(self) -> None:
        self.last_interaction = self._emu.now()
        self.replies_since = 0

    def _follow_event(self, name: str, source: str) -> JSONDict:
        emu = self._emu
        return {
            "app_id": emu.app_id,
            "oa_id": emu.oa_id,
            "user_id_by_app": self.user_id_by_app,
            "event_name": name,
            "timestamp": str(emu.now_ms()),
            "source": source,
            "follower": {"id": self.user_id},
        }

    def _message_event(self, name: str, content: JSONDict) -> JSONDict:
        emu = self._emu
        self.unfollowed = False
        self._interacted()
        return {
            "app_id": emu.app_id,
            "user_id_by_app": self.user_id_by_app,
            "event_name": name,
            "timestamp": str(emu.now_ms()),
            "sender": {"id": self.user_id},
            "recipient": {"id": emu.oa_id},
            "message": {"msg_id": new_hex(), **content},
        }


# --------------------------------------------------------------------------------------------------------------------
# The emulator


class ZaloOAEmulator(LoopbackServer):
    """The Zalo OA Open API v3, its OAuth token endpoint and ZNS, for one OA, on ``127.0.0.1:<random port>``.

    Args:
        app_id, app_secret: the Zalo app (``app_id`` in pushes and refreshes; ``app_secret`` as ``secret_key``).
        oa_secret_key: the OA secret key that signs pushes.
        oa_id: the OA's id (``recipient.id`` of user events, ``oa_id`` of follow events).
        access_token, refresh_token: the first valid pair.
        access_ttl: seconds an access token lives (emulator clock); ``refresh_ttl`` likewise for refresh tokens.
        old_access_valid_after_refresh: False revokes the previous access token at each refresh.
        reply_window: seconds after the person's last interaction during which replies are allowed (None: no limit).
        replies_per_window: replies allowed since the last interaction (None: unlimited).
        interaction_window: beyond this many seconds, -230 instead of -213 (None: never).
        follow_is_interaction: a follow opens the reply window as a message does.
        max_text, max_buttons, max_button_title: message limits.
        rate_per_second: message/cs calls allowed in any sliding second, OA-wide (None: no limit).
        button_event: how a query-button press arrives, ``"user_send_text"`` or ``"user_click_button"``.
        oa_received_events: push ``user_received_message`` (``message.msg_ids``) after each OA message.
        webhook_url: where events go (settable later, as in Zalo's console).
        push_retries: extra attempts per event after a non-2xx answer or a connection error (0: one attempt).
        push_retry_delay: seconds between attempts; ``webhook_timeout``: seconds our server has per push.
        push_concurrency: pushes in flight at once (default 1: serialized, in order; a person's own events stay in
            order either way, since a person's action returns only once its push was answered).
        errors: overrides of ``DEFAULT_ERRORS``; ``oauth_errors``: overrides of ``DEFAULT_OAUTH_ERRORS``.
        clock: the wall clock the emulator's clock starts from (``advance`` adds to it).
    """

    def __init__(
        self,
        app_id: str = "1234567890",
        app_secret: str = "app-secret",
        oa_secret_key: str = "oa-secret-key",
        oa_id: str = "579745863508352884",
        access_token: str = "AT-1",
        refresh_token: str = "RT-1",
        *,
        access_ttl: float = DEFAULT_ACCESS_TTL,
        refresh_ttl: float = DEFAULT_REFRESH_TTL,
        old_access_valid_after_refresh: bool = True,
        reply_window: float | None = 48 * HOUR,
        replies_per_window: int | None = 8,
        interaction_window: float | None = 7 * DAY,
        follow_is_interaction: bool = True,
        max_text: int = MAX_TEXT,
        max_buttons: int = MAX_BUTTONS,
        max_button_title: int = MAX_BUTTON_TITLE,
        rate_per_second: float | None = None,
        button_event: ButtonEvent = "user_send_text",
        oa_received_events: bool = False,
        webhook_url: str | None = None,
        push_retries: int = 0,
        push_retry_delay: float = 0.05,
        webhook_timeout: float = 5.0,
        push_concurrency: int = 1,
        errors: Mapping[str, ErrorSpec] | None = None,
        oauth_errors: Mapping[str, JSONDict] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from tests.emulators.zns import ZnsService  # here: zns.py imports this module's shared pieces

        super().__init__()
        self.app_id = app_id
        self.app_secret = app_secret
        self.oa_secret_key = oa_secret_key
        self.oa_id = oa_id
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.old_access_valid_after_refresh = old_access_valid_after_refresh
        self.reply_window = reply_window
        self.replies_per_window = replies_per_window
        self.interaction_window = interaction_window
        self.follow_is_interaction = follow_is_interaction
        self.max_text = max_text
        self.max_buttons = max_buttons
        self.max_button_title = max_button_title
        self.rate_per_second = rate_per_second
        self.button_event: ButtonEvent = button_event
        self.oa_received_events = oa_received_events
        self.webhook_url = webhook_url
        self.push_retries = max(0, push_retries)
        self.push_retry_delay = push_retry_delay
        self.webhook_timeout = webhook_timeout
        self.errors: dict[str, ErrorSpec] = {**DEFAULT_ERRORS, **(errors or {})}
        self.oauth_errors: dict[str, JSONDict] = {**DEFAULT_OAUTH_ERRORS, **(oauth_errors or {})}
        self.clock = clock
        self._offset = 0.0

        self.stats = Stats()
        self.calls: list[ApiCall] = []
        self.people: dict[str, Person] = {}
        self.events: list[JSONDict] = []  # every event created or pushed, in order (copies)
        self.deliveries: list[WebhookDelivery] = []
        self.undelivered: list[JSONDict] = []  # events never answered 2xx (or created with no webhook_url)
        self.refresh_log: list[RefreshRecord] = []
        self.refresh_event = asyncio.Event()
        self.on_refresh: Callable[[RefreshRecord], Awaitable[None] | None] | None = None

        now = self.now()
        self._access_tokens: dict[str, float] = {access_token: now + access_ttl}  # valid ones → expiry
        self._refresh_tokens: dict[str, float] = {refresh_token: now + refresh_ttl}
        self.spent_refresh_tokens: list[str] = []
        self._access_token, self._refresh_token = access_token, refresh_token
        self._issued: set[str] = {access_token, refresh_token}
        self._token_counter = 1
        self._faults: list[_Fault] = []
        self._rate_window: deque[float] = deque()
        self._push_lock = asyncio.Semaphore(max(1, push_concurrency))  # 1: pushes arrive one at a time, in order
        self._tasks: set[asyncio.Task[None]] = set()

        self.zns: ZnsService = ZnsService(self)
        self._routes: dict[tuple[str, str], tuple[frozenset[str], Handler]] = {
            ("oauth", "/v4/oa/access_token"): (frozenset({"POST"}), self._oauth_access_token),
            ("openapi", "/v3.0/oa/message/cs"): (frozenset({"POST"}), self._message_cs),
            ("openapi", "/v3.0/oa/user/detail"): (frozenset({"GET"}), self._user_detail),
            **{("business", path): route for path, route in self.zns.routes().items()},
        }

    # --- lifecycle

    def _served(self) -> list[tuple[str, RequestHandler]]:
        return [("/{tail:.*}", self._handle)]

    async def _stopping(self) -> None:
        """Background pushes are cancelled."""
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def api_url(self) -> str:
        """The Open API base (``https://openapi.zalo.me``'s stand-in): ``{api_url}/v3.0/oa/message/cs``."""
        return f"{self.base_url}/openapi"

    @property
    def oauth_url(self) -> str:
        """The OAuth base (``https://oauth.zaloapp.com``'s stand-in): ``{oauth_url}/v4/oa/access_token``."""
        return f"{self.base_url}/oauth"

    @property
    def zns_url(self) -> str:
        """The business API base (``https://business.openapi.zalo.me``'s stand-in): ``{zns_url}/message/template``."""
        return f"{self.base_url}/business"

    # --- clock and tokens

    def now(self) -> float:
        """The emulator's clock, epoch seconds (the wall clock plus every ``advance``)."""
        return self.clock() + self._offset

    def now_ms(self) -> int:
        """The emulator's clock, epoch milliseconds."""
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward: windows close, tokens expire, the ZNS day may turn."""
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        self._offset += seconds

    @property
    def access_token(self) -> str:
        """The access token issued last (it may have expired: see ``access_token_valid``)."""
        return self._access_token

    @property
    def refresh_token(self) -> str:
        """The refresh token issued last (the only one a refresh accepts)."""
        return self._refresh_token

    @property
    def refreshes(self) -> int:
        """How many refreshes succeeded."""
        return self.stats.refreshes

    def access_token_valid(self, token: str | None = None) -> bool:
        """Whether ``token`` (default: the latest) is accepted now."""
        expiry = self._access_tokens.get(self._access_token if token is None else token)
        return expiry is not None and self.now() < expiry

    def expire_access_token(self, token: str | None = None) -> None:
        """The access token (default: the latest) answers -216 (openapi) / -124 (business) from now on."""
        self._access_tokens.pop(self._access_token if token is None else token, None)

    def grant(self) -> tuple[str, str]:
        """The OA's administrator authorised the app again: a new (access, refresh) pair; the old ones unchanged."""
        now = self.now()
        access, refresh = self._new_token("AT"), self._new_token("RT")
        self._access_tokens[access] = now + self.access_ttl
        self._refresh_tokens[refresh] = now + self.refresh_ttl
        self._access_token, self._refresh_token = access, refresh
        return access, refresh

    def expire_refresh_token(self) -> None:
        """The latest refresh token is refused from now on (the OA admin must grant access again)."""
        self._refresh_tokens.pop(self._refresh_token, None)

    # --- the test side

    def person(
        self,
        user_id: str | None = None,
        display_name: str = "Người dùng Zalo",
        *,
        user_id_by_app: str | None = None,
        following: bool = False,
        interacted: bool = False,
    ) -> Person:
        """A Zalo user (the same object again for a known id; ``None``: a new random id of 19 digits).

        ``following=True`` / ``interacted=True`` pretend they already followed / wrote just now (no push).
        """
        if user_id is None:
            user_id = new_digits()
        if user_id in self.people:
            return self.people[user_id]
        if user_id_by_app is None:
            user_id_by_app = str(int(hashlib.sha256(f"{self.app_id}:{user_id}".encode()).hexdigest()[:15], 16))
        person = Person(self, user_id, unicodedata.normalize("NFC", display_name), user_id_by_app)
        person.following = following
        if interacted or (following and self.follow_is_interaction):
            person._interacted()
        self.people[user_id] = person
        return person

    def fail_next(
        self,
        path_suffix: str = "*",
        *,
        http_status: int | None = None,
        error: int | None = None,
        message: str | None = None,
        count: int = 1,
        applied: bool = False,
        disconnect: bool = False,
        delay: float = 0.0,
        raw_body: str | None = None,
    ) -> None:
        """The next ``count`` calls whose path ends with ``path_suffix`` (``"*"``: any) get a fault.

        - ``error=-216`` (any code): HTTP ``http_status`` (default 200) ``{"error": error, "message": message}``.
        - ``http_status=502`` alone: that status with an HTML body (``raw_body`` to choose the text).
        - ``disconnect=True``: the connection is dropped without an answer (the client sees a disconnect).
        - nothing: HTTP 500.
        ``delay`` waits that many seconds first (a timeout test); ``applied=True`` lets the call take effect first.
        """
        self._faults.append(
            _Fault(path_suffix, count, http_status, error, message, applied, disconnect, delay, raw_body)
        )

    def calls_to(self, path_suffix: str) -> list[ApiCall]:
        """The logged calls whose path ends with ``path_suffix``, in order."""
        return [c for c in self.calls if c.path.endswith(path_suffix)]

    async def push(
        self,
        event: JSONDict,
        *,
        signature: SignatureMode = "valid",
        timestamp_ms: int | None = None,
    ) -> int | None:
        """Push ``event`` as is (forged, replayed, duplicated, out of order...); returns our server's HTTP status.

        ``app_id`` and ``timestamp`` (``timestamp_ms``, else now) are filled in when missing. ``signature``:
        ``"valid"`` (``mac=<hex>``), ``"bare"`` (``<hex>`` without ``mac=``), ``"wrong"`` (a wrong key),
        ``"missing"`` (no header). None when our server could not be reached.
        """
        if not self.webhook_url:
            raise RuntimeError("set emu.webhook_url before pushing")
        event = copy.deepcopy(event)
        if timestamp_ms is not None:
            event["timestamp"] = str(timestamp_ms)
        event.setdefault("timestamp", str(self.now_ms()))
        event.setdefault("app_id", self.app_id)
        await self._emit(event, signature=signature)
        return self.deliveries[-1].status

    async def settle(self) -> None:
        """Wait until the background pushes scheduled so far (ZNS receipts) are done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _summary(self) -> str:
        return f"requests={dict(self.stats.requests)} pushes={self.stats.webhook_pushes}"

    def reset_limits(self) -> None:
        """Forget the rate-limit history."""
        self._rate_window.clear()

    # --- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body: Any
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            body = {k: v if isinstance(v, str) else getattr(v, "filename", str(v)) for k, v in form.items()}
        else:
            body = _decode_body(await request.read())
        call = ApiCall(request.path, request.method, dict(request.headers), dict(request.query), body, time.monotonic())
        self.calls.append(call)
        try:
            return await self._answer(request, call)
        finally:
            await self._notify_state()

    async def _answer(self, request: web.Request, call: ApiCall) -> web.StreamResponse:
        area, _, rest = request.path.lstrip("/").partition("/")
        route = self._routes.get((area, "/" + rest))
        if route is None or request.method not in route[0]:
            return await self._write(request, call, 404, {"error": 404, "message": "Not Found"})
        handler = route[1]
        self.stats.requests["/" + rest] += 1
        params: JSONDict = dict(request.query)
        if isinstance(call.body, dict):
            params.update(call.body)
        context = _Context(params, call.body, request.headers, request.method)

        fault = next((f for f in self._faults if f.suffix == "*" or request.path.endswith(f.suffix)), None)
        if fault is not None:
            return await self._fault(request, call, fault, handler, context)
        given = request.headers.get(ACCESS_TOKEN_HEADER)
        if area in ("openapi", "business") and not (given and self.access_token_valid(given)):
            self.stats.rejected_tokens += 1
            spec = self.errors["token_invalid"] if area == "openapi" else self.zns.errors["token_invalid"]
            return await self._write(request, call, 200, ApiError.of(spec).body())
        answer = await self._run(handler, context)
        response = await self._write(request, call, 200, answer)
        await self._after(context)
        return response

    async def _run(self, handler: Handler, context: _Context) -> JSONDict:
        try:
            return await handler(context)
        except ApiError as error:
            if error.error in PARAM_ERROR_CODES:
                self.stats.param_errors += 1
            return error.body()

    async def _fault(
        self, request: web.Request, call: ApiCall, fault: _Fault, handler: Handler, context: _Context
    ) -> web.StreamResponse:
        fault.remaining -= 1
        self._faults = [f for f in self._faults if f.remaining > 0]
        self.stats.faults_injected += 1
        call.fault = True
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.applied:
            await self._run(handler, context)
        if fault.disconnect:
            call.http_status = 0
            if request.transport is not None:
                request.transport.abort()
            await self._after(context)
            return web.Response()
        if fault.error is not None:
            answer: JSONDict = {"error": fault.error, "message": fault.message or "Injected error"}
            response = await self._write(request, call, fault.http_status or 200, answer)
        else:
            status = fault.http_status or 500
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            text = fault.raw_body if fault.raw_body is not None else f"<html><h1>{status} {phrase}</h1></html>"
            call.http_status = status
            response = await _send_now(request, web.Response(text=text, status=status, content_type="text/html"))
        await self._after(context)
        return response

    async def _write(self, request: web.Request, call: ApiCall, status: int, answer: JSONDict) -> web.StreamResponse:
        """Write the answer out now (so that after-effects follow it), and log it."""
        call.http_status, call.answer = status, answer
        code = answer.get("error")
        if isinstance(code, int) and code != 0:
            call.error = code
            self.stats.errors[code] += 1
        response = web.Response(
            body=json.dumps(answer, ensure_ascii=False).encode(), status=status, content_type="application/json"
        )
        return await _send_now(request, response)

    async def _after(self, context: _Context) -> None:
        for effect in context.after:
            await effect()

    # --- routes: OAuth

    async def _oauth_access_token(self, context: _Context) -> JSONDict:
        params = context.params
        if context.headers.get(SECRET_KEY_HEADER) != self.app_secret:
            return self._oauth_refused("invalid_secret_key")
        if str(params.get("app_id", "")) != self.app_id:
            return self._oauth_refused("invalid_app_id")
        if params.get("grant_type") != "refresh_token":
            return self._oauth_refused("invalid_grant_type")
        old = str(params.get("refresh_token") or "")
        expiry = self._refresh_tokens.pop(old, None)
        if expiry is None or self.now() >= expiry:
            return self._oauth_refused("invalid_refresh_token")
        self.spent_refresh_tokens.append(old)
        now = self.now()
        if not self.old_access_valid_after_refresh:
            self._access_tokens.pop(self._access_token, None)
        access, refresh = self._new_token("AT"), self._new_token("RT")
        self._access_tokens[access] = now + self.access_ttl
        self._refresh_tokens[refresh] = now + self.refresh_ttl
        self._access_token, self._refresh_token = access, refresh
        self.stats.refreshes += 1
        record = RefreshRecord(old, access, refresh, now)
        self.refresh_log.append(record)

        async def refreshed() -> None:
            self.refresh_event.set()
            if self.on_refresh is not None:
                result = self.on_refresh(record)
                if inspect.isawaitable(result):
                    await result

        context.after.append(refreshed)
        return {"access_token": access, "refresh_token": refresh, "expires_in": str(int(self.access_ttl))}

    def _oauth_refused(self, case: str) -> JSONDict:
        self.stats.refresh_failures += 1
        return dict(self.oauth_errors[case])

    def _new_token(self, prefix: str) -> str:
        while True:
            self._token_counter += 1
            token = f"{prefix}-{self._token_counter}"
            if token not in self._issued:
                self._issued.add(token)
                return token

    # --- routes: Open API

    async def _message_cs(self, context: _Context) -> JSONDict:
        body = context.body
        if not isinstance(body, dict):
            raise ApiError.of(self.errors["bad_request"], detail="the body must be a JSON object")
        recipient, message = body.get("recipient"), body.get("message")
        if not isinstance(recipient, dict) or not recipient.get("user_id"):
            raise ApiError.of(self.errors["bad_request"], detail="recipient.user_id is required")
        if not isinstance(message, dict):
            raise ApiError.of(self.errors["bad_request"], detail="message is required")
        user_id = recipient["user_id"]
        if not isinstance(user_id, str | int) or not re.fullmatch(r"\d{1,25}", str(user_id)):
            raise ApiError.of(self.errors["bad_user_id"])
        text = message.get("text")
        attachment = message.get("attachment")
        if text is not None and not isinstance(text, str):
            raise ApiError.of(self.errors["bad_request"], detail="text must be a string")
        if attachment is None and not (text or "").strip():
            raise ApiError.of(self.errors["text_empty"])
        if text is not None and len(text) > self.max_text:
            raise ApiError.of(self.errors["text_too_long"], limit=self.max_text)
        if attachment is not None:
            self._check_attachment(attachment)
        person = self._reachable(str(user_id))
        self._take_rate()
        if text and not unicodedata.is_normalized("NFC", text):
            self.stats.non_nfc_texts += 1
        sent = OAMessage(new_hex(), person.user_id, text or "", attachment, self.now_ms(), copy.deepcopy(body))
        person._messages.append(sent)
        person.replies_since += 1
        self.stats.messages_sent += 1
        await person._notify()
        if self.oa_received_events:
            context.after.append(lambda: self._later(0.0, lambda: self._oa_receipt(person, sent)))
        return {
            "error": 0,
            "message": "Success",
            "data": {
                "message_id": sent.message_id,
                "user_id": person.user_id,
                "quota": {"quota_type": "reply", "owner_type": "OA", "owner_id": self.oa_id},
            },
        }

    def _check_attachment(self, attachment: Any) -> None:
        bad = self.errors["bad_attachment"]
        if not isinstance(attachment, dict):
            raise ApiError.of(bad, detail="attachment must be an object")
        kind, payload = attachment.get("type"), attachment.get("payload")
        if not isinstance(payload, dict):
            raise ApiError.of(bad, detail="attachment.payload must be an object")
        if kind == "file":
            if not payload.get("token"):
                raise ApiError.of(bad, detail="a file attachment needs payload.token")
            return
        if kind != "template":
            raise ApiError.of(bad, detail=f"unsupported attachment type {kind!r}")
        if payload.get("template_type") == "media":
            elements = payload.get("elements")
            if not isinstance(elements, list) or not elements:
                raise ApiError.of(bad, detail="a media template needs elements")
            for element in elements:
                if not isinstance(element, dict) or not (element.get("url") or element.get("attachment_id")):
                    raise ApiError.of(bad, detail="a media element needs url or attachment_id")
        buttons = payload.get("buttons")
        if buttons is None:
            if payload.get("template_type") != "media":
                raise ApiError.of(bad, detail="a template attachment needs buttons or template_type media")
            return
        if not isinstance(buttons, list):
            raise ApiError.of(bad, detail="payload.buttons must be a list")
        if len(buttons) > self.max_buttons:
            raise ApiError.of(self.errors["too_many_buttons"], limit=self.max_buttons)
        for button in buttons:
            self._check_button(button)

    def _check_button(self, button: Any) -> None:
        bad = self.errors["bad_button"]
        if not isinstance(button, dict):
            raise ApiError.of(bad, detail="a button must be an object")
        kind, title, payload = button.get("type"), button.get("title"), button.get("payload")
        if kind not in BUTTON_TYPES:
            raise ApiError.of(bad, detail=f"unknown button type {kind!r}")
        if not isinstance(title, str) or not title.strip():
            raise ApiError.of(bad, detail="a button needs a title")
        if len(title) > self.max_button_title:
            raise ApiError.of(self.errors["button_title_long"], limit=self.max_button_title)
        if kind in QUERY_BUTTONS:
            if not isinstance(payload, str) or not payload.strip():
                raise ApiError.of(bad, detail=f"{kind} needs a text payload")
        elif kind == "oa.open.url":
            if not isinstance(payload, dict) or not payload.get("url"):
                raise ApiError.of(bad, detail="oa.open.url needs payload.url")
        elif not isinstance(payload, dict) or not payload.get("phone_code"):
            raise ApiError.of(bad, detail=f"{kind} needs payload.phone_code")

    def _reachable(self, user_id: str) -> Person:
        """The person, when a reply may go to them now; else the window error."""
        person = self.people.get(user_id)
        try:
            if person is None or person.last_interaction is None:
                raise ApiError.of(self.errors["unknown_user"])
            if person.unfollowed:
                raise ApiError.of(self.errors["unfollowed"])
            age = self.now() - person.last_interaction
            if self.interaction_window is not None and age > self.interaction_window:
                raise ApiError.of(self.errors["interaction_expired"])
            if self.reply_window is not None and age > self.reply_window:
                raise ApiError.of(self.errors["window_closed"])
            if self.replies_per_window is not None and person.replies_since >= self.replies_per_window:
                raise ApiError.of(self.errors["reply_limit"], limit=self.replies_per_window)
        except ApiError:
            self.stats.window_errors += 1
            raise
        return person

    def _take_rate(self) -> None:
        if not self.rate_per_second:
            return
        now = time.monotonic()
        while self._rate_window and self._rate_window[0] <= now - 1.0:
            self._rate_window.popleft()
        if len(self._rate_window) >= max(1, int(self.rate_per_second)):
            self.stats.rate_limited += 1
            raise ApiError.of(self.errors["rate_limited"])
        self._rate_window.append(now)

    async def _user_detail(self, context: _Context) -> JSONDict:
        raw = context.params.get("data")
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data.get("user_id"):
            raise ApiError.of(self.errors["bad_request"], detail='data must be {"user_id": "..."}')
        person = self.people.get(str(data["user_id"]))
        if person is None or (person.last_interaction is None and not person.following):
            raise ApiError.of(self.errors["unknown_user"])
        avatar = f"https://s120-ava-talk.zadn.vn/emu/{person.user_id}.jpg"
        return {
            "error": 0,
            "message": "Success",
            "data": {
                "user_id": person.user_id,
                "user_id_by_app": person.user_id_by_app,
                "display_name": person.display_name,
                "user_alias": "",
                "is_sensitive": False,
                "user_is_follower": person.following,
                "avatar": avatar,
                "avatars": {"120": avatar, "240": avatar.replace("s120", "s240")},
            },
        }

    # --- pushes

    async def _emit(self, event: JSONDict, *, signature: SignatureMode = "valid") -> JSONDict:
        """Record ``event`` and push it (serialized, with retries) when a webhook is set; returns a copy."""
        self.events.append(copy.deepcopy(event))
        url = self.webhook_url
        if not url:
            self.undelivered.append(copy.deepcopy(event))
            await self._notify_state()
            return copy.deepcopy(event)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        header = self._signature_header(event, body, signature)
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers[SIGNATURE_HEADER] = header
        async with self._push_lock:
            for attempt in range(1, self.push_retries + 2):
                status, error = await self._post(url, body, headers)
                delivery = WebhookDelivery(
                    copy.deepcopy(event), body, url, header, signature, attempt, status, error, time.monotonic()
                )
                self.deliveries.append(delivery)
                self.stats.webhook_pushes += 1
                if delivery.ok:
                    break
                self.stats.webhook_failures += 1
                if attempt <= self.push_retries:
                    await asyncio.sleep(self.push_retry_delay)
            else:
                self.undelivered.append(copy.deepcopy(event))
        await self._notify_state()
        return copy.deepcopy(event)

    def _signature_header(self, event: JSONDict, body: bytes, mode: SignatureMode) -> str | None:
        if mode == "missing":
            return None
        key = self.oa_secret_key if mode != "wrong" else self.oa_secret_key + "-wrong"
        mac = signature(str(event.get("app_id", "")), body, str(event.get("timestamp", "")), key)
        return mac if mode == "bare" else f"mac={mac}"

    async def _later(self, delay: float, push: Callable[[], Awaitable[Any]]) -> None:
        """Run ``push()`` in the background after ``delay`` seconds (``settle`` waits for it)."""

        async def run() -> None:
            await asyncio.sleep(delay)
            await push()

        task = asyncio.create_task(run(), name="zalo-oa-emulator-push")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _oa_receipt(self, person: Person, sent: OAMessage) -> None:
        await self._emit(
            {
                "app_id": self.app_id,
                "event_name": "user_received_message",
                "timestamp": str(self.now_ms()),
                "sender": {"id": self.oa_id},
                "recipient": {"id": person.user_id},
                "message": {"msg_ids": [sent.message_id]},
            }
        )


async def _send_now(request: web.Request, response: web.Response) -> web.Response:
    """Write ``response`` out at once; a client that is gone already (it timed out) is not an error here."""
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        await response.write_eof()
    return response


def _decode_body(raw: bytes) -> Any:
    """A body that is not a form: JSON when it decodes (whatever the content type), None when empty, else the text."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
