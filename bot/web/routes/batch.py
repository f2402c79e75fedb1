"""POST /dossiers:batch: many upserts and events, in order, each in its own transaction and with its own result."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from bot.app import App
from bot.web.openapi import Answer, Operation
from bot.web.routes.body_types import Body, Text
from bot.web.routes.common import (
    PREFIX,
    WRITE,
    ApiError,
    ErrorBody,
    authorize,
    json_answer,
    json_kind,
    read_object,
    validate,
)
from bot.web.routes.dossier_models import DossierBody, DossierOut, EventBody, OptinOut
from bot.web.routes.dossiers import record_event, upsert
from bot.web.server import APP, status_of
from handlers.errors import HandlerError
from storage.values import ApiKey

BATCH_LIMIT = 1000


class UpsertItem(Body):
    """A batch item: create or update a dossier, as PUT /dossiers/{code}."""

    op: Literal["upsert"]
    code: Text
    dossier: DossierBody


class EventItem(Body):
    """A batch item: an event, as POST /dossiers/{code}/events."""

    op: Literal["event"]
    code: Text
    event: EventBody


class BatchBody(Body):
    """Up to 1000 upserts and events, applied in order, each in its own transaction."""

    items: list[Annotated[UpsertItem | EventItem, Field(discriminator="op")]] = Field(
        min_length=1, max_length=BATCH_LIMIT
    )


class _BatchEnvelope(Body):
    """The batch as first validated: the items are checked one by one, so that one bad item spoils only itself."""

    items: list[Any] = Field(min_length=1, max_length=BATCH_LIMIT)


class BatchResult(BaseModel):
    """The outcome of one batch item: the status and body it would have had as a call of its own."""

    index: int
    status: int
    dossier: DossierOut | None = Field(default=None, description="Present when the item succeeded.")
    optin: OptinOut | None = Field(default=None, description="Present for a successful upsert.")
    changed: bool | None = Field(default=None, description="Present for a successful event.")
    error: ErrorBody | None = Field(default=None, description="Present when the item failed.")


class BatchOut(BaseModel):
    """One result per item, in the order of the items."""

    results: list[BatchResult]


async def _batch_item(app: App, key: ApiKey, item: Any) -> dict[str, Any]:
    """One item applied in its own transaction: its status and answer, or its error."""
    try:
        if not isinstance(item, dict):
            raise ApiError(422, "invalid_input", f"the item must be a JSON object, not {json_kind(item)}")
        op = item.get("op")
        if op == "upsert":
            sent = validate(UpsertItem, item)
            async with app.services.uow() as uow:
                status, answer = await upsert(app, uow, key, sent.code, sent.dossier)
                await uow.commit()
        elif op == "event":
            event = validate(EventItem, item)
            async with app.services.uow() as uow:
                status, answer = await record_event(app, uow, key, event.code, event.event)
                await uow.commit()
        else:
            raise ApiError(422, "invalid_input", "op: must be 'upsert' or 'event'")
    except ApiError as error:
        return {"status": error.status, "error": error.inner()}
    except HandlerError as error:
        return {"status": status_of(error), "error": {"code": error.code, "message": error.message}}
    return {"status": status, **answer}


async def post_batch(request: web.Request) -> web.Response:
    """POST /dossiers:batch: up to 1000 upserts and events, in order, one transaction and one result each."""
    key = await authorize(request, (WRITE,))
    envelope = validate(_BatchEnvelope, await read_object(request))
    app = request.app[APP]
    results = [{"index": index, **await _batch_item(app, key, item)} for index, item in enumerate(envelope.items)]
    return json_answer({"results": results})


_BATCH_ANSWER = Answer(
    "One result per item, in order; `status` is the HTTP status the item would have had on its own.", BatchOut
)
OPERATION = Operation(
    "POST",
    f"{PREFIX}/dossiers:batch",
    post_batch,
    "postDossierBatch",
    "Apply many upserts and events",
    f"1–{BATCH_LIMIT} items, applied in order, each in its own transaction: a bad item fails alone. "
    "The call answers 200 unless the envelope itself is bad.",
    scopes=(WRITE,),
    body=_BatchEnvelope,
    body_schema_model=BatchBody,
    answers={200: _BATCH_ANSWER},
)
