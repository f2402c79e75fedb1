"""The leaders' digests for 1,000 units over a year of data, against the bare reporting queries they rest on.

A year of returned dossiers with completed sipas-2022 surveys (1,000,000 answers on SQLite by default;
``--answers 5000000 --database-url postgresql+asyncpg://…`` on PostgreSQL) is generated in bulk. Then, in
the same run, alternately: (a) ``Digests.build`` for every unit — the day and the month to date against
the periods before, the three weakest criteria, the overdue and late lists, new complaints, all scored
and worded — without the chart; (b) the bare aggregate queries the digest needs for the same units, on
one connection, with no scoring or wording. The chart (its two queries and the PNG) is timed apart.

    python -m bench.digest [--units 1000] [--answers 1000000] [--database-url URL] [--charts 50] [--measure URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from handlers.context import Policy, Services
from handlers.leader.digest.digests import Digests
from handlers.leader.digest.figures import Targets
from handlers.texts import Texts
from storage import migrate
from storage.db import Database
from survey_forms.catalog import Catalog

TODAY = date(2026, 12, 2)
YEAR_START = datetime(2025, 12, 2, 1, 0, tzinfo=UTC)
FIELDS = ["Hộ tịch", "Chứng thực", "Đất đai", "Xây dựng", "Kinh doanh", "Lao động", "Y tế", "Giáo dục"]


Rows = list[tuple[Any, ...]]


def _rows(units: int, answers: int, chunk: int = 20_000) -> Iterator[tuple[Rows, Rows, Rows]]:
    """Dossiers, invitations and answers, ``chunk`` invitations at a time: each unit the same share, over the year."""
    codes = [q.code for q in Catalog.load().get("sipas-2022").rating_questions()]
    per_invitation = len(codes)
    invitations = answers // per_invitation
    random.seed(11)
    span = 365 * 24 * 60
    for first in range(0, invitations, chunk):
        dossiers, invites, rows = [], [], []
        for number in range(first, min(first + chunk, invitations)):
            unit_id = number % units + 1
            moment = YEAR_START + timedelta(minutes=random.randrange(span))
            received = moment - timedelta(days=random.randint(2, 10))
            due = moment + timedelta(days=random.choice((-2, -1, 1, 2, 3)))
            field_id = number % len(FIELDS) + 1
            dossier_id = number + 1
            dossiers.append(
                (dossier_id, f"U{unit_id}-{number:08d}", unit_id, FIELDS[field_id - 1], field_id, received, due,
                 moment, moment, moment.date() <= due.date(), f"t{number:09d}", YEAR_START, YEAR_START)
            )  # fmt: skip
            expires = moment + timedelta(days=7)
            invites.append((dossier_id, dossier_id, unit_id, moment, moment, moment, moment, expires))
            values = random.choices(("1", "2", "3", "4", "5"), (3, 5, 12, 45, 35), k=per_invitation)
            rows += [(dossier_id, c, v, unit_id, field_id, moment) for c, v in zip(codes, values, strict=True)]
        yield dossiers, invites, rows


DOSSIER_COLUMNS = (
    "id, code, unit_id, procedure_name, field, field_id, channel, state, received_at, due_at, finished_at,"
    " returned_at, on_time, zalo_optin, optin_token, created_at, updated_at"
)


async def generate(url: str, units: int, answers: int) -> int:
    """A migrated database with ``units`` units and about ``answers`` answers; the number of answers written.

    The rows are made and written a chunk at a time (COPY on PostgreSQL), so that 5,000,000 answers need
    neither minutes nor gigabytes.
    """
    database = Database(url)
    await migrate.upgrade(database)
    await database.close()
    unit_rows = [(n, f"U{n}", f"Phường {n}", YEAR_START) for n in range(1, units + 1)]
    field_rows = list(enumerate(FIELDS, start=1))
    parsed = make_url(url)
    written = 0
    if parsed.get_backend_name() == "sqlite":

        def stamp(value: Any) -> Any:
            return (
                value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if isinstance(value, datetime) else value
            )

        connection = sqlite3.connect(parsed.database or "")
        connection.execute("PRAGMA synchronous = OFF")  # generating test data only
        connection.executemany("INSERT INTO units (id, code, name, created_at) VALUES (?, ?, ?, ?)",
                               [tuple(map(stamp, r)) for r in unit_rows])  # fmt: skip
        connection.executemany("INSERT INTO fields (id, name) VALUES (?, ?)", field_rows)
        for dossiers, invites, rows in _rows(units, answers):
            connection.executemany(
                f"INSERT INTO dossiers ({DOSSIER_COLUMNS}) VALUES (?, ?, ?, 'Thủ tục', ?, ?, 'truc_tiep', 'returned',"
                " ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                [tuple(map(stamp, r)) for r in dossiers],
            )
            connection.executemany(
                "INSERT INTO invitations (id, dossier_id, unit_id, form_id, form_version, status, scheduled_at,"
                " sent_at, delivered_at, completed_at, expires_at, created_at) VALUES (?, ?, ?, 'sipas-2022', 1,"
                " 'completed', ?, ?, ?, ?, ?, '2025-12-01 00:00:00')",
                [tuple(map(stamp, r)) for r in invites],
            )
            connection.executemany(
                "INSERT INTO answers (invitation_id, question_code, value, form_id, form_version, unit_id, field_id,"
                " answered_at) VALUES (?, ?, ?, 'sipas-2022', 1, ?, ?, ?)",
                [(*r[:5], stamp(r[5])) for r in rows],
            )
            written += len(rows)
        connection.commit()
        connection.execute("ANALYZE")
        connection.close()
        return written
    import asyncpg

    raw = await asyncpg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await raw.copy_records_to_table("units", records=unit_rows, columns=["id", "code", "name", "created_at"])
        await raw.copy_records_to_table("fields", records=field_rows, columns=["id", "name"])
        for dossiers, invites, rows in _rows(units, answers):
            await raw.copy_records_to_table(
                "dossiers",
                records=[(*r[:3], "Thủ tục", *r[3:5], "truc_tiep", "returned", *r[5:10], False, *r[10:])
                         for r in dossiers],
                columns=[c.strip() for c in DOSSIER_COLUMNS.split(",")],
            )  # fmt: skip
            await raw.copy_records_to_table(
                "invitations",
                records=[(*r[:3], "sipas-2022", 1, "completed", *r[3:], YEAR_START) for r in invites],
                columns=["id", "dossier_id", "unit_id", "form_id", "form_version", "status", "scheduled_at",
                         "sent_at", "delivered_at", "completed_at", "expires_at", "created_at"],
            )  # fmt: skip
            await raw.copy_records_to_table(
                "answers",
                records=[(r[0], r[1], r[2], "sipas-2022", 1, r[3], r[4], r[5]) for r in rows],
                columns=["invitation_id", "question_code", "value", "form_id", "form_version", "unit_id",
                         "field_id", "answered_at"],
            )  # fmt: skip
            written += len(rows)
        for table in ("units", "fields", "dossiers", "invitations", "answers"):
            await raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await raw.execute("VACUUM ANALYZE")
    finally:
        await raw.close()
    return written


async def bare(services: Services, codes: list[str], digests: Digests) -> float:
    """The aggregates a digest needs, run directly for every unit: no scoring, no wording."""
    policy = services.policy
    periods = [*Digests.periods("day", TODAY), *Digests.periods("month", TODAY)]
    started = time.perf_counter()
    for code in codes:
        async with services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(code)
            assert unit is not None
            ids = await uow.units.subtree_ids(unit.id)
            for period in periods:
                start, end = policy.day_start(period.start), policy.day_start(period.end + timedelta(days=1))
                await uow.reports.answer_counts(ids, start, end, "sipas-2022")
                await uow.reports.dossier_counts(ids, start, end, end)
                await uow.reports.survey_counts(ids, start, end, "sipas-2022")
            as_of = policy.day_start(TODAY)
            await uow.digests.overdue(ids, as_of, 10)
            await uow.digests.late_without_apology(ids, as_of, 10)
            window = policy.day_start(periods[0].start), policy.day_start(periods[0].end + timedelta(days=1))
            await uow.digests.feedback_between(ids, *window, 5)
            await uow.feedback.counts(ids, *window)
    return time.perf_counter() - started


async def fair(services: Services, codes: list[str]) -> float:
    """Every query the digest runs, run directly on one unit of work per unit: no scoring, no wording."""
    policy = services.policy
    day, day_before = Digests.periods("day", TODAY)
    month, month_before = Digests.periods("month", TODAY)
    started = time.perf_counter()
    for code in codes:
        async with services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(code)
            assert unit is not None
            await uow.units.children(unit.id)
            ids = [unit.id]
            for period in (day, day_before, month, month_before):
                start, end = policy.day_start(period.start), policy.day_start(period.end + timedelta(days=1))
                await uow.reports.answer_counts(ids, start, end, "sipas-2022")
                await uow.reports.dossier_counts(ids, start, end, min(services.clock(), end))
                await uow.reports.survey_counts(ids, start, end, "sipas-2022")
                await uow.leader_figures.intake(ids, start, end)
                await uow.leader_figures.on_time_by_field(ids, start, end)
                await uow.feedback.counts(ids, start, end)
                if period is month:
                    for by in ("procedure", "channel"):
                        await uow.reports.answer_counts_by(ids, start, end, "sipas-2022", by)
            await uow.targets.fields(unit.id)
            as_of = policy.day_start(TODAY)
            _, overdue = await uow.digests.overdue(ids, as_of, 10)
            await uow.digests.late_without_apology(ids, as_of, 10)
            window = policy.day_start(day.start), policy.day_start(day.end + timedelta(days=1))
            await uow.digests.feedback_between(ids, *window, 5)
            await uow.feedback.counts(ids, *window)
            await uow.survey_comments.between(ids, day.start, day.end, 10)
            await uow.leader_figures.complaint_backlog(ids, as_of)
            await uow.leader_figures.new_due_dates(ids, [r.code for r in overdue])
    return time.perf_counter() - started


async def built(codes: list[str], digests: Digests) -> float:
    started = time.perf_counter()
    for code in codes:
        await digests.build(code, TODAY, "day", with_chart=False)
    return time.perf_counter() - started


async def measure(url: str, charts: int, repeat: int, sample: int | None) -> None:
    database = Database(url)
    services = Services(
        database, Catalog.load(), Texts.load(), Policy(), clock=lambda: datetime(2026, 12, 2, 0, 40, tzinfo=UTC)
    )
    digests = Digests(services, Targets())
    async with services.uow(read_only=True) as uow:
        codes = [u.code for u in await uow.units.all()][:sample]
    built_times, bare_times, fair_times = [], [], []
    for _ in range(repeat):
        bare_times.append(await bare(services, codes, digests))
        fair_times.append(await fair(services, codes))
        built_times.append(await built(codes, digests))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sample_codes = codes[:charts]
    started = time.perf_counter()
    size = 0
    for code in sample_codes:
        async with services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(code)
            assert unit is not None
            ids = await uow.units.subtree_ids(unit.id)
        size += len(await digests.chart(unit, ids, TODAY, Targets(), "vi"))
    chart_seconds = (time.perf_counter() - started) / max(1, len(sample_codes))
    chart_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await database.close()
    b, f, d = statistics.median(bare_times), statistics.median(fair_times), statistics.median(built_times)
    runs = ", ".join(f"{t:.2f}" for t in bare_times)
    print(f"bare reporting queries for {len(codes)} units: median {b:.2f} s (runs: {runs})")
    runs = ", ".join(f"{t:.2f}" for t in fair_times)
    print(f"fair baseline, every query the digest runs, for {len(codes)} units: median {f:.2f} s (runs: {runs})")
    runs = ", ".join(f"{t:.2f}" for t in built_times)
    print(f"digests built for {len(codes)} units: median {d:.2f} s (runs: {runs})")
    print(f"chart (its two queries and the PNG), apart: {chart_seconds * 1000:.0f} ms per digest over "
          f"{len(sample_codes)} units, {size // max(1, len(sample_codes)) // 1024} KiB each; "
          f"peak memory with the charts {chart_peak_mb:.0f} MB")  # fmt: skip
    print(f"peak memory of the measuring process (the digests): {peak_mb:.0f} MB  (target < 200 MB)")
    print(f"ratio digests / bare = {d / b:.2f}")
    print(f"ratio digests / fair = {d / f:.2f}  (target <= 1.20)")


async def main(args: argparse.Namespace) -> None:
    if args.measure:
        await measure(args.measure, args.charts, args.repeat, args.sample)
        return
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{directory}/digest.db"
        started = time.perf_counter()
        written = await generate(url, args.units, args.answers)
        print(f"{url.split('://')[0]}: generated {written:,} answers for {args.units:,} units over a year "
              f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        # measured in a fresh process, so that its peak memory is that of the digests alone
        command = [sys.executable, "-m", "bench.digest", "--measure", url]
        command += ["--charts", str(args.charts), "--repeat", str(args.repeat)]
        command += ["--sample", str(args.sample)] if args.sample else []
        subprocess.run(command, check=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--charts", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--sample", type=int, help="measure the digests of the first N units only (all by default)")
    parser.add_argument("--measure", metavar="URL", help="only measure, on a database this bench filled before")
    asyncio.run(main(parser.parse_args()))
