"""The linking page ``/lien-ket/<token>``: what the receipt's QR code opens (issue 16).

On a phone, in Vietnamese (English with ``?lang=en``): one button per configured channel, Zalo first, and a short
code of digits to send in the chat, shown large with a copy button. The code is made afresh on each visit and works
for minutes (handlers.citizen.linking). Nothing personal is on the page: not the applicant, not the dossier, only the
unit's name. The token in the address is the secret: the page is never cached, indexed, or named in a Referer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jinja2
from aiohttp import web

from bot.app import App
from bot.web.server import APP
from handlers.citizen.linking import PAGE_LIFETIME, LinkCodes, shown
from handlers.texts import LOCALES

PREFIX = "/lien-ket"
PATH = PREFIX + "/{token}"
TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_TOKEN = 64
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("sipas_linking_templates", jinja2.Environment)


@dataclass(frozen=True)
class ChannelLink:
    """A chat a person can open to link: ``zalo_oa``, ``zalo_bot`` or ``telegram``, and its address."""

    kind: str
    url: str


def link_url(app: App, token: str) -> str:
    """The linking page of a token: what the receipt's QR code holds."""
    return f"{app.settings.public_url.rstrip('/')}{PREFIX}/{token}"


def telegram_url(app: App, token: str) -> str | None:
    """The Telegram deep link (the token in it: one tap links), once the bot's name is known."""
    return f"https://t.me/{app.bot_username}?start={token}" if app.bot_username else None


def channel_links(app: App, token: str) -> list[ChannelLink]:
    """The chats to open, Zalo first: the OA, the Zalo Bot, then Telegram; only those configured."""
    settings = app.settings
    links = []
    if settings.zalo_oa_link:
        links.append(ChannelLink("zalo_oa", settings.zalo_oa_link))
    if settings.zalo_bot_link:
        links.append(ChannelLink("zalo_bot", settings.zalo_bot_link))
    telegram = telegram_url(app, token)
    if telegram:
        links.append(ChannelLink("telegram", telegram))
    return links


def receipt_channels(app: App) -> list[str]:
    """Where the receipt tells people to send the printed code, as it names them (Zalo first)."""
    texts, settings = app.services.texts, app.settings
    zalo = (settings.zalo_oa_link, settings.zalo_bot_link)
    named = [texts("vi", "receipt.channel_zalo", link=link) for link in zalo if link]
    if app.bot_username:
        named.append(texts("vi", "receipt.channel_telegram", bot=app.bot_username))
    return named


def receipt_text(app: App, token: str, code: str) -> str:
    """The lines the one-stop-shop software prints on the receipt."""
    return LinkCodes(app.services).receipt_text(code, link_url(app, token), receipt_channels(app))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _page(request: web.Request, name: str, status: int = 200, **context: object) -> web.Response:
    html = request.app[TEMPLATES].get_template(name).render(vi=context["lang"] == "vi", **context)
    return web.Response(
        text=unicodedata.normalize("NFC", html),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=HEADERS,
    )


async def linking_page(request: web.Request) -> web.Response:
    """GET /lien-ket/{token}: the buttons to open a chat and a fresh short code; a polite 404 for a dead token."""
    app = request.app[APP]
    lang = request.query.get("lang", "vi")
    lang = lang if lang in LOCALES else "vi"
    token = request.match_info["token"]
    minted = None
    if 0 < len(token) <= MAX_TOKEN and set(token) <= TOKEN_CHARACTERS:
        minted = await LinkCodes(app.services).page_code(token)
    if minted is None:
        return _page(request, "lien_ket_loi.html", 404, lang=lang)
    until = minted.expires_at.astimezone(app.services.policy.timezone)
    return _page(
        request,
        "lien_ket.html",
        lang=lang,
        unit=minted.unit_name,
        channels=channel_links(app, token),
        code=minted.code,
        code_shown=shown(minted.code),
        until=until.strftime("%H:%M"),
        minutes=int(PAGE_LIFETIME.total_seconds() // 60),
    )


def setup_linking(web_app: web.Application) -> None:
    """Register the linking page (no key: the token in its address is the secret)."""
    web_app[TEMPLATES] = _environment()
    web_app.router.add_get(PATH, linking_page)
