"""Idempotency-Key for every POST and PUT of the REST API: one middleware stores the first successful answer.

With the header, a write route runs in a transaction the middleware keeps open (``write_transaction``), and the
answer is stored in that same transaction: the effect and its stored answer are committed together or not at all.
The same key with the same request (method, path and canonical JSON body) gets the stored answer again, with
``Idempotent-Replayed: true``; with another request, 422 ``idempotency_key_reused``. A key belongs to one API key
and one path; refusals are not stored. A route that keeps transactions of its own (the batch: one per item) has
its answer stored after them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.app import App
from bot.web.openapi import IDEMPOTENCY_HEADER, REPLAYED_HEADER, WRITES, Operation
from bot.web.routes.body_types import storable
from bot.web.routes.common import ApiError, authorize, json_answer, parse_json_object
from bot.web.server import APP, Handler, error_response
from storage.uow import UnitOfWork
from storage.values import StoredResponse

IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,200}")


def request_hash(method: str, path: str, body: Any) -> str:
    """A hash of the request: method, path and canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _storable(text: str) -> bool:
    """Whether a path parameter can be part of a stored key's scope (no NUL, no unpaired surrogate)."""
    try:
        storable(text)
    except ValueError:
        return False
    return True


@dataclass
class _Held:
    """A request's Idempotency-Key, what it is bound to, and the transaction its answer will be stored in."""

    app: App
    operation: Operation
    scope: str  # the API key and the path
    key: str
    request_hash: str
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    uow: UnitOfWork | None = None

    async def open(self) -> UnitOfWork:
        """The transaction of the write and of its stored answer, begun on first use."""
        if self.uow is None:
            self.uow = await self.stack.enter_async_context(self.app.services.uow())
        return self.uow

    async def stored(self) -> StoredResponse | None:
        """The answer already stored under this key, if any (read outside the write's transaction)."""
        async with self.app.services.uow(read_only=True) as uow:
            return await uow.idempotency.get(self.scope, self.key)

    def replay(self, stored: StoredResponse) -> web.Response:
        """The stored answer again; 422 when the key came with another request."""
        if stored.request_hash != self.request_hash:
            raise ApiError(
                422, "idempotency_key_reused", f"the {IDEMPOTENCY_HEADER} was already used for a different request"
            )
        headers = {REPLAYED_HEADER: "true"}
        if stored.status_code == 201 and self.operation.location is not None:
            headers["Location"] = self.operation.location(stored.response)
        return json_answer(stored.response, stored.status_code, headers)


_HELD: web.RequestKey[_Held] = web.RequestKey("sipas_idempotency")


class _Replay(Exception):
    """Another request with the same key stored its answer first: that answer is given instead."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("replay")
        self.stored = stored


@asynccontextmanager
async def write_transaction(request: web.Request) -> AsyncIterator[UnitOfWork]:
    """The unit of work of a write route: committed at the end, or with the answer under an Idempotency-Key."""
    held = request.get(_HELD)
    if held is None:
        async with request.app[APP].services.uow() as uow:
            yield uow
            await uow.commit()
        return
    uow = await held.open()
    stored = await uow.idempotency.get(held.scope, held.key)
    if stored is not None:  # stored while this request waited for its turn to write
        raise _Replay(stored)
    yield uow  # the middleware commits it, with the answer


async def _hold(request: web.Request, operation: Operation, key: str) -> _Held:
    """Check the caller and the key and read the body: what the key is bound to (ApiError when refused)."""
    api_key = await authorize(request, operation.scopes)
    if not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise ApiError(400, "bad_idempotency_key", f"{IDEMPOTENCY_HEADER} must be 1–200 visible ASCII characters")
    data = parse_json_object(await request.read())
    path = operation.path.format_map(request.match_info)
    scope = f"{api_key.id} {request.method} {path}"
    return _Held(request.app[APP], operation, scope, key, request_hash(request.method, path, data))


async def _answer_once(request: web.Request, handler: Handler, held: _Held) -> web.StreamResponse:
    """Run the route and store its successful answer in its transaction; the first stored answer otherwise."""
    stored = await held.stored()
    if stored is not None:
        return held.replay(stored)
    request[_HELD] = held
    async with held.stack:
        try:
            response = await handler(request)
        except _Replay as replay:
            return held.replay(replay.stored)
        if not 200 <= response.status < 300 or not isinstance(response, web.Response) or response.body is None:
            return response  # a refusal: rolled back, not stored
        answer = json.loads(bytes(response.body))  # type: ignore[arg-type]
        uow = await held.open()
        if await uow.idempotency.put(
            held.scope, held.key, held.request_hash, response.status, answer, held.app.services.clock()
        ):
            await uow.commit()
            return response
        await uow.rollback()  # a concurrent request with the same key stored its answer first: theirs is given
    stored = await held.stored()
    assert stored is not None
    return held.replay(stored)


def idempotency(operations: Iterable[Operation]) -> Middleware:
    """The middleware honouring an Idempotency-Key on every POST and PUT of ``operations``."""
    writes: dict[tuple[str, str], Operation] = {
        (operation.method, operation.path): operation for operation in operations if operation.method in WRITES
    }

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        resource = request.match_info.route.resource
        operation = writes.get((request.method, resource.canonical)) if resource is not None else None
        if key is None or operation is None or not all(map(_storable, request.match_info.values())):
            return await handler(request)  # no key, not an API write, or a path no object can have: the route says
        try:
            return await _answer_once(request, handler, await _hold(request, operation, key))
        except ApiError as error:
            return error_response(error.status, error.code, error.message, error.headers)

    return middleware
