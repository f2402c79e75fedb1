"""The documents handed out by unguessable address, no key needed: the receipt's QR code, apology slips, kept files."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import segno
from aiohttp import web

from bot.app import App
from bot.web.linking import link_url
from bot.web.server import APP, error_response

QR_SCALE = 10  # pixels per module: a t.me link (33 modules + border) is ~410 px, 3.5 cm at 300 dpi
QR_CACHE = "private, max-age=3600"  # the token links a chat to a person: no shared caches
QR_PATH = "/qr/{token:[A-Za-z0-9_-]{1,64}}.png"
SLIP_PATH = "/phieu/{token:[A-Za-z0-9_-]{1,64}}.pdf"
FILE_PATH = "/tep/{token:[A-Za-z0-9_-]{1,64}}/{name:[A-Za-z0-9_.-]{1,200}}"


def qr_content(app: App, token: str) -> str:
    """What the receipt's QR code holds: the linking page, whatever chats are configured."""
    return link_url(app, token)


async def get_qr(request: web.Request) -> web.Response:
    """GET /qr/{token}.png: the receipt's QR code (no key: the token itself is the secret)."""
    app = request.app[APP]
    token = request.match_info["token"]
    async with app.services.uow(read_only=True) as uow:
        dossier = await uow.dossiers.get_by_token(token)
    if dossier is None:
        return error_response(404, "not_found", "no such opt-in code")
    content = qr_content(app, token)
    etag = '"' + hashlib.sha256(content.encode()).hexdigest()[:32] + '"'
    headers = {"Cache-Control": QR_CACHE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(body=qr_png(content), content_type="image/png", headers=headers)


def qr_png(content: str) -> bytes:
    """A QR code as PNG, large enough to print on an A4/A5 receipt and scan from a phone."""
    buffer = io.BytesIO()
    segno.make(content, error="m", micro=False).save(buffer, kind="png", scale=QR_SCALE, border=4, dpi=300)
    return buffer.getvalue()


def _expired(app: App, made_at: datetime) -> bool:
    """Whether a link to a slip or a kept file made at ``made_at`` is past its SIPAS_LINK_DAYS (personal data)."""
    made = made_at if made_at.tzinfo is not None else made_at.replace(tzinfo=UTC)
    return app.services.clock() - made > timedelta(days=app.settings.link_days)


def _link_expired() -> web.Response:
    return error_response(
        410,
        "link_expired",
        "this link has expired: links to slips and files carry personal data and work for SIPAS_LINK_DAYS days;"
        " ask the unit for the document again",
    )


async def get_slip(request: web.Request) -> web.Response:
    """GET /phieu/{token}.pdf: a printable apology slip (no key: the unguessable token is the secret)."""
    app = request.app[APP]
    async with app.services.uow(read_only=True) as uow:
        apology = await uow.apologies.by_token(request.match_info["token"])
    pdf = await app.apologies.slip_pdf(apology.id) if apology is not None else None
    if apology is None or pdf is None:
        return error_response(404, "not_found", "no such slip")
    if _expired(app, apology.issued_at):
        return _link_expired()
    number = (apology.number or "").replace("/", "-")
    headers = {
        "Content-Disposition": f'inline; filename="phieu-xin-loi-{number}.pdf"',
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(body=pdf, content_type="application/pdf", headers=headers)


async def get_file(request: web.Request) -> web.Response:
    """GET /tep/{token}/{name}: a kept file (a digest's chart, a workbook) — the unguessable token is the secret."""
    app = request.app[APP]
    async with app.services.uow(read_only=True) as uow:
        found = await uow.files.content(token=request.match_info["token"])
    if found is None or found[0].name != request.match_info["name"]:
        return error_response(404, "not_found", "no such file")
    stored, content = found
    if _expired(app, stored.created_at):
        return _link_expired()
    headers = {
        "Content-Disposition": f'attachment; filename="{stored.name}"',
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(body=content, content_type=stored.media_type, headers=headers)


def setup_documents(web_app: web.Application) -> None:
    """Register the QR code, slip and kept-file routes."""
    web_app.router.add_get(QR_PATH, get_qr)
    web_app.router.add_get(SLIP_PATH, get_slip)
    web_app.router.add_get(FILE_PATH, get_file)
