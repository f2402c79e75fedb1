"""GET /openapi.json: the API's own OpenAPI 3.1 document, built from the operation table."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from bot.web.openapi import Answer, Operation
from bot.web.routes.common import PREFIX, json_answer

OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("sipas_openapi")


class OpenApiOut(BaseModel):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow")

    openapi: str


async def get_openapi(request: web.Request) -> web.Response:
    """GET /openapi.json: this API's OpenAPI 3.1 document."""
    document: dict[str, Any] = request.app[OPENAPI]
    return json_answer(document)


OPERATION = Operation(
    "GET",
    f"{PREFIX}/openapi.json",
    get_openapi,
    "getOpenApi",
    "This document",
    tag="meta",
    answers={200: Answer("OpenAPI 3.1.", OpenApiOut)},
)
