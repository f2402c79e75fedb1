"""`sipasbot` as a real subprocess, for the tests that drive the command line or kill and restart the service.

The child gets this process's environment without any ``SIPAS_`` setting (a developer's own settings must not
leak into a test), plus the settings the test names.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SIPASBOT = str(Path(sys.executable).parent / "sipasbot")


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without its ``SIPAS_`` settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    env.update(settings)
    return env


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a command run on a fresh SQLite file in ``tmp_path``, its output unbuffered."""
    return clean_env(SIPAS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}", PYTHONUNBUFFERED="1")


def run_cli(
    env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``sipasbot *args`` to its end (two minutes at most); its exit status and output, as text."""
    return subprocess.run(
        [SIPASBOT, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, cwd=cwd, check=False
    )


@contextmanager
def service_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``sipasbot run`` writing to ``log``; stopped with SIGTERM on the way out if it still runs."""
    with log.open("ab") as output:
        process = subprocess.Popen([SIPASBOT, "run"], env=env, stdout=output, stderr=output)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def local_service_env(database_url: str, port: int, **settings: str) -> dict[str, str]:
    """A service on ``127.0.0.1:port`` surveying at once (no delay, no quiet hours), plus ``settings``."""
    return clean_env(
        SIPAS_DATABASE_URL=database_url,
        SIPAS_HTTP_PORT=str(port),
        SIPAS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        **{"SIPAS_SURVEY_DELAY_MINUTES": "0", "SIPAS_QUIET_HOURS": "", **settings},
    )
