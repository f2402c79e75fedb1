"""The Zalo Bot platform channel (docs/CHANNELS.md): our own small aiohttp client, no buttons, no edits.

Updates become neutral ``Inbound`` events; replies are sent as plain text with numbered options, cut
into parts of at most 2000 characters. ``getUpdates`` hands out one update per call and forgets it
(at-most-once), so each update is committed to the inbox (handlers/chat/inbox.py) as it is read, then
handled, before the next call; a restart handles what the inbox still holds first. An empty poll is an
HTTP 200 with ``error_code`` 408 and means nothing new. Webhook deliveries carry
``X-Bot-Api-Secret-Token`` and come flat or wrapped in ``{"ok": true, "result": …}``; both are read,
and a re-delivery (same ``message_id``) changes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.channels.base import Delivery, json_object, json_text, platform_id, secret_matches
from bot.channels.json_client import JsonClient
from bot.channels.plain import render_plain, split_text
from bot.channels.runtime import OK, Retry
from bot.channels.starting import CredentialsRefused
from bot.texts import say
from bot.web.server import error_response
from handlers.chat.inbox import Inbox
from handlers.clock import Clock, SystemClock
from handlers.messages import Identity, Inbound, Outcome, Reply
from storage.values import KeptUpdate

log = logging.getLogger(__name__)

NAME = "zalo_bot"
WEBHOOK_PATH = "/webhooks/zalo-bot"
SECRET_HEADER = "X-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
TEXT_LIMIT = 2000
POLL_TIMEOUT_SECONDS = 25
NOTHING_NEW = 408
UNAUTHORIZED = 401
REFUSED_TOKEN = {401, 404}  # getMe's answers to a wrong token (HTTP status or error_code)
TOO_MANY = 429
#: Test only: an update whose text is exactly this value is read and then held, never handled by this process
#: (a kill test's deterministic point between the read and the handling).
HOLD_ENV = "SIPAS_TEST_ZALO_BOT_HOLD"

InboundHandler = Callable[[Inbound], Awaitable[Outcome]]
#: What a database outage raises: the update stays kept and is handled when the database is back.
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, OSError, TimeoutError)


class ZaloBotError(Exception):
    """An answer that was not ``ok``: the HTTP status, Zalo's ``error_code`` and ``description``."""

    def __init__(self, status: int, code: int | None, description: str) -> None:
        super().__init__(f"HTTP {status}, error {code}: {description}")
        self.status = status
        self.code = code
        self.description = description


@dataclass(frozen=True)
class ZaloBotConfig:
    """What the channel needs from the settings."""

    token: str
    api_url: str = "https://bot-api.zaloplatforms.com/bot"
    mode: str = "polling"
    webhook_secret: str | None = None
    public_url: str = "http://127.0.0.1:8080"
    timeout_seconds: float = 10.0
    poll_timeout_seconds: float = POLL_TIMEOUT_SECONDS
    # ``ok: false`` codes meaning the chat cannot be reached (undocumented: configurable, docs/CHANNELS.md)
    unreachable_codes: tuple[int, ...] = (403, 404)
    hold_text: str | None = None  # test only (HOLD_ENV)

    def url(self, method: str) -> str:
        """The address of ``method``: the base (ending in ``/bot``), the token, the method."""
        return f"{self.api_url}{self.token}/{method}"


