"""The aiohttp application: one factory, the error shape of README, the REST API for every failure, /healthz."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App
from handlers.errors import Conflict, HandlerError, InvalidInput, NotFound

log = logging.getLogger(__name__)

APP = web.AppKey("sipas_app", App)
MAX_BODY_BYTES = 1024 * 1024  # a 1000-item batch of dossiers fits well within this
DELIVERY = "delivery"  # in /healthz's channels: this instance's part in delivery, not a channel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The error shape of README, the REST API: ``{"error": {"code": …, "message": …}}``."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def status_of(error: HandlerError) -> int:
    """The HTTP status of a handler's refusal."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, InvalidInput):
        return 422
    return 400


@web.middleware
async def error_shape(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the error shape; bad input never becomes a 500."""
    try:
        return await handler(request)
    except HandlerError as error:
        return error_response(status_of(error), error.code, error.message)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, "error")
        message = exc.text if exc.text and exc.content_type != "application/json" else exc.reason
        if exc.content_type == "application/json":
            raise
        # keep Allow, WWW-Authenticate…; the body is ours, so are its Content-Type and length
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        return error_response(exc.status, code, message or exc.reason, headers=headers)
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal", "something went wrong on our side; it has been logged")


async def healthz(request: web.Request) -> web.Response:
    """Liveness with a database check, whether someone delivers, and each configured channel's state.

    503 when the database cannot be reached, when nobody delivers, or when a configured channel cannot send
    (its state is not ``ok``: starting, connecting, token refused, no tokens, reauthorise); ``cannot_send``
    names those channels. ``channels.delivery`` is this instance's part, never a reason for 503 by itself.
    """
    app = request.app[APP]
    database = app.services.database
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        seen = None
        if app.heartbeat_seconds is not None:
            async with app.services.uow(read_only=True) as uow:
                seen = await uow.instances.holder_seen()
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    body: dict[str, object] = {"status": "ok", "database": "ok"}
    if app.heartbeat_seconds is not None:
        age = (app.services.clock() - seen).total_seconds() if seen is not None else None
        body["delivery"] = "ok" if age is not None and age <= 3 * app.heartbeat_seconds else "nobody delivers"
        if body["delivery"] != "ok":
            body["status"] = "unavailable"
    states = app.channel_states
    if states:
        channels = body["channels"] = {name: state() for name, state in states.items()}
        down = [name for name, state in channels.items() if name != DELIVERY and state != "ok"]
        if down:
            body["status"] = "unavailable"
            body["cannot_send"] = down
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics of this instance (and the database-held figures every instance shares)."""
    app = request.app[APP]
    try:
        body, content_type = await app.metrics.render(app.services.database, app.services.clock(), app.holding())
    except (SQLAlchemyError, OSError) as exc:
        log.warning("metrics: database unavailable: %s", type(exc).__name__)
        return error_response(503, "unavailable", "the database cannot be read")
    return web.Response(body=body, headers={"Content-Type": content_type})


def build_web_app(app: App, parts: Iterable[Callable[[web.Application], None]] = ()) -> web.Application:
    """The aiohttp application for ``app``; each part registers its routes (API, webhooks, pages)."""
    web_app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[error_shape])
    web_app[APP] = app
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    for part in parts:
        part(web_app)
    return web_app
