"""Rate limits of the web server: per API key, and per source address for everything without a valid key.

A request to /api/v1 with a live key counts against that key (``SIPAS_RATE_KEY_*``); any other request — no key, a
wrong or revoked key, the public pages, the QR codes, the slips — counts against its source address
(``SIPAS_RATE_ADDRESS_*``). Behind a reverse proxy the address is read from X-Forwarded-For, but only when the
peer is one of ``SIPAS_TRUSTED_PROXIES``; the header of anyone else is ignored (it would let a caller pick a new
address for every request). Not limited: the platforms' webhooks (each is authenticated by its own secret, and
refusing them would lose citizens' messages), /healthz and /metrics.

Over the limit: 429 in the error shape with Retry-After (whole seconds), and one log line when a caller starts
being refused (naming the key by its name and public prefix, never its text). The buckets are in-process
(``handlers.limits.Buckets``), a small token bucket rather than a library: the limits need a burst plus a
sustained rate, the service's own clock (tests move it instead of sleeping), and the trusted-proxy rule.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable

from aiohttp import web

from bot.config import Settings
from bot.web.server import APP, Handler, error_response
from handlers.limits import Buckets, retry_after
from storage.values import ApiKey

log = logging.getLogger(__name__)

BEARER_RE = re.compile(r"bearer +([A-Za-z0-9._~+/-]{1,200}=*) *", re.IGNORECASE)
API_PREFIX = "/api/"
NOT_LIMITED = ("/webhooks/", "/healthz", "/metrics")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_KEY_SEEN: web.RequestKey[tuple[str, ApiKey | None]] = web.RequestKey("sipas_key_seen")


def networks(text: str) -> tuple[Network, ...]:
    """The comma-separated addresses and CIDR blocks of ``SIPAS_TRUSTED_PROXIES`` (checked by the settings)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a peer or a proxy writes it: ``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` or ``[::1]:5678``."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The caller's address: the peer's, or the nearest untrusted address of X-Forwarded-For behind trusted proxies.

    The header is read from the right (the end a client cannot write): what a client prepends is never used.
    """
    current = _address(peer or "")
    if current is None:
        return peer or "unknown"
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    while any(current in network for network in trusted) and hops:
        previous = _address(hops.pop())
        if previous is None:
            break  # a malformed hop: the last proxy we trust is the caller we know
        current = previous
    return str(current)


async def api_key_of(request: web.Request, text: str) -> ApiKey | None:
    """The live key ``text`` is (looked up once per request: the limiter and the route share the answer)."""
    seen: tuple[str, ApiKey | None] | None = request.get(_KEY_SEEN)
    if seen is not None and seen[0] == text:
        return seen[1]
    key = await request.app[APP].api_keys.check(text)
    request[_KEY_SEEN] = (text, key)
    return key


class Limits:
    """The buckets of one web server."""

    def __init__(self, settings: Settings) -> None:
        self.keys = Buckets(settings.rate_key_burst, settings.rate_key_per_second)
        self.addresses = Buckets(settings.rate_address_burst, settings.rate_address_per_second)
        self.trusted = networks(settings.trusted_proxies)

    async def caller(self, request: web.Request) -> tuple[Buckets, object, str]:
        """The bucket this request counts against, the caller's identity in it, and how to name it in a log."""
        header = request.headers.get("Authorization")
        if request.path.startswith(API_PREFIX) and header is not None:
            match = BEARER_RE.fullmatch(header)
            key = await api_key_of(request, match.group(1)) if match else None
            if key is not None:
                return self.keys, key.id, f"API key {key.name!r} ({key.prefix}…)"
        address = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), self.trusted)
        return self.addresses, address, f"address {address}"

    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse a caller over its limit (429) before the route runs."""
        if request.path.startswith(NOT_LIMITED):
            return await handler(request)
        buckets, caller, name = await self.caller(request)
        wait, log_it = buckets.take(caller, request.app[APP].services.clock().timestamp())
        if wait <= 0:
            return await handler(request)
        seconds = retry_after(wait)
        if log_it:
            log.warning(
                "rate limit: %s is over %d requests at once or %g a second; refused (429), logged once a minute",
                name,
                buckets.burst,
                buckets.rate,
            )
        return error_response(
            429,
            "too_many_requests",
            f"too many requests; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


def setup_limits(web_app: web.Application) -> None:
    """Put the rate limits in front of every route of ``web_app`` (a part of ``build_web_app``)."""
    limits = Limits(web_app[APP].settings)

    @web.middleware
    async def rate_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await limits.middleware(request, handler)

    web_app.middlewares.append(rate_limits)
