"""The OpenAPI 3.1 document of the REST API, built from the same operation table that registers the routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bot.web.wording import term

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_SCHEME = "apiKey"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITES = ("POST", "PUT")  # every one honours an Idempotency-Key (bot/web/idempotency.py)
IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "1–200 visible ASCII characters; scoped to the API key and this path.",
    "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,200}$"},
}
REPLAYED = "`true` when this is the stored answer of an earlier request."
ERROR_SCHEMA = "Error"
ERROR_DESCRIPTIONS = {
    400: "The body is not UTF-8 or not JSON (`bad_encoding`, `bad_json`), or a header is malformed.",
    401: "No `Authorization: Bearer <key>`, or the key is unknown or revoked (`unauthorized`).",
    403: "The key lacks the scope this call needs, or the unit asked for (a new dossier's, a report's) is not one "
    "of the key's units or below them (`forbidden`); a key bound to no unit is refused everywhere (`no_units`).",
    404: "No such dossier or route (`not_found`). A dossier of a unit the key does not cover is answered exactly "
    "so: its code cannot be told from one that does not exist.",
    405: "The path exists but not with this method (`method_not_allowed`).",
    409: "The event is impossible in the dossier's state (`invalid_transition`).",
    413: "The body is larger than 1 MiB (`too_large`).",
    422: "The input is invalid; the message names the field (`invalid_input`, `unknown_unit`, a date in the "
    "future, `unit_change_refused` for a dossier sent with another unit than its own, …).",
    429: "Too many requests from this key, or from this address without a valid key (`too_many_requests`); "
    "wait the seconds Retry-After gives.",
}


@dataclass(frozen=True)
class Answer:
    """One documented response of an operation."""

    description: str
    model: type[BaseModel] | None = None
    schema: dict[str, Any] | None = None  # when there is no model (e.g. a report built as a dict)
    headers: dict[str, str] = field(default_factory=dict)  # header name -> description
    media_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    """A route of the API: registered with aiohttp and described in the document from this one place.

    ``scopes`` are alternatives: a key with any one of them may call (empty: no key needed). A POST or PUT
    honours an ``Idempotency-Key`` (the middleware of bot/web/idempotency.py); ``location`` gives the URL of what
    a 201 created, from its answer, so that a replayed 201 carries it too.
    """

    method: Literal["GET", "PUT", "POST"]
    path: str
    handler: Handler
    operation_id: str
    summary: str
    description: str = ""
    tag: str = "dossiers"
    scopes: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_schema_model: type[BaseModel] | None = None  # documents the body when validation uses a looser model
    parameters: tuple[dict[str, Any], ...] = ()
    answers: dict[int, Answer] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    location: Callable[[Mapping[str, Any]], str] | None = None


def _schemas(
    operations: Iterable[Operation], error_model: type[BaseModel]
) -> tuple[dict[tuple[type[BaseModel], str], dict[str, Any]], dict[str, Any]]:
    """References to the JSON schemas of every model mentioned, and their definitions (for components)."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(error_model, "serialization"): None}
    for operation in operations:
        body = operation.body_schema_model or operation.body
        if body is not None:
            wanted[(body, "validation")] = None
        for answer in operation.answers.values():
            if answer.model is not None:
                wanted[(answer.model, "serialization")] = None
    refs, definitions = models_json_schema(list(wanted), ref_template="#/components/schemas/{model}")
    references = {(cast(type[BaseModel], model), str(mode)): schema for (model, mode), schema in refs.items()}
    return references, dict(definitions.get("$defs", {}))


def build_document(operations: Iterable[Operation], *, public_url: str, error_model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing exactly ``operations``."""
    operations = list(operations)
    refs, definitions = _schemas(operations, error_model)
    error_ref = refs[(error_model, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        item: dict[str, Any] = {
            "operationId": operation.operation_id,
            "summary": operation.summary,
            "tags": [operation.tag],
            "security": [{SECURITY_SCHEME: [scope]} for scope in operation.scopes],
        }
        if operation.description:
            item["description"] = operation.description
        parameters = [*operation.parameters, *([IDEMPOTENCY_PARAMETER] if operation.method in WRITES else [])]
        if parameters:
            item["parameters"] = parameters
        body = operation.body_schema_model or operation.body
        if body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(body, "validation")]}},
            }
        responses: dict[str, Any] = {}
        for status, answer in sorted(operation.answers.items()):
            response: dict[str, Any] = {"description": answer.description}
            schema = refs[(answer.model, "serialization")] if answer.model is not None else answer.schema
            if schema is not None:
                response["content"] = {answer.media_type: {"schema": schema}}
            headers = dict(answer.headers)
            if operation.method in WRITES and 200 <= status < 300:
                headers[REPLAYED_HEADER] = REPLAYED
            if headers:
                response["headers"] = {
                    name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
                }
            responses[str(status)] = response
        errors = set(operation.errors) | {429}
        if operation.scopes:
            errors |= {401, 403}
        if body is not None:
            errors |= {400, 413, 422}
        for status in sorted(errors):
            response = {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": error_ref}},
            }
            if status == 401:
                response["headers"] = {
                    "WWW-Authenticate": {"description": '`Bearer realm="sipas"`', "schema": {"type": "string"}}
                }
            if status == 429:
                response["headers"] = {
                    "Retry-After": {"description": "Whole seconds to wait.", "schema": {"type": "string"}}
                }
            responses[str(status)] = response
        item["responses"] = responses
        paths.setdefault(operation.path, {})[operation.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SIPAS Bot API",
            "version": "1",
            "description": (
                f"The one-stop-shop software ({term('one_stop_system')}) pushes dossiers and their events; "
                'reports are read back. Every error is `{"error": {"code": …, "message": …}}`. '
                "Timestamps are ISO 8601; one without an offset is local time (SIPAS_TIMEZONE, "
                "Asia/Ho_Chi_Minh by default); answers give local time with its offset."
            ),
        },
        "servers": [{"url": public_url.rstrip("/") or "/"}],
        "tags": [
            {"name": "dossiers", "description": "Dossiers and their lifecycle events (docs/METHOD.md, the dossier)."},
            {"name": "reports", "description": "Satisfaction reports, computed as docs/FIGURES.md says."},
            {"name": "meta", "description": "This document."},
        ],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(definitions.items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "An API key made with `sipasbot apikey create NAME --scopes S,… --units U,…`. Scopes: "
                        "`dossiers:write`, `reports:read`, `apologies:write`; each operation lists the scopes that "
                        "may call it (any one of them is enough). Units: the key reads and writes only the dossiers "
                        "and reports of its units and of the units below them (`--units all`: a province's key, "
                        "every unit)."
                    ),
                }
            },
        },
    }
