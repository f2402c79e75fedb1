"""The Zalo Official Account channel (docs/CHANNELS.md, Zalo OA): Open API v3 over aiohttp, and the app's webhook.

Outbound: customer-service messages; a question's answers become up to five query buttons (a press
comes back as the button's payload, as text), more than that becomes numbered text. Inbound: the
webhook at ``/webhooks/zalo-oa`` accepts only events signed with ``X-ZEvent-Signature`` (SHA-256 of
app id + raw body + timestamp + OA secret key) and not older than ``webhook_max_age``; it carries the
OA's chat events and ZNS's delivery and rating events (handled by ``bot.channels.zns``).

The OA's token pair and the calls made with it are ``bot.channels.zalo_api``'s (ZNS shares them).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import Delivery, json_object, json_text, platform_id
from bot.channels.plain import render_plain, split_text, with_links
from bot.channels.zalo_api import EXPIRED_TOKEN, ZaloApi, ZaloOAConfig
from bot.web.server import error_response
from handlers.messages import Identity, Inbound, Option, Outcome, Reply

log = logging.getLogger(__name__)

NAME = "zalo_oa"
WEBHOOK_PATH = "/webhooks/zalo-oa"
SIGNATURE_HEADER = "X-ZEvent-Signature"
BUTTON_PREFIX = "#sipas "  # a query button's payload comes back as text starting with this

InboundHandler = Callable[[Inbound], Awaitable[Outcome]]
EventHandler = Callable[[dict[str, Any]], Awaitable[None]]


class OAuthUnreachable(Exception):
    """A due refresh of the token pair failed for want of the OAuth server (network, timeout, 5xx)."""


def signature(app_id: str, raw_body: bytes, timestamp: str, secret_key: str) -> str:
    """The hex SHA-256 that signs a webhook event (docs/CHANNELS.md, Zalo OA: plain SHA-256, not HMAC)."""
    return hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + secret_key.encode()).hexdigest()


def _fits(options: list[Option], config: ZaloOAConfig) -> bool:
    return 0 < len(options) <= config.max_buttons and all(len(o.label) <= config.button_title_limit for o in options)


def render_message(reply: Reply, config: ZaloOAConfig) -> tuple[list[str], list[dict[str, Any]]]:
    """The texts (parts) of a reply and the query buttons of its last part.

    Every option a button, when they all fit; else a question's answers as buttons and the controls
    (skip, back) explained in ``tap_hint``; else numbered text, as on channels without buttons.
    """
    reply = with_links(reply)  # files travel as links: the emulated and the real OA need an upload first
    options = list(reply.options)
    answers = [o for o in options if o.number not in (None, 0)]
    if _fits(options, config):
        shown, text = options, reply.text
    elif reply.tap_hint and _fits(answers, config):
        shown, text = answers, f"{reply.text}\n\n{reply.tap_hint}"
    else:
        shown, text = [], render_plain(reply)
    buttons = [{"type": "oa.query.hide", "title": o.label, "payload": BUTTON_PREFIX + o.value} for o in shown]
    return split_text(text, config.text_limit), buttons


def to_inbound(event: dict[str, Any]) -> Inbound | None:
    """The neutral event an OA webhook event stands for (None: not one a citizen's chat acts on)."""
    name = event.get("event_name")
    if name in ("follow", "unfollow"):
        follower = platform_id(json_object(event.get("follower")).get("id"))
        if follower is None:
            return None
        key = f"{name}:{follower}:{platform_id(event.get('timestamp'))}"
        return Inbound(Identity(NAME, follower), key, "unblocked" if name == "follow" else "blocked")
    sender = platform_id(json_object(event.get("sender")).get("id"))
    message = json_object(event.get("message"))
    message_id = platform_id(message.get("msg_id"))
    if name not in ("user_send_text", "user_click_button"):
        if isinstance(name, str) and name.startswith("user_send_") and sender and message_id:
            return Inbound(Identity(NAME, sender), message_id, "unsupported")
        return None
    if sender is None or message_id is None:
        return None
    identity = Identity(NAME, sender)
    text = json_text(message.get("text")) or json_text(message.get("payload"))
    if text.startswith(BUTTON_PREFIX):
        return Inbound(identity, message_id, "choice", value=text[len(BUTTON_PREFIX) :].strip())
    return Inbound(identity, message_id, "text", text=text)


class ZaloOAChannel:
    """Customer-service messages to the OA's followers, and the app's signed webhook."""

    name = NAME

    def __init__(
        self,
        api: ZaloApi,
        on_inbound: InboundHandler,
        on_other: EventHandler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.config = api.config
        self.on_inbound = on_inbound
        self.refused: Callable[[], None] = lambda: None  # a refused webhook delivery (metrics)
        self.on_other = on_other  # events that are not a chat's (ZNS delivery and ratings)
        self.clock = clock
        self._chat_locks: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        """Load the token pair (refreshing it when it is due).

        ``OAuthUnreachable`` when a due refresh could not reach the OAuth server: the start is tried again
        (``bot.channels.starting``). A refused refresh token is no failure here: the pair is marked, and
        ``/healthz`` says ``reauthorise``.
        """
        tokens = self.api.tokens
        await tokens.load()
        if tokens.due() and not await tokens.refresh() and not tokens.broken:
            raise OAuthUnreachable("the token pair is due and the OAuth server could not be reached")

    async def stop(self) -> None:
        """Release the HTTP client."""
        await self.api.close()

    def health(self) -> str:
        """The token pair's state: ``ok``, ``reauthorise`` (the refresh token was refused) or ``no_tokens``."""
        return self.api.tokens.health()

    # --- inbound

    def setup_webhook(self, web_app: web.Application) -> None:
        """Register ``POST /webhooks/zalo-oa`` on our aiohttp server."""
        web_app.router.add_post(WEBHOOK_PATH, self._webhook)

    def verify(self, raw: bytes, header: str | None) -> dict[str, Any]:
        """The event, when it is signed by our app with our OA's key and is recent; ``PermissionError`` else."""
        if not header:
            raise PermissionError("unsigned event")
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deeply to read
            raise PermissionError("not a JSON event") from None
        if not isinstance(event, dict):
            raise PermissionError("not a JSON event")
        app_id, timestamp = json_text(event.get("app_id")), json_text(event.get("timestamp"))
        # text that is not UTF-8 (lone surrogates from the body, or a header's undecodable bytes) never matches
        if not hmac.compare_digest(app_id.encode("utf-8", "surrogatepass"), self.config.app_id.encode()):
            raise PermissionError("event of another app")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20):
            raise PermissionError("no timestamp")
        expected = signature(app_id, raw, timestamp, self.config.secret_key)
        given = header.strip().removeprefix("mac=")
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode()):
            raise PermissionError("wrong signature")
        age = self.clock() - int(timestamp) / 1000
        if abs(age) > self.config.webhook_max_age:
            raise PermissionError("event too old (or from the future): refused as a replay")
        return event

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            event = self.verify(raw, request.headers.get(SIGNATURE_HEADER))
        except PermissionError as refused:
            self.refused()  # counted: forged or misdirected deliveries
            log.warning("Zalo OA webhook refused: %s", refused)
            return error_response(403, "forbidden", str(refused))
        await self.process(event)
        return web.json_response({"error": 0, "message": "Success"})

    async def process(self, event: dict[str, Any]) -> None:
        """Handle one verified event fully (committed)."""
        inbound = to_inbound(event)
        if inbound is None:
            if self.on_other is not None:
                await self.on_other(event)
            return
        lock = self._chat_locks.setdefault(inbound.identity.external_id, asyncio.Lock())
        async with lock:
            await self.on_inbound(inbound)

    # --- outbound

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        """Send a customer-service message (the OA cannot edit: always a new message)."""
        # with a broken chain the access token in hand may still be good for hours: Zalo says when it is not
        parts, buttons = render_message(reply, self.config)
        url = self.config.api_url.rstrip("/") + "/v3.0/oa/message/cs"
        last: str | None = None
        for index, part in enumerate(parts):
            message: dict[str, Any] = {"text": part}
            if buttons and index == len(parts) - 1:
                message["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
            try:
                answer = await self.api.post(url, {"recipient": {"user_id": recipient}, "message": message})
            except (aiohttp.ClientError, TimeoutError) as error:
                return Delivery("retry_later", error=str(error) or type(error).__name__)
            outcome = self.outcome(answer)
            if outcome.status != "delivered":
                return outcome
            last = outcome.platform_message_id
        return Delivery("delivered", platform_message_id=last)

    def outcome(self, answer: dict[str, Any]) -> Delivery:
        """The shared delivery outcome of an Open API answer (docs/CHANNELS.md, five outcomes)."""
        code = answer.get("error")
        text = f"{code}: {answer.get('message')}"
        if code == 0:
            data = answer.get("data") or {}
            return Delivery("delivered", platform_message_id=str(data.get("message_id") or data.get("msg_id") or ""))
        config = self.config
        if code in EXPIRED_TOKEN:
            return Delivery("reauth", error=text)
        if code in config.window_codes:
            return Delivery("window_closed", error=text)
        if code in config.unreachable_codes:
            return Delivery("unreachable", error=text)
        if code in config.rate_codes:
            return Delivery("retry_later", retry_after=1.0, error=text)
        return Delivery("failed", error=text)
