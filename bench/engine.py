"""Answers recorded per second through the survey engine, against a bare loop writing the same rows.

The engine path per answer: event dedupe, the chat and survey looked up, the answer upserted, the
cursor moved, the next question rendered into an outbox row, commit. The bare loop writes the same
rows (inbound event, answer, invitation cursor, outbox row) with the same driver (aiosqlite) and the
same pragmas, one transaction per answer, but reads nothing. The fair loop does by hand the work no
engine can skip: record the event (a re-delivery is seen), read the chat and its current survey,
write the answer, move the cursor (and the message's turn), queue the reply, commit. All run on a
SQLite file in the same process, alternately; the target applies to the fair loop.

    python -m bench.engine [--people 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
from sqlalchemy import text

from handlers.admin.units import UnitHandler
from handlers.chat.dispatcher import ChatDispatcher
from handlers.citizen.survey import render_question
from handlers.context import Policy, Services
from handlers.intake.dossiers import ContactInput, DossierHandler, DossierInput
from handlers.messages import Identity, Inbound
from handlers.texts import Texts
from storage import migrate
from storage.db import SQLITE_BUSY_TIMEOUT_MS, Database
from survey_forms.catalog import Catalog

ITEMS = 19
NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
# the engine's own (storage/db.py), for the loops written by hand
SQLITE_PRAGMAS = (
    f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
    "journal_mode = WAL",
    "synchronous = NORMAL",
    "foreign_keys = ON",
)


async def prepare(path: Path, people: int) -> Services:
    """A migrated database with ``people`` linked citizens, each at question 1 of sipas-2022."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(database)
    services = Services(database, Catalog.load(), Texts.load(), Policy(), clock=lambda: NOW)
    await UnitHandler(services).add("P8", "Phường 8")
    dossiers, citizens = DossierHandler(services), ChatDispatcher(services)
    for number in range(people):
        code = f"P8-{number:06d}"
        created = await dossiers.upsert(
            DossierInput(
                code=code,
                unit="P8",
                procedure="Đăng ký khai sinh",
                field="Hộ tịch",
                applicant=ContactInput(f"Người dân {number}"),
                received_at=NOW - timedelta(days=3),
                due_at=NOW + timedelta(days=2),
            )
        )
        await dossiers.add_event(code, "returned", NOW - timedelta(hours=2))
        identity = Identity("console", f"u{number}")
        token = created.dossier.optin_token
        await citizens.handle(Inbound(identity, f"s{number}-1", "text", text=f"/start {token}"))
        await citizens.handle(Inbound(identity, f"s{number}-2", "choice", value="c:yes"))
        await citizens.handle(Inbound(identity, f"s{number}-3", "text", text="/khaosat"))
    return services


async def engine_round(services: Services, people: int, round_: int) -> tuple[int, float]:
    """Every person answers the 19 service items; the answers recorded and the seconds taken."""
    citizens = ChatDispatcher(services)
    started = time.perf_counter()
    count = 0
    for item in range(ITEMS):
        for number in range(people):
            inbound = Inbound(Identity("console", f"u{number}"), f"r{round_}-{number}-{item}", "text", text="4")
            await citizens.handle(inbound)
            count += 1
    return count, time.perf_counter() - started


def rendered_payload() -> str:
    """The outbox payload the engine writes for a question: the same bytes go into the bare loop's rows."""
    form = Catalog.load().get("sipas-2022")
    reply = render_question(form, form.question("TC2"), {}, Texts.load(), "vi", invitation_id=1)
    return json.dumps(reply.to_payload())


AnswerByHand = Callable[[aiosqlite.Connection, int, int, str, str], Awaitable[None]]


async def by_hand(path: Path, people: int, answer: AnswerByHand) -> tuple[int, float]:
    """``answer(connection, number, item, payload, at)`` for every person and item, each in its own transaction
    (BEGIN IMMEDIATE … COMMIT) on one aiosqlite connection with the engine's pragmas: how many, in how long."""
    payload = rendered_payload()
    at = NOW.replace(tzinfo=None).isoformat(sep=" ")
    async with aiosqlite.connect(path, isolation_level=None) as connection:
        for pragma in SQLITE_PRAGMAS:
            await connection.execute(f"PRAGMA {pragma}")
        started = time.perf_counter()
        for item in range(ITEMS):
            for number in range(people):
                await connection.execute("BEGIN IMMEDIATE")
                await answer(connection, number, item, payload, at)
                await connection.execute("COMMIT")
        return ITEMS * people, time.perf_counter() - started


