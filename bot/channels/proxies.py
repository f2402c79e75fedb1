"""The outbound proxy the environment names (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``), looked up once per host.

aiohttp's ``trust_env`` reads the proxy variables and ``~/.netrc`` again for every request, in two trips to a
worker thread: about 0.7 ms of CPU per message sent, more than the webhook's signature check. The environment
does not change while the process runs, so the same rule (aiohttp's own lookup) is applied once per scheme and
host and kept. README.md, "Outbound HTTP", says which variables count.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BasicAuth
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL


class EnvProxies:
    """Per scheme and host: the proxy to go through (and its credentials), or none."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str | None], tuple[URL | None, BasicAuth | None]] = {}

    def options(self, url: str) -> dict[str, Any]:
        """The ``proxy`` and ``proxy_auth`` arguments of an aiohttp request to ``url`` (empty: go direct)."""
        target = URL(url)
        key = (target.scheme, target.host)
        found = self._known.get(key)
        if found is None:
            try:
                found = get_env_proxy_for_url(target)
            except LookupError:  # no proxy for this scheme, or the host is in NO_PROXY
                found = (None, None)
            self._known[key] = found
        proxy, auth = found
        return {} if proxy is None else {"proxy": proxy, "proxy_auth": auth}
