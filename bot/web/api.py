"""The REST API under /api/v1 (README: the REST API): one operation table, by resource, for routes and document.

Each resource's routes live in bot/web/routes/ and bring their operations; this table registers them with
aiohttp and builds the OpenAPI document from the same entries, so the two cannot disagree. Every POST and PUT
honours an Idempotency-Key through one middleware (bot/web/idempotency.py). Beside the API: the QR code, slips
and kept files handed out by unguessable address, and the linking page the QR code opens.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.idempotency import idempotency
from bot.web.linking import setup_linking
from bot.web.openapi import Operation, build_document
from bot.web.routes import apologies, batch, dossiers, meta, reports
from bot.web.routes.common import PREFIX, ErrorOut, guard
from bot.web.routes.documents import setup_documents
from bot.web.routes.meta import OPENAPI
from bot.web.server import APP

__all__ = ["OPERATIONS", "PREFIX", "setup_api"]  # the prefix is named from here by the tests and the benches


OPERATIONS: tuple[Operation, ...] = (
    *dossiers.OPERATIONS,
    apologies.OPERATION,
    batch.OPERATION,
    reports.OPERATION,
    meta.OPERATION,
)


def setup_api(web_app: web.Application) -> None:
    """Register the REST API under /api/v1, its OpenAPI document, the QR route and the linking page it opens."""
    for operation in OPERATIONS:
        web_app.router.add_route(operation.method, operation.path, guard(operation.handler))
    web_app.middlewares.append(idempotency(OPERATIONS))
    setup_documents(web_app)
    setup_linking(web_app)
    web_app[OPENAPI] = build_document(OPERATIONS, public_url=web_app[APP].settings.public_url, error_model=ErrorOut)