async def bare_round(path: Path, people: int, round_: int) -> tuple[int, float]:
    """The same rows written by hand: inbound event, answer, invitation cursor, outbox row; one commit each."""

    async def answer(connection: aiosqlite.Connection, number: int, item: int, payload: str, at: str) -> None:
        invitation = number + 1
        await connection.execute(
            "INSERT INTO inbound_events (channel, event_id, received_at) VALUES (?, ?, ?)",
            ("bare", f"b{round_}-{number}-{item}", at),
        )
        await connection.execute(
            "INSERT INTO answers (invitation_id, question_code, value, text, form_id, form_version,"
            " unit_id, field_id, answered_at) VALUES (?, ?, '4', NULL, 'sipas-2022', 1, 1, 1, ?)"
            " ON CONFLICT (invitation_id, question_code) DO UPDATE SET value = excluded.value,"
            " answered_at = excluded.answered_at",
            (invitation, f"B{round_}_{item}", at),
        )
        await connection.execute(
            "UPDATE invitations SET cursor = ? WHERE id = ?", (f"B{round_}_{item + 1}", invitation)
        )
        await connection.execute(
            "INSERT INTO outbox (channel, recipient, payload, status, attempts, not_before, created_at)"
            " VALUES ('console', ?, ?, 'pending', 0, ?, ?)",
            (f"u{number}", payload, at, at),
        )

    return await by_hand(path, people, answer)


CHAT_SURVEY = (
    "SELECT c.id, c.person_id, c.locale, c.status, c.pending, i.id, i.cursor, i.turn, i.form_id, i.form_version,"
    " i.unit_id, d.field_id FROM channel_identities c"
    " LEFT JOIN invitations i ON i.person_id = c.person_id AND i.status IN ('sent', 'started')"
    " AND i.cursor IS NOT NULL LEFT JOIN dossiers d ON d.id = i.dossier_id"
    " WHERE c.channel = ? AND c.external_id = ?"
)


async def fair_round(path: Path, people: int, round_: int) -> tuple[int, float]:
    """What every answer needs, by hand: dedupe the event, read the chat's survey, write answer, cursor, reply."""

    async def answer(connection: aiosqlite.Connection, number: int, item: int, payload: str, at: str) -> None:
        cursor = await connection.execute(
            "INSERT INTO inbound_events (channel, event_id, received_at) VALUES (?, ?, ?)"
            " ON CONFLICT (channel, event_id) DO NOTHING RETURNING id",
            ("fair", f"f{round_}-{number}-{item}", at),
        )
        assert await cursor.fetchone() is not None
        cursor = await connection.execute(CHAT_SURVEY, ("console", f"u{number}"))
        chat = await cursor.fetchone()
        assert chat is not None
        invitation, form_id, version, unit_id, field_id = chat[5], chat[8], chat[9], chat[10], chat[11]
        await connection.execute(
            "INSERT INTO answers (invitation_id, question_code, value, text, form_id, form_version,"
            " unit_id, field_id, answered_at) VALUES (?, ?, '4', NULL, ?, ?, ?, ?, ?)"
            " ON CONFLICT (invitation_id, question_code) DO UPDATE SET value = excluded.value,"
            " answered_at = excluded.answered_at",
            (invitation, f"F{round_}_{item}", form_id, version, unit_id, field_id, at),
        )
        cursor = await connection.execute(
            "UPDATE invitations SET cursor = ?, turn = turn + 1 WHERE id = ? RETURNING turn",
            (f"F{round_}_{item + 1}", invitation),
        )
        assert await cursor.fetchone() is not None
        await connection.execute(
            "INSERT INTO outbox (channel, recipient, identity_id, invitation_id, payload, status, attempts,"
            " not_before, created_at) VALUES ('console', ?, ?, ?, ?, 'pending', 0, ?, ?)",
            (f"u{number}", chat[0], invitation, payload, at, at),
        )

    return await by_hand(path, people, answer)


async def reset_surveys(services: Services) -> None:
    """Put every survey back at question 1 so that the next round answers the same questions."""
    async with services.uow() as uow:
        await uow.connection.execute(
            text("UPDATE invitations SET cursor = 'TC1', status = 'sent', completed_at = NULL")
        )
        await uow.commit()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        services = await prepare(path, args.people)
        engine_rates, bare_rates, fair_rates = [], [], []
        for round_ in range(args.rounds):
            await reset_surveys(services)
            count, seconds = await engine_round(services, args.people, round_)
            engine_rates.append(count / seconds)
            count, seconds = await bare_round(path, args.people, round_)
            bare_rates.append(count / seconds)
            await reset_surveys(services)
            count, seconds = await fair_round(path, args.people, round_)
            fair_rates.append(count / seconds)
            print(
                f"round {round_ + 1}: engine {engine_rates[-1]:8.1f} answers/s   bare {bare_rates[-1]:8.1f} rows/s"
                f"   fair {fair_rates[-1]:8.1f} answers/s"
            )
        await services.database.close()
    engine, bare = statistics.median(engine_rates), statistics.median(bare_rates)
    fair = statistics.median(fair_rates)
    print(
        f"engine (median): {engine:.1f} answers/s; bare loop (median): {bare:.1f} answers/s;"
        f" fair loop (median): {fair:.1f} answers/s"
    )
    print(f"ratio engine / bare = {engine / bare:.2f}  (the bare loop reads nothing; no target)")
    print(f"ratio engine / fair = {engine / fair:.2f}  (target >= 0.50)")


if __name__ == "__main__":
    asyncio.run(main())
