"""The one JSON-over-HTTP client of the channels that speak JSON over aiohttp (Zalo OA, ZNS, the Zalo Bot platform).

One connection pool per channel, opened on first use; the environment's proxy looked up once per host
(``bot.channels.proxies``); a timeout on every call. What an answer means (an error code, a retry) is each
channel's own mapping: this client only says what came back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.channels.proxies import EnvProxies

UNREADABLE = object()  # the body of an answer that is not JSON


@dataclass(frozen=True)
class JsonAnswer:
    """What came back: the HTTP status and reason, and the body read as JSON (``{}`` when empty)."""

    status: int
    reason: str
    body: Any

    @property
    def readable(self) -> bool:
        """Whether the body was JSON (or empty)."""
        return self.body is not UNREADABLE

    def object(self) -> dict[str, Any]:
        """The body when it is a JSON object, else an empty one."""
        return self.body if isinstance(self.body, dict) else {}


def never(_status: int) -> bool:
    """No status is an error before the body is read."""
    return False


class JsonClient:
    """POSTs to a JSON API with a pooled aiohttp session."""

    def __init__(self, timeout_seconds: float, connections: int = 32, proxies: EnvProxies | None = None) -> None:
        self.timeout_seconds = timeout_seconds
        self.connections = connections
        self.proxies = proxies or EnvProxies()
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The HTTP client, opened on first use."""
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.connections))
        return self._session

    async def close(self) -> None:
        """Release the HTTP client."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        url: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        wait: float | None = None,
        raise_for: Callable[[int], bool] = never,
    ) -> JsonAnswer:
        """POST a JSON body (or a form); the answer. A status ``raise_for`` accepts raises ``ClientResponseError``.

        Network errors and timeouts raise as aiohttp raises them.
        """
        async with self.session().post(
            url,
            json=json_body,
            data=form,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=wait if wait is not None else self.timeout_seconds),
            **self.proxies.options(url),
        ) as response:
            if raise_for(response.status):
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message=response.reason or ""
                )
            raw = await response.read()
        try:
            body = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deeply to read
            body = UNREADABLE
        return JsonAnswer(response.status, response.reason or "", body)