def to_inbound(update: dict[str, Any]) -> Inbound | None:
    """The neutral event a Zalo Bot update stands for (flat or wrapped); None when it is not one."""
    if "event_name" not in update and isinstance(update.get("result"), dict):
        update = update["result"]
    event = update.get("event_name")
    message = update.get("message")
    if not isinstance(event, str) or not isinstance(message, dict):
        return None
    chat, sender = json_object(message.get("chat")), json_object(message.get("from"))
    chat_id = platform_id(chat.get("id") or sender.get("id"))
    message_id = platform_id(message.get("message_id"))
    if chat_id is None or message_id is None or sender.get("is_bot"):
        return None
    if json_text(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return None
    identity = Identity(NAME, chat_id)
    if event == "message.text.received":
        return Inbound(identity, message_id, "text", text=json_text(message.get("text")))
    return Inbound(identity, message_id, "unsupported")


def read_update(raw: bytes) -> dict[str, Any] | None:
    """A webhook body as an update object; None when it is not JSON (or not UTF-8, or nested too deeply)."""
    try:
        update = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return update if isinstance(update, dict) else None


def outcome_of(error: ZaloBotError | aiohttp.ClientError | TimeoutError, unreachable: tuple[int, ...]) -> Delivery:
    """The shared delivery outcome of a failed call (docs/CHANNELS.md, five outcomes)."""
    if not isinstance(error, ZaloBotError):
        return Delivery("retry_later", error=str(error) or type(error).__name__)
    text = str(error)
    if error.status == TOO_MANY or error.code == TOO_MANY:
        return Delivery("retry_later", retry_after=1.0, error=text)
    if error.status >= 500:
        return Delivery("retry_later", error=text)
    if error.code == UNAUTHORIZED or error.status == UNAUTHORIZED:
        return Delivery("reauth", error=text)
    if error.code in unreachable:
        return Delivery("unreachable", error=text)
    return Delivery("failed", error=text)  # our defect (too long, empty): parked, never retried


async def hold(config: ZaloBotConfig, inbound: Inbound) -> None:
    """Test only: never go past an update whose text is ``hold_text`` (the process is killed meanwhile)."""
    if config.hold_text is None or inbound.text != config.hold_text:
        return
    log.warning("test hook: a Zalo Bot update held before handling")
    await asyncio.Event().wait()


class ZaloBotApi:
    """The platform's methods, called with the bot's token over the shared JSON client."""

    def __init__(self, config: ZaloBotConfig) -> None:
        self.config = config
        self.client = JsonClient(config.timeout_seconds)

    async def call(self, method: str, params: dict[str, Any] | None = None, *, wait: float | None = None) -> Any:
        """Call ``method``; its ``result`` (or True), else ZaloBotError. Every answer's ``ok`` is checked."""
        answer = await self.client.post(self.config.url(method), json_body=params or {}, wait=wait)
        body = answer.object()
        if answer.status >= 300 or body.get("ok") is not True:
            code = body.get("error_code")
            description = str(body.get("description") or answer.reason or "no description")
            raise ZaloBotError(answer.status, code if isinstance(code, int) else None, description)
        return body.get("result", True)


class ZaloBotChannel:
    """The Zalo Bot platform over aiohttp."""

    name = NAME

    def __init__(
        self,
        config: ZaloBotConfig,
        on_inbound: InboundHandler,
        inbox: Inbox | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.on_inbound = on_inbound
        self.inbox = inbox  # polled updates are kept here before handling (None: handled as read)
        self.refused: Callable[[], None] = lambda: None  # a refused webhook delivery (metrics)
        self.api = ZaloBotApi(config)
        self.clock = clock or SystemClock()  # the pollers' pauses
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self.account: dict[str, Any] = {}

    async def start(self) -> None:
        """Check the token (getMe); register our webhook, or make sure none is set for polling.

        Tried again (``bot.channels.starting``) while the platform cannot be reached. A refused token (401, or
        404 for a token the platform does not know) raises ``CredentialsRefused``, which never quotes it.
        """
        try:
            self.account = await self.api.call("getMe")
        except ZaloBotError as error:
            if {error.code, error.status} & REFUSED_TOKEN:
                raise CredentialsRefused(say("cli.run.zalo_bot_token_refused")) from None
            raise
        if self.config.mode == "webhook":
            assert self.config.webhook_secret, "webhook mode needs a secret"
            await self.api.call(
                "setWebhook",
                {"url": self.config.public_url.rstrip("/") + WEBHOOK_PATH, "secret_token": self.config.webhook_secret},
            )
        else:
            await self.api.call("deleteWebhook")

    async def stop(self) -> None:
        """Release the HTTP client."""
        await self.api.client.close()

    def health(self) -> str:
        """Nothing to report once started: ``ok``."""
        return OK

    # --- inbound

    async def process(self, update: dict[str, Any], kept_id: int | None = None) -> bool:
        """Handle one update fully (committed; its inbox row ``kept_id`` forgotten); False when not acted on."""
        inbound = to_inbound(update)
        if inbound is None:
            return False
        if kept_id is not None:
            inbound = dataclasses.replace(inbound, kept_id=kept_id)
        lock = self._chat_locks.setdefault(inbound.identity.external_id, asyncio.Lock())
        async with lock:
            await self.on_inbound(inbound)
        return True

    async def poll(self, stop: asyncio.Event) -> None:
        """Poll getUpdates until ``stop``: one update per call, kept, then handled before the next call.

        The platform forgets an update once it has handed it out, so each is committed to the inbox before
        it is handled; what the inbox holds unhandled (a restart, a database outage) is handled first, and
        nothing new is read while it cannot be.
        """
        retry = Retry(self.clock)
        poll = self.config.poll_timeout_seconds
        unsettled = True  # the inbox may hold updates not handled (at start, after a failure)
        while not stop.is_set():
            if self.inbox is not None and unsettled:
                if not await self.drain(stop):
                    await retry.after_failure(stop)
                    continue
                unsettled = False
            try:
                update = await self.api.call("getUpdates", {"timeout": poll}, wait=poll + self.config.timeout_seconds)
            except (ZaloBotError, aiohttp.ClientError, TimeoutError) as error:
                if isinstance(error, ZaloBotError) and error.code == NOTHING_NEW:
                    retry.succeeded()
                    continue
                wait = retry.failed()
                if isinstance(error, ZaloBotError) and error.code == UNAUTHORIZED:
                    wait = 60.0
                log.warning("polling the Zalo Bot platform failed (%s); again in %.1f s", error, wait)
                await retry.pause(stop, wait)
                continue
            retry.succeeded()
            inbound = to_inbound(update) if isinstance(update, dict) else None
            if inbound is None or not isinstance(update, dict):
                continue
            if self.inbox is None:
                await hold(self.config, inbound)
                try:
                    await self.process(update)
                except Exception:  # at-most-once: the platform will not give it again; say so loudly
                    log.exception("handling a Zalo Bot update failed; the platform does not redeliver it")
                continue
            # a step-down cancels this task: the update read must still reach the inbox
            kept = await asyncio.shield(self._keep(update, inbound, stop))
            await hold(self.config, inbound)
            if kept is None or not await self._handle_kept(kept):
                unsettled = True

    async def settle(self, stop: asyncio.Event) -> None:
        """Handle what a polling run left in the inbox (in webhook mode, where nothing polls), until done."""
        retry = Retry(self.clock)
        while self.inbox is not None and not stop.is_set() and not await self.drain(stop):
            await retry.after_failure(stop)

    async def _keep(self, update: dict[str, Any], inbound: Inbound, stop: asyncio.Event) -> KeptUpdate | None:
        """Commit the update read to the inbox, trying again while the database is unavailable."""
        assert self.inbox is not None
        retry = Retry(self.clock)
        while True:
            try:
                return await self.inbox.keep(inbound.event_id, inbound.identity.external_id, update)
            except TRANSIENT as error:
                if stop.is_set():
                    log.error("a Zalo Bot update read could not be kept (%s): it is lost", type(error).__name__)
                    return None
                wait = retry.failed()
                log.warning("keeping a Zalo Bot update failed (%s); again in %.1f s", type(error).__name__, wait)
                await retry.pause(stop, wait)

    async def drain(self, stop: asyncio.Event) -> bool:
        """Handle what the inbox holds, oldest first; False when the database stopped it (try again later)."""
        assert self.inbox is not None
        while not stop.is_set():
            try:
                kept = await self.inbox.pending()
            except TRANSIENT as error:
                log.warning("reading the Zalo Bot inbox failed (%s)", type(error).__name__)
                return False
            if not kept:
                return True
            for item in kept:
                if stop.is_set():
                    return True
                if not await self._handle_kept(item):
                    return False
        return True

    async def _handle_kept(self, item: KeptUpdate) -> bool:
        """Handle one kept update, forgotten in the same transaction; False when the database failed (it stays)."""
        assert self.inbox is not None
        try:
            try:
                acted = await self.process(item.payload, item.id)
            except TRANSIENT:
                raise
            except Exception as error:  # a defect: set aside (not tried again at every start), said loudly
                log.exception("handling a Zalo Bot update failed; it is set aside in the inbox")
                await self.inbox.failed(item, f"{type(error).__name__}: {error}")
                return True
            if not acted:
                await self.inbox.done(item)
        except TRANSIENT as error:
            log.warning("handling a kept Zalo Bot update failed (%s); it stays kept", type(error).__name__)
            return False
        return True

    def setup_webhook(self, web_app: web.Application) -> None:
        """Register ``POST /webhooks/zalo-bot`` on our aiohttp server."""
        web_app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(SECRET_HEADER, ""), self.config.webhook_secret):
            self.refused()  # counted: forged or misdirected deliveries
            return error_response(403, "forbidden", "wrong or missing secret token")
        update = read_update(await request.read())  # a body over the size limit is a 413, said by the middleware
        if update is None:
            return error_response(400, "bad_request", "not a Zalo Bot update")
        await self.process(update)
        return web.json_response({"ok": True})

    # --- outbound

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Send the reply as text in parts of at most 2000 characters (this platform cannot edit)."""
        last: str | None = None
        for part in split_text(render_plain(reply), TEXT_LIMIT):
            try:
                result = await self.api.call("sendMessage", {"chat_id": recipient, "text": part})
            except (ZaloBotError, aiohttp.ClientError, TimeoutError) as error:
                # a reply cut in parts is sent again whole: a repeated part is better than a lost one
                return outcome_of(error, self.config.unreachable_codes)
            last = str(result.get("message_id")) if isinstance(result, dict) else None
        return Delivery("delivered", platform_message_id=last)
