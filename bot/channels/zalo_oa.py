"""The Zalo Official Account channel (docs/CHANNELS.md, Zalo OA): Open API v3 over aiohttp, and the app's webhook.

Outbound: customer-service messages; a question's answers become up to five query buttons (a press
comes back as the button's payload, as text), more than that becomes numbered text. Inbound: the
webhook at ``/webhooks/zalo-oa`` accepts only events signed with ``X-ZEvent-Signature`` (SHA-256 of
app id + raw body + timestamp + OA secret key) and not older than ``webhook_max_age``; it carries the
OA's chat events and ZNS's delivery and rating events (handled by ``bot.channels.zns``).

The OA access token lives 25 hours; the refresh token is single-use and rotates. ``ZaloTokens`` keeps
the pair in the database and exchanges it inside the transaction that locks the stored pair, so two
instances never spend one refresh token and the new pair is stored with the spending of the old one. An
expired-token answer triggers one refresh and one retry. When the chain is broken (a refresh token
refused) the channel says so loudly — log, ``/healthz`` — and keeps what it must send pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import Delivery, json_object, json_text, platform_id
from bot.channels.plain import render_plain, split_text, with_links
from bot.channels.proxies import EnvProxies
from bot.logs import remember_secrets
from bot.web.server import error_response
from handlers.context import Services
from handlers.messages import Identity, Inbound, Option, Outcome, Reply
from storage.values import PlatformToken

log = logging.getLogger(__name__)

NAME = "zalo_oa"
WEBHOOK_PATH = "/webhooks/zalo-oa"
SIGNATURE_HEADER = "X-ZEvent-Signature"
BUTTON_PREFIX = "#sipas "  # a query button's payload comes back as text starting with this
EXPIRED_TOKEN = (-216, -124)  # openapi.zalo.me, business.openapi.zalo.me

InboundHandler = Callable[[Inbound], Awaitable[Outcome]]
EventHandler = Callable[[dict[str, Any]], Awaitable[None]]


class TokenRefused(Exception):
    """The OAuth server refused the refresh token: the OA's administrator must grant access again."""


class OAuthUnreachable(Exception):
    """A due refresh of the token pair failed for want of the OAuth server (network, timeout, 5xx)."""


@dataclass(frozen=True)
class ZaloOAConfig:
    """What the Zalo OA channel (and ZNS, which uses the same tokens) needs from the settings."""

    app_id: str
    app_secret: str
    secret_key: str
    access_token: str | None = None  # the first pair, stored on first start; rotated pairs live in the database
    refresh_token: str | None = None
    api_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"
    webhook_max_age: float = 300.0  # seconds: an older (or replayed) event is refused
    refresh_margin: timedelta = timedelta(hours=1)  # refresh this long before the access token expires
    timeout_seconds: float = 10.0
    max_buttons: int = 5
    button_title_limit: int = 20
    text_limit: int = 2000
    # error codes (docs/CHANNELS.md; Zalo's tables change: kept here, in one place)
    window_codes: tuple[int, ...] = (-213, -230)
    unreachable_codes: tuple[int, ...] = (-201_01, -232)
    rate_codes: tuple[int, ...] = (-32,)


def signature(app_id: str, raw_body: bytes, timestamp: str, secret_key: str) -> str:
    """The hex SHA-256 that signs a webhook event (docs/CHANNELS.md, Zalo OA: plain SHA-256, not HMAC)."""
    return hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + secret_key.encode()).hexdigest()


