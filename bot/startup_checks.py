"""Checks made once when `sipasbot run` starts: settings that are probably mistakes, each one log line.

Nothing here stops the service: a warning names the variable and what to do. Two checks:

- ``SIPAS_PUBLIC_URL`` names this machine (localhost, a loopback address or ``SIPAS_HTTP_HOST``) on another port
  than ``SIPAS_HTTP_PORT``: the QR codes, slip links and webhook addresses would point where nobody listens;
- a ``SIPAS_…`` variable of the environment or of the ``.env`` file that is no setting (a typo), with the
  nearest setting's name ("did you mean …").
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from bot.config import Settings
from bot.texts import say

log = logging.getLogger("sipasbot.startup")

PREFIX = "SIPAS_"
# variables the program reads that are not settings: the command line's language, and test hooks (SIPAS_TEST_…)
OTHER_VARIABLES = frozenset({"SIPAS_LANG", "SIPAS_REQUIRE_BROWSER", "SIPAS_REQUIRE_LIBREOFFICE"})
TEST_HOOKS = "SIPAS_TEST_"
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def setting_names() -> list[str]:
    """Every setting as its environment variable: ``SIPAS_`` and the field's name in capitals."""
    return sorted(PREFIX + name.upper() for name in Settings.model_fields)


def unknown_variables(names: Iterable[str]) -> list[tuple[str, str | None]]:
    """The ``SIPAS_…`` names that are no setting, each with the nearest setting's name (or None)."""
    known = setting_names()
    found = []
    for name in sorted({n for n in names if n.upper().startswith(PREFIX)}):
        upper = name.upper()
        if upper in known or upper in OTHER_VARIABLES or upper.startswith(TEST_HOOKS):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.75)
        found.append((name, close[0] if close else None))
    return found


def _env_file_names(path: Path) -> list[str]:
    """The variable names a ``.env`` file sets (unreadable or absent: none)."""
    from dotenv import dotenv_values

    try:
        return [name for name in dotenv_values(path) if name]
    except (OSError, UnicodeDecodeError):
        return []


def _is_this_machine(host: str, http_host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES or host == http_host.strip("[]").lower():
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def public_url_problem(settings: Settings) -> str | None:
    """The warning when SIPAS_PUBLIC_URL names this machine on another port than the one listened on."""
    try:
        parts = urlsplit(settings.public_url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return say("startup.public_url_invalid", url=settings.public_url)
    if not parts.hostname or port is None:
        return say("startup.public_url_invalid", url=settings.public_url)
    if _is_this_machine(parts.hostname, settings.http_host) and port != settings.http_port:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return say(
            "startup.public_url_port",
            url=settings.public_url,
            url_port=port,
            port=settings.http_port,
            suggested=f"{parts.scheme}://{host}:{settings.http_port}",
        )
    return None


def startup_warnings(
    settings: Settings, environ: Mapping[str, str] | None = None, env_file: Path = Path(".env")
) -> list[str]:
    """Every warning for these settings, the process's environment and the ``.env`` file."""
    environ = os.environ if environ is None else environ
    warnings = []
    problem = public_url_problem(settings)
    if problem:
        warnings.append(problem)
    sources = [(name, "env") for name in environ] + [(name, "file") for name in _env_file_names(env_file)]
    where = {name: origin for name, origin in reversed(sources)}
    for name, close in unknown_variables(where):
        origin = say("startup.in_env" if where[name] == "env" else "startup.in_file", file=env_file)
        hint = say("startup.did_you_mean", name=close) if close else say("startup.see_readme")
        warnings.append(say("startup.unknown_setting", name=name, origin=origin, hint=hint))
    return warnings


def warn_at_start(settings: Settings) -> None:
    """Log each start-up warning, one line each (called by `sipasbot run`)."""
    for warning in startup_warnings(settings):
        log.warning("%s", warning)
