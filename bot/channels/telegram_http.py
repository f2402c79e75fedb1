"""python-telegram-bot's HTTP transport on aiohttp (the client library the rest of the bot already uses).

PTB's default transport, httpx, spends several times the CPU of aiohttp per Bot API call: its
connection pool scans every pooled connection (a readability check with a system call each) before each
request. A web instance makes one call per button press (the callback's answer) and the deliverer one per
message, so that CPU is in every answer's path (docs/perf/scale.md). The Bot API semantics stay PTB's:
it builds the request, parses the answer and raises its own errors; this only moves the bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.channels.proxies import EnvProxies

MEDIA_WRITE_TIMEOUT = 20.0  # uploading a file (a slip, a chart) may take longer than a call


class AiohttpRequest(BaseRequest):
    """Bot API requests through one ``aiohttp.ClientSession`` with at most ``connections`` connections."""

    def __init__(self, connections: int, timeout: float) -> None:
        self._connections = connections
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies = EnvProxies()  # HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as every other channel (README)

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long poll's own to it for ``getUpdates``)."""
        return self._timeout

    async def initialize(self) -> None:
        """Open the session (again, after a ``shutdown``)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._connections))

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _seconds(self, value: Any, default: float | None = None) -> float | None:
        if isinstance(value, (int, float)) or value is None:
            return value
        return self._timeout if default is None else default  # PTB's DEFAULT_NONE: ours

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; PTB turns the status and body into a result or one of its errors."""
        if self._session is None or self._session.closed:
            raise RuntimeError("this AiohttpRequest is not initialized")
        files = request_data is not None and request_data.contains_files
        read = self._seconds(read_timeout)
        write = self._seconds(write_timeout, MEDIA_WRITE_TIMEOUT if files else None)
        connect = self._seconds(connect_timeout)
        pool = self._seconds(pool_timeout)
        parts = (read, write, connect, pool)
        total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if pool is None or connect is None else pool + connect,  # a free connection, then TCP
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            data = request_data.json_parameters
            if files:
                form = aiohttp.FormData()
                for name, value in data.items():
                    form.add_field(name, value)
                for name, (filename, content, media_type) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=media_type)
                data = form
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
                **self._proxies.options(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut from error
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