class ZaloTokens:
    """The OA token pair: loaded from the database, refreshed before expiry, rotated in one transaction."""

    def __init__(
        self,
        config: ZaloOAConfig,
        services: Services,
        session: Callable[[], aiohttp.ClientSession],
        proxies: EnvProxies | None = None,
    ) -> None:
        self.config = config
        self.services = services
        self._session = session
        self._proxies = proxies or EnvProxies()
        self._lock = asyncio.Lock()
        self._current: PlatformToken | None = None

    @property
    def current(self) -> PlatformToken | None:
        """The pair held now (as last read from the database)."""
        return self._current

    @current.setter
    def current(self, pair: PlatformToken | None) -> None:
        if pair is not None:  # each pair as it rotates: never in a log line or an error message
            remember_secrets(pair.access_token, pair.refresh_token)
        self._current = pair

    @property
    def access_token(self) -> str:
        """The access token to use now ("" when there is none)."""
        return self.current.access_token if self.current else ""

    @property
    def broken(self) -> bool:
        """The refresh token was refused: only a new grant by the OA's administrator helps."""
        return self.current is not None and self.current.status != "active"

    async def load(self) -> None:
        """Read the stored pair; on the very first start, store the pair from the settings."""
        services, config = self.services, self.config
        now = services.clock()
        async with services.uow() as uow:
            if config.access_token and config.refresh_token:
                # its expiry is unknown: treat it as due, so the first refresh learns the real one
                await uow.tokens.seed(NAME, config.access_token, config.refresh_token, now, now)
            self.current = await uow.tokens.get(NAME)
            await uow.commit()
        if self.current is None:
            log.error("Zalo OA: no token pair; set SIPAS_ZALO_OA_ACCESS_TOKEN and SIPAS_ZALO_OA_REFRESH_TOKEN")
        elif self.broken:
            self._alert(self.current.last_error)

    def _alert(self, error: str | None) -> None:
        log.error(
            "Zalo OA must be re-authorised by its administrator (the refresh token was refused: %s); "
            "then store the new pair with `sipasbot zalo-oa tokens`",
            error,
        )

    def due(self) -> bool:
        """The access token expires within the margin (and a refresh could still help)."""
        current = self.current
        if current is None or self.broken:
            return False
        return current.expires_at - self.services.clock() <= self.config.refresh_margin

    async def refresh(self, stale: str | None = None) -> bool:
        """Exchange the refresh token for a new pair; True when a usable access token is now held.

        ``stale``: the access token a call was refused with; when the pair has moved on since (in this
        process or another instance), the newer pair is taken and nothing is spent.
        """
        async with self._lock:
            if stale is not None and self.current is not None and self.current.access_token != stale:
                return True
            services = self.services
            now = services.clock()
            async with services.uow() as uow:
                stored = await uow.tokens.get(NAME, for_update=True)
                if stored is None:
                    return False
                moved_on = stale is not None and stored.access_token != stale
                if moved_on or (stale is None and stored.expires_at - now > self.config.refresh_margin):
                    self.current = stored  # another instance refreshed it
                    return True
                if stored.status != "active":
                    self.current = stored
                    return False
                try:
                    access, refresh, lifetime = await self._exchange(stored.refresh_token)
                except TokenRefused as refused:
                    await uow.tokens.mark(NAME, "reauthorise", str(refused), now)
                    await uow.commit()
                    self.current = await self._reload()
                    self._alert(str(refused))
                    return False
                except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                    log.warning("Zalo OA token refresh failed, will try again: %s", error or type(error).__name__)
                    return False
                await uow.tokens.replace(NAME, access, refresh, now + timedelta(seconds=lifetime), now)
                await uow.commit()
            self.current = await self._reload()
            log.info("Zalo OA tokens refreshed; the access token is valid for %d s", lifetime)
            return True

    async def _reload(self) -> PlatformToken | None:
        async with self.services.uow(read_only=True) as uow:
            return await uow.tokens.get(NAME)

    async def _exchange(self, refresh_token: str) -> tuple[str, str, int]:
        config = self.config
        url = config.oauth_url.rstrip("/") + "/v4/oa/access_token"
        async with self._session().post(
            url,
            headers={"secret_key": config.app_secret},
            data={"refresh_token": refresh_token, "app_id": config.app_id, "grant_type": "refresh_token"},
            timeout=aiohttp.ClientTimeout(total=config.timeout_seconds),
            **self._proxies.options(url),
        ) as response:
            if response.status >= 500:
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message="OAuth server error"
                )
            body = json.loads(await response.read() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the OAuth answer is not an object")
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not access or not refresh:
            reason = body.get("error_description") or body.get("error_name") or body.get("message") or body
            raise TokenRefused(f"{body.get('error')}: {reason}")
        return str(access), str(refresh), int(body.get("expires_in") or 90000)

    async def keep_fresh(
        self, stop: asyncio.Event, every: float = 60.0, on_restored: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Refresh the pair before it expires, until ``stop``; ``on_restored`` once a broken chain works again."""
        while not stop.is_set():
            if self.broken:  # waiting for `sipasbot zalo-oa tokens` after the administrator's new grant
                stored = self.current = await self._reload()
                if stored is not None and stored.status == "active":
                    log.warning("Zalo OA: a new token pair was stored; sending again")
                    if on_restored is not None:
                        await on_restored()
            if self.due():
                await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


@dataclass
class ZaloApi:
    """Calls to Zalo's APIs with the OA's access token: one refresh and one retry on an expired token."""

    config: ZaloOAConfig
    services: Services
    _session: aiohttp.ClientSession | None = None
    tokens: ZaloTokens = field(init=False)
    proxies: EnvProxies = field(default_factory=EnvProxies)  # the environment's proxy, looked up once per host

    def __post_init__(self) -> None:
        self.tokens = ZaloTokens(self.config, self.services, self.session, self.proxies)

    def session(self) -> aiohttp.ClientSession:
        """The HTTP client, opened on first use."""
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        return self._session

    async def close(self) -> None:
        """Release the HTTP client."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body``; Zalo's answer (``error`` 0 on success). Network errors and 5xx raise."""
        token = self.tokens.access_token
        answer = await self._post(url, body, token)
        if answer.get("error") in EXPIRED_TOKEN and await self.tokens.refresh(stale=token):
            answer = await self._post(url, body, self.tokens.access_token)
        return answer

    async def _post(self, url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        async with self.session().post(
            url,
            json=body,
            headers={"access_token": token},
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
            **self.proxies.options(url),
        ) as response:
            if response.status >= 500 or response.status == 429:
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message=response.reason or ""
                )
            raw = await response.read()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict) or "error" not in answer:
            return {"error": -1, "message": f"unreadable answer (HTTP {response.status})"}
        return answer


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
