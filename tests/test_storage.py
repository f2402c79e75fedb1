"""Storage on every backend: the schema is Alembic's, repositories never commit, constraints hold."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.db import Database, DatabaseError, create_engine
from storage.models import Base, UnitRow
from storage.uow import UnitOfWork
from tests.conftest import Backend

NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)


async def test_the_database_is_at_the_newest_migration(database: Database) -> None:
    assert await migrate.current_revision(database) == migrate.head_revision()


async def test_the_migrations_produce_exactly_the_models(database: Database) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_upgrading_twice_changes_nothing(database: Database) -> None:
    await migrate.upgrade(database)
    assert await migrate.current_revision(database) == migrate.head_revision()


async def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(database: Database) -> None:
    if database.dialect != "sqlite":
        return
    async with database.engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() >= 5000


async def test_timestamps_come_back_as_aware_utc(database: Database) -> None:
    hanoi = datetime(2026, 11, 18, 17, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    async with UnitOfWork(database) as uow:
        await uow.units.add("P1", "Phường 1", None, hanoi)
        await uow.commit()
    async with UnitOfWork(database, read_only=True) as uow:
        stored = await uow.connection.scalar(select(UnitRow.created_at))
    assert stored == hanoi
    assert stored is not None
    assert stored.tzinfo == UTC
    assert stored.hour == 10


async def test_leaving_a_unit_of_work_without_commit_rolls_back(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        await uow.units.add("P1", "Phường 1", None, NOW)
    async with UnitOfWork(database) as uow:
        assert await uow.units.all() == []


async def test_an_exception_rolls_back(database: Database) -> None:
    async def fail_half_way() -> None:
        async with UnitOfWork(database) as uow:
            await uow.units.add("P1", "Phường 1", None, NOW)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_half_way()
    async with UnitOfWork(database) as uow:
        assert await uow.units.all() == []


async def test_the_unit_tree(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        city = await uow.units.add("Q3", "Quận 3", None, NOW)
        ward = await uow.units.add("P8", "Phường 8", city.id, NOW)
        await uow.units.add("P8-KP1", "Khu phố 1", ward.id, NOW)
        await uow.units.add("P9", "Phường 9", city.id, NOW)
        await uow.commit()
        assert len(await uow.units.subtree_ids(city.id)) == 4
        assert len(await uow.units.subtree_ids(ward.id)) == 2


async def test_unit_codes_are_unique(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        await uow.units.add("P1", "Phường 1", None, NOW)
        with pytest.raises(IntegrityError):
            await uow.units.add("P1", "Phường 1 lần nữa", None, NOW)


async def test_an_inbound_event_is_recorded_once(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        assert await uow.inbound.first_seen("telegram", "900000001", NOW)
        assert not await uow.inbound.first_seen("telegram", "900000001", NOW)
        assert await uow.inbound.first_seen("zalo_oa", "900000001", NOW)
        await uow.commit()


async def test_a_job_run_is_claimed_once(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        assert await uow.jobs.claim("digest", "2026-11-18", "P8", "a", NOW)
        assert not await uow.jobs.claim("digest", "2026-11-18", "P8", "b", NOW)
        assert await uow.jobs.claim("digest", "2026-11-18", "P9", "b", NOW)
        await uow.jobs.finish("digest", "2026-11-18", "P8", "done", None, NOW)
        await uow.commit()


async def test_an_outbox_dedupe_key_queues_once(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        assert await uow.outbox.add("console", "u1", {"text": "Xin chào"}, NOW, dedupe_key="invite:1")
        assert not await uow.outbox.add("console", "u1", {"text": "Xin chào"}, NOW, dedupe_key="invite:1")
        await uow.commit()
        pending = await uow.outbox.pending("console", NOW, 10)
    assert [m.payload for m in pending] == [{"text": "Xin chào"}]


async def test_foreign_keys_are_enforced(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        with pytest.raises(IntegrityError):
            await uow.units.add("P1", "Phường 1", 9999, NOW)


async def test_a_naive_timestamp_is_refused(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        with pytest.raises(Exception, match="naive datetime"):
            await uow.units.add("P1", "Phường 1", None, datetime(2026, 1, 1))


def test_unsupported_urls_are_refused_in_one_line() -> None:
    with pytest.raises(DatabaseError, match="async driver"):
        create_engine("sqlite:///x.db")
    with pytest.raises(DatabaseError, match="unsupported database"):
        create_engine("mysql+aiomysql://u@h/db")
    with pytest.raises(DatabaseError, match="not a database URL"):
        create_engine("nonsense")


async def test_two_writers_queue_instead_of_failing(database: Database) -> None:
    """Both writers succeed; on SQLite the second waits for the first one's commit (no "database is locked")."""
    first_holds_lock = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with UnitOfWork(database) as uow:
            await uow.units.add("P1", "Phường 1", None, NOW)
            first_holds_lock.set()
            await release_first.wait()
            await uow.commit()

    async def second() -> None:
        await first_holds_lock.wait()
        async with UnitOfWork(database) as uow:
            await uow.units.add("P2", "Phường 2", None, NOW)
            await uow.commit()

    first_task, second_task = asyncio.create_task(first()), asyncio.create_task(second())
    await first_holds_lock.wait()
    await asyncio.sleep(0.05)
    if database.dialect == "sqlite":
        assert not second_task.done()  # SQLite has one writer at a time: the second one queues
    release_first.set()
    await asyncio.gather(first_task, second_task)
    async with UnitOfWork(database, read_only=True) as uow:
        assert [u.code for u in await uow.units.all()] == ["P1", "P2"]


async def test_a_reader_is_not_blocked_by_a_writer(database: Database) -> None:
    async with UnitOfWork(database) as writer:
        await writer.units.add("P1", "Phường 1", None, NOW)
        async with UnitOfWork(database, read_only=True) as reader:
            assert await reader.units.all() == []
        await writer.commit()


async def test_a_transaction_without_statements_commits_and_rolls_back(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        await uow.commit()
    async with UnitOfWork(database) as uow:
        await uow.rollback()
    async with UnitOfWork(database) as uow:
        await uow.units.add("P1", "Phường 1", None, NOW)
        await uow.commit()
        assert len(await uow.units.all()) == 1


async def test_a_failed_statement_leaves_the_connection_usable(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        await uow.units.add("P1", "Phường 1", None, NOW)
        await uow.commit()
    for _ in range(3):
        async with UnitOfWork(database) as uow:
            with pytest.raises(IntegrityError):
                await uow.units.add("P1", "Lặp lại", None, NOW)
    async with UnitOfWork(database) as uow:
        await uow.units.add("P2", "Phường 2", None, NOW)
        await uow.commit()
        assert [u.code for u in await uow.units.all()] == ["P1", "P2"]


async def test_a_queued_message_wakes_the_delivering_instance_at_commit(backend: Backend) -> None:
    if backend.name != "postgresql":
        return  # one SQLite instance wakes itself: there is no other process to tell
    from storage.notify import OutboxListener

    woken = asyncio.Event()
    listening, writing = Database(backend.url), Database(backend.url)
    listener = OutboxListener(listening, woken.set)
    try:
        assert await listener.start()
        async with UnitOfWork(writing) as uow:
            await uow.outbox.add("telegram", "42", {"text": "Xin chào"}, NOW)
            await asyncio.sleep(0.2)
            assert not woken.is_set()  # nothing before the commit
            await uow.commit()
        await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await listener.stop()
        await listening.close()
        await writing.close()
