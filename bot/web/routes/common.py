"""What every route shares: the API key's check, the body's reading and validation, the error shape, local time."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial, wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.app import App
from bot.logs import remember_presented
from bot.web.limits import BEARER_RE, api_key_of
from bot.web.server import error_response
from bot.web.wording import term
from handlers.errors import NotFound
from handlers.intake.dossiers import CODE_RE
from storage.uow import UnitOfWork
from storage.values import ApiKey, Dossier

PREFIX = "/api/v1"
WRITE = "dossiers:write"
READ_REPORTS = "reports:read"
WRITE_APOLOGIES = "apologies:write"
_dumps = partial(json.dumps, ensure_ascii=False)

CODE_PARAMETER = {  # the path parameter of every dossier route
    "name": "code",
    "in": "path",
    "required": True,
    "description": f"The dossier code ({term('dossier_code')}): 1–50 letters, digits or . _ / - (a / is sent as %2F).",
    "schema": {"type": "string", "pattern": CODE_RE.pattern, "maxLength": 50},
}

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A refusal of the API layer itself (key, body, query, header), answered in the error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def inner(self) -> dict[str, str]:
        """The inner object of the error shape."""
        return {"code": self.code, "message": self.message}


class ErrorBody(BaseModel):
    """What went wrong: a stable code and a one-line message."""

    code: str
    message: str


class ErrorOut(BaseModel):
    """The error shape of every failure."""

    error: ErrorBody


def json_answer(payload: Mapping[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """An answer of the API as JSON (UTF-8, not escaped)."""
    return web.json_response(payload, status=status, headers=headers, dumps=_dumps)


def guard(handler: Handler) -> Handler:
    """Answer an ApiError in the error shape (handler errors are the middleware's)."""

    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error.status, error.code, error.message, error.headers)

    return guarded


async def authorize(request: web.Request, scopes: tuple[str, ...]) -> ApiKey:
    """The caller's live key, holding at least one of ``scopes``; 401 or 403 otherwise."""
    challenge = 'Bearer realm="sipas"'
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "unauthorized", "missing Authorization: Bearer <key>", {"WWW-Authenticate": challenge})
    match = BEARER_RE.fullmatch(header)
    invalid = {"WWW-Authenticate": f'{challenge}, error="invalid_token"'}
    if match is None:
        raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <key>'", invalid)
    key = await api_key_of(request, match.group(1))
    if key is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", invalid)
    remember_presented(match.group(1))  # a live key: never in a log line
    if not key.scopes & set(scopes):
        needed = " or ".join(scopes)
        raise ApiError(
            403,
            "forbidden",
            f"this key lacks the scope {needed}",
            {"WWW-Authenticate": f'{challenge}, error="insufficient_scope", scope="{" ".join(scopes)}"'},
        )
    if not key.all_units and not key.covered:
        raise ApiError(
            403,
            "no_units",
            "this key is bound to no unit: make a new one with sipasbot apikey create NAME --scopes … --units …",
        )
    return key


def not_found(code: str) -> NotFound:
    """The refusal of a dossier that does not exist, and of one of a unit the key does not cover: the same."""
    return NotFound(f"no dossier {code!r}")


async def dossier_of_key(uow: UnitOfWork, key: ApiKey, code: str) -> Dossier:
    """The dossier ``code`` if it belongs to a unit the key covers; 404 otherwise (codes cannot be probed)."""
    dossier = await uow.dossiers.get_by_code(code)
    if dossier is None or not key.covers(dossier.unit_id):
        raise not_found(code)
    return dossier


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object: 400 when it is not UTF-8 or not JSON, 422 when it is not an object."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_encoding", "the body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "bad_json", "the body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_input", f"the body must be a JSON object, not {json_kind(value)}")
    return value


def json_kind(value: object) -> str:
    """How a JSON value is named in a refusal: an array, a string, null, a boolean or a number."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (ApiError when it is not one)."""
    # a body over MAX_BODY_BYTES (the app's client_max_size) raises 413 here, answered by the middleware
    return parse_json_object(await request.read())


def existing_code(request: web.Request) -> str:
    """The path's dossier code; one that no dossier can have is not found without asking the database."""
    code = request.match_info["code"]
    if not CODE_RE.fullmatch(code):
        raise ApiError(404, "not_found", f"no dossier {code!r}")
    return code


def _where(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error: ValidationError, limit: int = 5) -> str:
    """A validation error in one line, each problem prefixed by the field it is about."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        where = _where(tuple(item["loc"]))
        problems.append(f"{where}: {message}" if where else message)
    extra = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; and {extra} more" if extra > 0 else "")


def validate(model: type[M], data: Any) -> M:
    """``data`` as ``model``; 422 naming the fields otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_input", describe(exc)) from None


def zone_of(app: App) -> ZoneInfo:
    """The local time zone (SIPAS_TIMEZONE)."""
    return app.services.policy.timezone


def local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """``moment`` in local time, if there is one."""
    return moment.astimezone(zone) if moment is not None else None
