"""The Zalo OA webhook's whole job done by hand: the floor that `bench.zalo_webhook` compares the service with.

What every typed answer that reaches the OA webhook needs, whatever the design, written as directly as the
project's parts allow (aiohttp, aiosqlite or asyncpg, the service's own pragmas):

1. the event read and its SHA-256 signature, app id and age checked;
2. in one transaction: the event's row inserted (a re-delivery is seen), the chat and its current survey read,
   the answer upserted, the cursor and the turn moved, the next question queued in ``outbox``; commit; 200;
3. the next question sent to the person (``POST /v3.0/oa/message/cs`` with the access token), and its outcome
   (``sent``, the platform's message id) committed.

Nothing is re-read that the process already holds (the queued row goes to the sender in memory), nothing is
rendered (the question's text is built once), no metrics, no logs, no rate limits: a floor, not a product.
Run by `bench.zalo_webhook` in its own process, on the database the service has just used (its people, chats
and surveys); its answers go under question codes of their own.

    python -m bench.zalo_fair PORT DATABASE_URL API_URL ACCESS_TOKEN [driver|sqlalchemy]
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

APP_ID, SECRET_KEY = "1234567890", "oa-secret-key"
QUESTION = "Câu 21/33. Ông/Bà đánh giá thế nào về thời gian chờ đợi? Xin chọn một mức."
CHAT_SURVEY = (
    "SELECT c.id, i.id, i.form_id, i.form_version, i.unit_id, d.field_id FROM channel_identities c"
    " JOIN invitations i ON i.person_id = c.person_id AND i.status IN ('sent', 'started')"
    " AND i.cursor IS NOT NULL LEFT JOIN dossiers d ON d.id = i.dossier_id"
    " WHERE c.channel = 'zalo_oa' AND c.external_id = {}"
)
INSERT_EVENT = (
    "INSERT INTO inbound_events (channel, event_id, received_at) VALUES ('whole', {}, {})"
    " ON CONFLICT (channel, event_id) DO NOTHING RETURNING id"
)
UPSERT_ANSWER = (
    "INSERT INTO answers (invitation_id, question_code, value, text, form_id, form_version, unit_id, field_id,"
    " answered_at) VALUES ({}, {}, '4', NULL, {}, {}, {}, {}, {})"
    " ON CONFLICT (invitation_id, question_code) DO UPDATE SET value = excluded.value,"
    " answered_at = excluded.answered_at"
)
MOVE_CURSOR = "UPDATE invitations SET cursor = {}, turn = turn + 1 WHERE id = {} RETURNING turn"
QUEUE_REPLY = (
    "INSERT INTO outbox (channel, recipient, identity_id, invitation_id, payload, status, attempts, not_before,"
    " created_at, priority) VALUES ('whole', {}, {}, {}, {}, 'pending', 0, {}, {}, 0) RETURNING id"
)
MARK_SENT = "UPDATE outbox SET status = 'sent', sent_at = {}, platform_message_id = {}, attempts = 1 WHERE id = {}"


def verified(raw: bytes, header: str) -> dict[str, Any] | None:
    """The event, when its app id, age and signature are right."""
    event: dict[str, Any] = json.loads(raw)
    app_id, timestamp = str(event.get("app_id", "")), str(event.get("timestamp", ""))
    if not (hmac.compare_digest(app_id, APP_ID) and timestamp.isdigit()):
        return None
    mac = hashlib.sha256(app_id.encode() + raw + timestamp.encode() + SECRET_KEY.encode()).hexdigest()
    if not hmac.compare_digest(header.removeprefix("mac="), mac) or abs(time.time() - int(timestamp) / 1000) > 300:
        return None
    return event


async def connect_as_the_service(database_url: str, isolation_level: str | None) -> tuple[Any, dict[str, Any]]:
    """An aiosqlite connection with the pragmas the service's own connections have (read from one of them, so
    that they follow storage/db.py), and those pragmas."""
    import aiosqlite

    from storage.db import Database

    database = Database(database_url)
    async with database.engine.connect() as connection:
        pragmas = {
            name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("busy_timeout", "journal_mode", "synchronous", "foreign_keys")
        }
    await database.close()
    sqlite = await aiosqlite.connect(make_url(database_url).database or "", isolation_level=isolation_level)
    for name, value in pragmas.items():
        await sqlite.execute(f"PRAGMA {name} = {value}")
    return sqlite, pragmas


class Store:
    """The two transactions, on SQLite (one connection: one writer) or PostgreSQL (a pool)."""

    handle: Callable[[str, str, int], Awaitable[tuple[int, str] | None]]
    sent: Callable[[int, str], Awaitable[None]]

    @classmethod
    async def open(cls, database_url: str, through: str = "driver") -> Store:
        """The two transactions written against the driver itself, or through SQLAlchemy Core (``sqlalchemy``)."""
        store = cls()
        buttons = [["1", "1"], ["2", "2"], ["3", "3"], ["4", "4"]]
        if through == "sqlalchemy":
            await store._sqlalchemy(database_url, {"text": QUESTION, "buttons": buttons})
        elif database_url.startswith("sqlite"):
            await store._sqlite(database_url, json.dumps({"text": QUESTION, "buttons": buttons}))
        else:
            await store._postgres(database_url, json.dumps({"text": QUESTION, "buttons": buttons}))
        return store

    async def _sqlalchemy(self, database_url: str, payload: dict[str, Any]) -> None:
        """The same statements as SQLAlchemy Core constructs, built once, on the service's own engine and driver
        (storage/db.py: its SQLite pragmas and one-trip driver; on SQLite one connection held, as against the
        driver, on PostgreSQL its pool) and its tables (storage/models.py): what the product's parts cost at the
        least, without the product."""
        from sqlalchemy import and_, bindparam, insert, select, update
        from sqlalchemy.dialects import postgresql, sqlite

        from storage.db import Database
        from storage.models import AnswerRow, DossierRow, IdentityRow, InboundEventRow, InvitationRow, OutboxRow

        database = Database(database_url)
        upsert = sqlite.insert if database.dialect == "sqlite" else postgresql.insert
        events, answers, invitations = InboundEventRow.__table__, AnswerRow.__table__, InvitationRow.__table__
        outbox, chats, dossiers = OutboxRow.__table__, IdentityRow.__table__, DossierRow.__table__
        insert_event = (
            upsert(events)
            .values(channel="core", event_id=bindparam("event_id"), received_at=bindparam("at"))
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(events.c.id)
        )
        current = and_(
            invitations.c.person_id == chats.c.person_id,
            invitations.c.status.in_(["sent", "started"]),
            invitations.c.cursor.is_not(None),
        )
        chat_survey = (
            select(
                chats.c.id,
                invitations.c.id,
                invitations.c.form_id,
                invitations.c.form_version,
                invitations.c.unit_id,
                dossiers.c.field_id,
            )
            .select_from(
                chats.join(invitations, current).outerjoin(dossiers, dossiers.c.id == invitations.c.dossier_id)
            )
            .where(chats.c.channel == "zalo_oa", chats.c.external_id == bindparam("user_id"))
        )
        answer = upsert(answers).values(
            invitation_id=bindparam("invitation"),
            question_code=bindparam("code"),
            value="4",
            text=None,
            form_id=bindparam("form"),
            form_version=bindparam("version"),
            unit_id=bindparam("unit"),
            field_id=bindparam("field"),
            answered_at=bindparam("at"),
        )
        upsert_answer = answer.on_conflict_do_update(
            index_elements=["invitation_id", "question_code"],
            set_={"value": answer.excluded.value, "answered_at": answer.excluded.answered_at},
        )
        move_cursor = (
            update(invitations)
            .where(invitations.c.id == bindparam("invitation"))
            .values(cursor=bindparam("next_code"), turn=invitations.c.turn + 1)
            .returning(invitations.c.turn)
        )
        queue_reply = (
            insert(outbox)
            .values(
                channel="core",
                recipient=bindparam("user_id"),
                identity_id=bindparam("chat"),
                invitation_id=bindparam("invitation"),
                payload=bindparam("payload", type_=outbox.c.payload.type),
                status="pending",
                attempts=0,
                not_before=bindparam("at"),
                created_at=bindparam("at"),
                priority=0,
            )
            .returning(outbox.c.id)
        )
        mark_sent = (
            update(outbox)
            .where(outbox.c.id == bindparam("outbox_id"))
            .values(status="sent", sent_at=bindparam("at"), platform_message_id=bindparam("message_id"), attempts=1)
        )
        if database.dialect == "sqlite":  # one connection held, one transaction at a time, as against the driver
            held, lock = await database.engine.connect(), asyncio.Lock()

            @contextlib.asynccontextmanager
            async def transaction() -> AsyncIterator[AsyncConnection]:
                async with lock, held.begin():
                    yield held

        else:  # a pool, as against the driver

            @contextlib.asynccontextmanager
            async def transaction() -> AsyncIterator[AsyncConnection]:
                async with database.engine.connect() as connection, connection.begin():
                    yield connection

        async def handle(event_id: str, user_id: str, number: int) -> tuple[int, str] | None:
            at = datetime.now(UTC)
            async with transaction() as connection:
                if (await connection.execute(insert_event, {"event_id": event_id, "at": at})).first() is None:
                    return None
                chat, invitation, form_id, version, unit_id, field_id = (
                    await connection.execute(chat_survey, {"user_id": user_id})
                ).one()
                await connection.execute(
                    upsert_answer,
                    {
                        "invitation": invitation,
                        "code": f"WC{number}",
                        "form": form_id,
                        "version": version,
                        "unit": unit_id,
                        "field": field_id,
                        "at": at,
                    },
                )
                await connection.execute(move_cursor, {"invitation": invitation, "next_code": f"W{number + 1}"})
                values = {"user_id": user_id, "chat": chat, "invitation": invitation, "payload": payload, "at": at}
                queued = (await connection.execute(queue_reply, values)).scalar_one()
            return int(queued), user_id

        async def sent(outbox_id: int, message_id: str) -> None:
            async with transaction() as connection:
                values = {"outbox_id": outbox_id, "at": datetime.now(UTC), "message_id": message_id}
                await connection.execute(mark_sent, values)

        self.handle, self.sent = handle, sent

    async def _sqlite(self, database_url: str, payload: str) -> None:
        sqlite, _ = await connect_as_the_service(database_url, isolation_level=None)
        lock = asyncio.Lock()  # one connection, one transaction at a time (SQLite has one writer anyway)
        marks = [statement.replace("{}", "?") for statement in (CHAT_SURVEY, INSERT_EVENT, UPSERT_ANSWER)]
        chat_survey, insert_event, upsert_answer = marks
        move_cursor, queue_reply, mark_sent = (s.replace("{}", "?") for s in (MOVE_CURSOR, QUEUE_REPLY, MARK_SENT))

        async def handle(event_id: str, user_id: str, number: int) -> tuple[int, str] | None:
            at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
            async with lock:
                await sqlite.execute("BEGIN IMMEDIATE")
                try:
                    if not await sqlite.execute_fetchall(insert_event, (event_id, at)):
                        await sqlite.execute("ROLLBACK")
                        return None
                    rows = list(await sqlite.execute_fetchall(chat_survey, (user_id,)))
                    chat, invitation, form_id, version, unit_id, field_id = rows[0]
                    code = f"W{number}"
                    await sqlite.execute(upsert_answer, (invitation, code, form_id, version, unit_id, field_id, at))
                    await sqlite.execute_fetchall(move_cursor, (f"W{number + 1}", invitation))
                    queued = await sqlite.execute_fetchall(queue_reply, (user_id, chat, invitation, payload, at, at))
                    await sqlite.execute("COMMIT")
                except BaseException:
                    await sqlite.execute("ROLLBACK")
                    raise
            return int(next(iter(queued))[0]), user_id

        async def sent(outbox_id: int, message_id: str) -> None:
            at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
            async with lock:
                await sqlite.execute("BEGIN IMMEDIATE")
                await sqlite.execute(mark_sent, (at, message_id, outbox_id))
                await sqlite.execute("COMMIT")

        self.handle, self.sent = handle, sent

    async def _postgres(self, database_url: str, payload: str) -> None:
        import asyncpg

        pool = await asyncpg.create_pool(make_url(database_url).set(drivername="postgresql").render_as_string(False))
        numbered = []
        for statement in (CHAT_SURVEY, INSERT_EVENT, UPSERT_ANSWER, MOVE_CURSOR, QUEUE_REPLY, MARK_SENT):
            parts = statement.split("{}")
            numbered.append("".join(part + (f"${n + 1}" if n < len(parts) - 1 else "") for n, part in enumerate(parts)))
        chat_survey, insert_event, upsert_answer, move_cursor, queue_reply, mark_sent = numbered

        async def handle(event_id: str, user_id: str, number: int) -> tuple[int, str] | None:
            at = datetime.now(UTC)
            async with pool.acquire() as connection, connection.transaction():
                if await connection.fetchval(insert_event, event_id, at) is None:
                    return None
                chat, invitation, form_id, version, unit_id, field_id = await connection.fetchrow(chat_survey, user_id)
                code = f"W{number}"
                await connection.execute(upsert_answer, invitation, code, form_id, version, unit_id, field_id, at)
                await connection.fetchval(move_cursor, f"W{number + 1}", invitation)
                queued = await connection.fetchval(queue_reply, user_id, chat, invitation, payload, at, at)
            return int(queued), user_id

        async def sent(outbox_id: int, message_id: str) -> None:
            async with pool.acquire() as connection:
                await connection.execute(mark_sent, datetime.now(UTC), message_id, outbox_id)

        self.handle, self.sent = handle, sent


async def start_webhook(port: int, webhook: Callable[[web.Request], Awaitable[web.Response]], path: str) -> None:
    """Start serving ``webhook`` at ``path`` (and ``/healthz``, for the bench to wait on) on ``port``."""

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    server = web.Application()
    server.router.add_post(path, webhook)
    server.router.add_get("/healthz", health)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()


async def serve_webhook(port: int, webhook: Callable[[web.Request], Awaitable[web.Response]]) -> None:
    """Serve ``webhook`` at the OA webhook's path (and ``/healthz``) on ``port``, until killed."""
    await start_webhook(port, webhook, "/webhooks/zalo-oa")
    await asyncio.Event().wait()


