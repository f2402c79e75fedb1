"""The Zalo OA's API as our app calls it: its settings, its token pair, and calls made with the access token.

The OA access token lives 25 hours; the refresh token is single-use and rotates. ``ZaloTokens`` keeps
the pair in the database and exchanges it inside the transaction that locks the stored pair, so two
instances never spend one refresh token and the new pair is stored with the spending of the old one. An
expired-token answer triggers one refresh and one retry (``ZaloApi``). When the chain is broken (a refresh
token refused) the channel says so loudly — log, ``/healthz`` — and keeps what it must send pending. The
Zalo OA channel and ZNS share one ``ZaloApi``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from bot.channels.json_client import JsonClient
from bot.logs import remember_secrets
from handlers.context import Services
from storage.values import PlatformToken

log = logging.getLogger(__name__)

NAME = "zalo_oa"  # the token pair is stored under the OA channel's name
EXPIRED_TOKEN = (-216, -124)  # openapi.zalo.me, business.openapi.zalo.me


class TokenRefused(Exception):
    """The OAuth server refused the refresh token: the OA's administrator must grant access again."""


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


class ZaloTokens:
    """The OA token pair: loaded from the database, refreshed before expiry, rotated in one transaction."""

    def __init__(
        self,
        config: ZaloOAConfig,
        services: Services,
        client: JsonClient,
    ) -> None:
        self.config = config
        self.services = services
        self.client = client
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

    def health(self) -> str:
        """What ``/healthz`` shows of the pair: ``ok``, ``reauthorise`` (refresh token refused) or ``no_tokens``."""
        return "reauthorise" if self.broken else "no_tokens" if self.current is None else "ok"

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
        answer = await self.client.post(
            url,
            form={"refresh_token": refresh_token, "app_id": config.app_id, "grant_type": "refresh_token"},
            headers={"secret_key": config.app_secret},
            raise_for=lambda status: status >= 500,
        )
        if not answer.readable:
            raise ValueError("the OAuth answer is not JSON")
        body = answer.body
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
            await self.services.clock.wait(stop, every)


def busy(status: int) -> bool:
    """A status that is the server's trouble, not an answer: 429 and 5xx (tried again later)."""
    return status >= 500 or status == 429


class ZaloApi:
    """Calls to Zalo's APIs with the OA's access token: one refresh and one retry on an expired token."""

    def __init__(self, config: ZaloOAConfig, services: Services, client: JsonClient | None = None) -> None:
        self.config = config
        self.services = services
        self.client = client or JsonClient(config.timeout_seconds)
        self.tokens = ZaloTokens(config, services, self.client)

    async def close(self) -> None:
        """Release the HTTP client."""
        await self.client.close()

    async def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body``; Zalo's answer (``error`` 0 on success). Network errors, 429 and 5xx raise."""
        token = self.tokens.access_token
        answer = await self._post(url, body, token)
        if answer.get("error") in EXPIRED_TOKEN and await self.tokens.refresh(stale=token):
            answer = await self._post(url, body, self.tokens.access_token)
        return answer

    async def _post(self, url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        answer = await self.client.post(url, json_body=body, headers={"access_token": token}, raise_for=busy)
        if not isinstance(answer.body, dict) or "error" not in answer.body:
            return {"error": -1, "message": f"unreadable answer (HTTP {answer.status})"}
        return answer.body
