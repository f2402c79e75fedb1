"""A write whose result nobody reads travels with the next statement or the commit, with the same guarantees.

On SQLite a queued reply, an upserted answer or a moved cursor waits on the connection and goes to the driver's
thread with the transaction's next statement or its COMMIT (storage/sqlite_driver.py); on PostgreSQL it runs at
once. Either way: a read in the same transaction sees it, leaving without commit keeps nothing, and a write that
fails makes the whole transaction fail with nothing of it kept (README, "How it is built": every inbound event is
one transaction).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)


async def queued(database: Database) -> list[str]:
    async with UnitOfWork(database, read_only=True) as uow:
        return [m.recipient for m in await uow.outbox.pending("console", NOW, 100)]


async def test_a_queued_reply_is_read_back_in_its_own_transaction_and_kept_at_commit(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        await uow.outbox.add("console", "u1", {"text": "Câu 1"}, NOW)
        await uow.outbox.add("console", "u2", {"text": "Câu 1"}, NOW)
        assert [m.recipient for m in await uow.outbox.pending("console", NOW, 100)] == ["u1", "u2"]
        await uow.commit()
    assert await queued(database) == ["u1", "u2"]


async def test_leaving_without_commit_keeps_no_queued_reply(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        assert await uow.inbound.first_seen("console", "e1", NOW)
        await uow.outbox.add("console", "u1", {"text": "Câu 1"}, NOW)
    assert await queued(database) == []
    async with UnitOfWork(database) as uow:  # the event was not kept either: it is new again
        assert await uow.inbound.first_seen("console", "e1", NOW)


async def test_a_failing_write_fails_the_transaction_and_keeps_nothing_of_it(database: Database) -> None:
    async def answer_to_a_chat_that_does_not_exist() -> None:
        async with UnitOfWork(database) as uow:
            assert await uow.inbound.first_seen("console", "e1", NOW)
            await uow.outbox.add("console", "u1", {"text": "Câu 1"}, NOW, identity_id=424242)
            await uow.commit()

    with pytest.raises(IntegrityError):
        await answer_to_a_chat_that_does_not_exist()
    assert await queued(database) == []
    async with UnitOfWork(database) as uow:
        assert await uow.inbound.first_seen("console", "e1", NOW)
        await uow.outbox.add("console", "u1", {"text": "Câu 1"}, NOW)
        await uow.commit()
    assert await queued(database) == ["u1"]


async def test_sqlite_commits_in_wal_with_synchronous_normal(database: Database) -> None:
    if database.dialect != "sqlite":
        return
    async with database.engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL


async def test_postgresql_keeps_the_pool_it_is_given(database: Database) -> None:
    if database.dialect != "postgresql":
        return
    sized = Database(database.url, pool_size=3)
    try:
        pool = sized.engine.pool
        assert pool.size() == 3  # type: ignore[attr-defined]
        assert pool._max_overflow == 3  # type: ignore[attr-defined]
    finally:
        await sized.close()


async def test_closing_the_database_breaks_no_unit_of_work_still_open(database: Database) -> None:
    # the service stopping while a transaction is under way: the transaction ends as it would have, and its
    # connection is closed when it is handed back
    async with UnitOfWork(database) as uow:
        assert await uow.inbound.first_seen("console", "e1", NOW)
        await database.close()
        await uow.outbox.add("console", "u1", {"text": "Câu 1"}, NOW)
        await uow.commit()
    assert await queued(database) == ["u1"]
    async with UnitOfWork(database, read_only=True) as uow:  # a reading one too
        await database.close()
        assert await uow.outbox.pending("console", NOW, 10)