def serve(port: int, database_url: str, api_url: str, access_token: str, through: str = "driver") -> None:
    """The whole job by hand, until killed."""

    async def main() -> None:
        store = await Store.open(database_url, through)
        session = aiohttp.ClientSession(headers={"access_token": access_token})
        url = api_url.rstrip("/") + "/v3.0/oa/message/cs"
        answered: dict[str, int] = {}
        senders: set[asyncio.Task[None]] = set()
        message = {"text": QUESTION, "attachment": {"type": "template", "payload": {"buttons": [
            {"title": str(n), "type": "oa.query.show", "payload": str(n)} for n in range(1, 5)
        ]}}}  # fmt: skip

        async def send(outbox_id: int, user_id: str) -> None:
            async with session.post(url, json={"recipient": {"user_id": user_id}, "message": message}) as response:
                answer = await response.json()
            assert answer["error"] == 0, answer
            await store.sent(outbox_id, str(answer["data"]["message_id"]))

        async def webhook(request: web.Request) -> web.Response:
            raw = await request.read()
            event = verified(raw, request.headers.get("X-ZEvent-Signature", ""))
            if event is None:
                return web.json_response({"error": "forbidden"}, status=403)
            user_id, message_id = str(event["sender"]["id"]), str(event["message"]["msg_id"])
            number = answered[user_id] = answered.get(user_id, 0) + 1
            queued = await store.handle(message_id, user_id, number)
            if queued is not None:  # after the commit: the sender has the row in hand
                task = asyncio.create_task(send(*queued))
                senders.add(task)
                task.add_done_callback(senders.discard)
            return web.json_response({"error": 0, "message": "Success"})

        await serve_webhook(port, webhook)

    asyncio.run(main())


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], *sys.argv[5:6])
