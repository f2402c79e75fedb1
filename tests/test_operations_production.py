"""docs/OPERATIONS.md covers a production install with what the product really does: the outbound hosts are the
channels' configured defaults, the paths table names every path the server serves, and the steps an IT officer
needs are there (user and folder, `.env` mode 600, systemd enable and upgrade, TLS, PostgreSQL with SSL and the
plain address `pg_dump` needs, SQLite restore with its `-wal`/`-shm`, a proxy, SIPAS_HTTP_HOST)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from bot.app import App
from bot.channels import telegram, zalo_bot, zalo_oa
from bot.config import Settings
from bot.web.api import setup_api
from bot.web.pages import setup_pages
from bot.web.server import build_web_app

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", GUIDE, flags=re.MULTILINE | re.DOTALL)
    assert match, f"OPERATIONS.md has no section {title!r}"
    return match.group(1)


def test_the_outbound_hosts_are_the_channels_defaults() -> None:
    outbound = section("Outbound connections and a proxy")
    defaults = Settings.model_fields
    hosts = {
        urlsplit(str(field.default)).hostname
        for name, field in defaults.items()
        if name.endswith(("_api_url", "_oauth_url")) and field.default
    }
    assert hosts, defaults
    for host in sorted(h for h in hosts if h):
        assert f"`{host}`" in outbound, host
    assert "HTTPS_PROXY" in outbound
    assert "NO_PROXY" in outbound


async def test_the_paths_table_names_every_path_the_server_serves(tmp_path: Path) -> None:
    app = App(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}"))
    await app.start()
    try:
        web_app = build_web_app(app, [setup_api, setup_pages])  # as `sipasbot run` builds it, channels aside
        served = {resource.canonical for resource in web_app.router.resources()}
    finally:
        await app.close()
    served |= {telegram.WEBHOOK_PATH, zalo_bot.WEBHOOK_PATH, zalo_oa.WEBHOOK_PATH}  # each channel adds its own
    assert {"/metrics", "/healthz", "/api/v1/openapi.json"} <= served, served
    table = section("Which paths are public")
    missing = []
    for path in sorted(served):
        top = "/" + path.strip("/").split("/")[0]
        wanted = path if top == "/webhooks" else top
        if f"`{wanted}" not in table:
            missing.append(path)
    assert not missing, f"OPERATIONS.md's paths table does not name: {missing}"


def test_the_production_steps_are_there() -> None:
    for words in (
        "useradd --system",
        "install -m 600 /dev/null /srv/sipasbot/.env",
        "systemctl enable --now sipasbot",
        "systemctl restart sipasbot",
        "certbot",
        "createuser",
        "hostssl",
        "ssl=require",
        "sslmode=require",
        "`-wal`",
        "`-shm`",
        "SIPAS_HTTP_HOST=0.0.0.0",
        "status **3**",
    ):
        assert words in GUIDE, words
