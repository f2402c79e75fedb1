"""The month report over 1,000,000 answers (50,000 invitations), against one bare GROUP BY on the same table.

The data are generated once into a SQLite file (migrated by Alembic, rows bulk-inserted). Timing and
memory are then measured in a fresh process so that peak memory is that of reporting alone:
the report (Reporter.satisfaction: answer counts by field/question/value, dossier counts, survey
funnel) and ``SELECT question_code, value, count(*) FROM answers GROUP BY question_code, value``
run alternately through the same driver, several times; medians are compared.

    python bench/report.py [--invitations 50000] [--repeat 3] [--database-url URL]
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from handlers.context import Policy, Services
from handlers.leader.reporting import Period, Reporter
from handlers.texts import Texts
from storage import migrate
from storage.db import Database
from survey_forms.catalog import Catalog

FIELDS = ["Hộ tịch", "Chứng thực", "Đất đai", "Xây dựng", "Kinh doanh", "Lao động", "Y tế", "Giáo dục"]
MONTH = Period(date(2026, 11, 1), date(2026, 11, 30))
BARE = "SELECT question_code, value, count(*) FROM answers GROUP BY question_code, value"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


async def _migrate(url: str) -> None:
    database = Database(url)
    await migrate.upgrade(database)
    await database.close()


def generate(path: Path, invitations: int) -> int:
    """A unit with ``invitations`` returned dossiers, each answered with 19 ratings and one priority."""
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    codes = [q.code for q in Catalog.load().get("sipas-2022").rating_questions()] + ["UT1"]
    random.seed(7)
    start = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")  # generating test data only
    created = _stamp(start)
    connection.execute("INSERT INTO units (id, code, name, created_at) VALUES (1, 'P8', 'Phường 8', ?)", (created,))
    connection.executemany("INSERT INTO fields (id, name) VALUES (?, ?)", list(enumerate(FIELDS, start=1)))
    answers = 0
    batch = 5000
    for first in range(0, invitations, batch):
        dossiers, invites, rows = [], [], []
        for number in range(first, min(first + batch, invitations)):
            moment = start + timedelta(minutes=number * 43_000 / invitations)
            received, due = moment - timedelta(days=5), moment + timedelta(days=random.choice((-1, 1, 2)))
            field_id = number % len(FIELDS) + 1
            dossier_id = number + 1
            dossiers.append(
                (
                    dossier_id,
                    f"P8-{number:07d}",
                    FIELDS[field_id - 1],
                    field_id,
                    _stamp(received),
                    _stamp(due),
                    _stamp(moment),
                    _stamp(moment),
                    int(moment.date() <= due.date()),
                    f"t{number:07d}",
                    created,
                    created,
                )
            )
            invites.append(
                (
                    dossier_id,
                    dossier_id,
                    _stamp(moment),
                    _stamp(moment),
                    _stamp(moment),
                    _stamp(moment),
                    _stamp(moment),
                    _stamp(moment + timedelta(days=7)),
                    created,
                )
            )
            for code in codes:
                value = random.choice(("rat-nhieu", "nhieu", "it")) if code == "UT1" else str(random.randint(1, 5))
                rows.append((dossier_id, code, value, field_id, _stamp(moment)))
        connection.executemany(
            "INSERT INTO dossiers (id, code, unit_id, procedure_name, field, field_id, channel, state, received_at,"
            " due_at, finished_at, returned_at, on_time, zalo_optin, optin_token, created_at, updated_at)"
            " VALUES (?, ?, 1, 'Thủ tục', ?, ?, 'truc_tiep', 'returned', ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            dossiers,
        )
        connection.executemany(
            "INSERT INTO invitations (id, dossier_id, unit_id, form_id, form_version, status, scheduled_at, sent_at,"
            " delivered_at, started_at, completed_at, expires_at, created_at)"
            " VALUES (?, ?, 1, 'sipas-2022', 1, 'completed', ?, ?, ?, ?, ?, ?, ?)",
            invites,
        )
        connection.executemany(
            "INSERT INTO answers (invitation_id, question_code, value, form_id, form_version, unit_id, field_id,"
            " answered_at) VALUES (?, ?, ?, 'sipas-2022', 1, 1, ?, ?)",
            rows,
        )
        answers += len(rows)
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    return answers


async def measure(url: str, repeat: int) -> None:
    """Time the report and the bare query alternately; print medians and peak memory."""
    database = Database(url)
    services = Services(
        database, Catalog.load(), Texts.load(), Policy(), clock=lambda: datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    )
    reporter = Reporter(services)
    report_times, bare_times = [], []
    report: dict[str, object] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        async with database.engine.connect() as connection:
            rows = (await connection.execute(text(BARE))).all()
        bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = await reporter.satisfaction("P8", MONTH)
        report_times.append(time.perf_counter() - started)
    await database.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    satisfaction = report["satisfaction"]
    assert isinstance(satisfaction, dict)
    print(
        f"bare GROUP BY: {len(rows)} groups, median {statistics.median(bare_times) * 1000:.0f} ms "
        f"(runs: {', '.join(f'{t * 1000:.0f}' for t in bare_times)})"
    )
    print(
        f"month report:  overall {satisfaction['index']} on n = {satisfaction['n']}, "
        f"median {statistics.median(report_times) * 1000:.0f} ms "
        f"(runs: {', '.join(f'{t * 1000:.0f}' for t in report_times)})"
    )
    ratio = statistics.median(report_times) / statistics.median(bare_times)
    print(f"peak memory of the measuring process: {peak_mb:.0f} MB  (target < 200 MB)")
    print(f"ratio report / bare = {ratio:.2f}  (target <= 1.20)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invitations", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        asyncio.run(measure(args.measure, args.repeat))
        return
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        path = Path(directory) / "report.db"
        started = time.perf_counter()
        answers = generate(path, args.invitations)
        print(
            f"generated {answers:,} answers for {args.invitations:,} invitations "
            f"in {time.perf_counter() - started:.0f} s"
        )
        subprocess.run(
            [sys.executable, __file__, "--measure", f"sqlite+aiosqlite:///{path}", "--repeat", str(args.repeat)],
            check=True,
        )


if __name__ == "__main__":
    main()
