"""`sipasbot demo` in-process, on a clock of our choosing: its report holds the sample dossier on any day."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.terminal import run_demo
from handlers.leader.reporting import Period

ANSWERS = "5\n" * 19 + "0\n" * 14


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 30, 17, 30, tzinfo=UTC),  # 00:30 on 01/12 in Hà Nội: a first of the month, quiet hours
        datetime(2026, 12, 15, 3, 0, tzinfo=UTC),  # 10:00 in the middle of a month
    ],
)
async def test_the_demo_report_counts_the_sample_dossier_on_any_day(tmp_path: Path, now: datetime) -> None:
    app = App(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"), clock=lambda: now)
    await app.start()
    try:
        out = io.StringIO()
        await run_demo(app, io.StringIO(ANSWERS), out)
        assert "Trân trọng cảm ơn Ông/Bà" in out.getvalue()
        today = app.services.policy.local_date(now)
        report = await app.reporter.satisfaction("DEMO", Period.month_to_date(today))
    finally:
        await app.close()
    assert report["dossiers"]["received"] == 1, json.dumps(report["dossiers"])
    assert report["dossiers"]["resolved"] == 1
    assert report["dossiers"]["on_time"] == 1
    assert report["surveys"]["completed"] == 1
    assert report["criteria"][0]["counts"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
