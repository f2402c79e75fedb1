"""The morning digest as a leader reads it (issue 16, point 11): the complaints still waiting, dates labelled, ties
ranked equal, the weakest criteria named by their short labels.

Phường 8 on Tuesday 01/12/2026 at 07:40 (Hà Nội): two complaints still unanswered since 15/11 and 28/11 (only one
came in yesterday, and it was answered), an overdue dossier never apologised for and one given a new date, five
units below it of which two tie, and three criteria rated low in November. Read through ``sipasbot digest`` and in
the leader's Telegram chat (the emulator), from the scheduled job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import App
from bot.config import load_settings
from handlers.staff.complaints import Feedbacks
from scheduler.jobs import Jobs
from tests.conftest import Backend, Clock
from tests.emulators.telegram import TelegramEmulator
from tests.helpers import sample_dossier
from tests.telegram_service import TOKEN, running_service
from tests.test_reporting import all_items, respondent

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
MORNING = datetime(2026, 12, 1, 7, 40, tzinfo=HANOI)  # past the 07:30 digest time
SETTINGS = {"survey_tick_seconds": 3600, "telegram_chat_interval": 0.05}
EXPECTED = [
    # the complaints still waiting, whatever day they came in (yesterday's one was answered)
    "Phản ánh mới: 1 (đã trả lời 1, đã đóng 0)",
    "Phản ánh đang chờ xử lý (chưa trả lời, chưa đóng), mọi kỳ: 2 — lâu nhất 16 ngày (nhận 15/11)",
    # each date says what it is
    "Hồ sơ trễ hạn chưa giải quyết: 2",
    "P8-OPEN (hạn 20/11), P8-APOL (hạn 25/11 · hẹn lại 27/11)",
    "Hồ sơ trễ hạn chưa có phiếu xin lỗi, mọi kỳ (hạn trả đến hết 30/11/2026): 1",
    "P8-OPEN (hạn 20/11)",
    # equal figures share a place; the unit with no figure comes after, with no data rather than too little
    "1. Khu phố 1 — hài lòng 100,0% (n = 5) · đúng hạn 100,0% (5/5)",
    "2. Khu phố 2 — hài lòng 80,0% (n = 5) · đúng hạn 100,0% (5/5)",
    "2. Khu phố 3 — hài lòng 80,0% (n = 5) · đúng hạn 100,0% (5/5)",
    "4. Khu phố 4 — hài lòng 0,0% (n = 5) · đúng hạn 100,0% (5/5)",
    "5. Khu phố 5 — hài lòng chưa có dữ liệu (n = 0) · đúng hạn chưa có dữ liệu (0/0)",
    # the weakest criteria by the short label the form writes for each
    "Ba tiêu chí thấp nhất:",
    "• KQ1 Trả kết quả đúng hẹn: 0,0% (n = 5)",
    "• PA3 Báo kịp thời kết quả xử lý phản ánh: 40,0% (n = 5)",
    "• TC2 Biển hiệu, chỉ dẫn tại trụ sở: 80,0% (n = 5)",
]


def local(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=HANOI)


async def ward(app: App, clock: Callable[[datetime], None]) -> None:
    """The fixture's ward, built through the real handlers, each step at its own time (never in the future)."""
    services = app.services
    if not await app.units.exists("P8"):
        await app.units.add("P8", "Phường 8")
    for number in range(1, 6):
        await app.units.add(f"P8-K{number}", f"Khu phố {number}", parent="P8")
    clock(local(11, 20))
    below = {1: ["5"] * 5, 2: ["5"] * 4 + ["2"], 3: ["2"] + ["5"] * 4, 4: ["2"] * 5}
    for unit, levels in below.items():
        for n, level in enumerate(levels):
            await respondent(services, f"K{unit}-{n}", f"P8-K{unit}", "Hộ tịch", all_items(level), local(11, 5))
    for n in range(5):  # KQ1 never satisfied, PA3 three times in five not, TC2 once not
        low = {"KQ1": "1", "PA3": "2" if n < 3 else "4", "TC2": "3" if n == 0 else "4"}
        await respondent(services, f"P8-{n}", "P8", "Hộ tịch", all_items("4", **low), local(11, 10))
    await app.dossiers.upsert(sample_dossier(code="P8-OPEN", received_at=local(11, 3), due_at=local(11, 20, 17)))
    await app.dossiers.upsert(sample_dossier(code="P8-APOL", received_at=local(11, 10), due_at=local(11, 25, 17)))
    clock(local(11, 23, 10))  # the working day before the due date: in time
    async with services.uow() as uow:
        dossier = await uow.dossiers.get_by_code("P8-APOL")
        assert dossier is not None
        await app.apologies.issue(uow, dossier, "Chờ xác minh", date(2026, 11, 27), "Trần Thị Bình", services.clock())
        await uow.commit()
    complaints = {}
    for code, day in (("P8-0", 15), ("P8-1", 28), ("P8-2", 30)):
        clock(local(11, day, 10))
        async with services.uow() as uow:
            dossier = await uow.dossiers.get_by_code(code)
            assert dossier is not None
            made = await Feedbacks(services).record(
                uow, source="message", text="Chờ lâu quá", person_id=None, dossier=dossier,
                unit_id=dossier.unit_id, invitation_id=None, now=services.clock(),
            )  # fmt: skip
            await uow.commit()
        complaints[day] = made.id
    clock(local(11, 30, 15))
    async with services.uow() as uow:  # yesterday's complaint was answered the same day
        assert await uow.feedback.answer(complaints[30], "Đã xử lý, xin cảm ơn.", "Trần Thị Bình", services.clock())
        await uow.commit()
    clock(MORNING)


def assert_digest(text: str) -> None:
    lines = text.splitlines()
    assert [line for line in EXPECTED if line not in lines] == [], text
    weakest = lines[lines.index("Ba tiêu chí thấp nhất:") + 1 :][:3]
    assert not any("…" in line for line in weakest)


def test_sipasbot_digest_prints_the_backlog_labelled_dates_equal_ranks_and_short_labels(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    clock = Clock(MORNING.astimezone(UTC))

    async def build() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'sipasbot.db'}"
        app = App(load_settings(database_url=url), clock=clock)
        await app.start()
        try:
            await ward(app, lambda moment: setattr(clock, "now", moment.astimezone(UTC)))
        finally:
            await app.close()

    asyncio.run(build())
    status, out, err = cli("digest", "--unit", "P8", "--date", "2026-12-01")
    assert status == 0, err
    assert out.startswith("BẢN TIN NGÀY 01/12/2026 — Phường 8"), out
    assert_digest(out)


async def test_the_leader_reads_the_same_digest_in_the_chat(backend: Backend) -> None:
    clock = Clock(local(11, 1).astimezone(UTC))
    async with (
        TelegramEmulator(token=TOKEN, username="sipas_test_bot", per_chat=40.0, global_rate=200.0) as emu,
        running_service(backend.url, emu, clock=clock, **SETTINGS) as service,
    ):
        leader = emu.person(user_id=700, first_name="Chủ tịch")
        await leader.send_command("/join", await service.app.roles.invite("leader", "P8"))
        await leader.wait_for(lambda p: any("đã được cấp quyền lãnh đạo" in t for t in p.texts))
        await ward(service.app, lambda moment: setattr(clock, "now", moment.astimezone(UTC)))
        await Jobs(service.app.services, "test").leaders()
        await leader.wait_for(lambda p: any(t.startswith("BẢN TIN NGÀY 01/12/2026") for t in p.texts), timeout=20)
        await leader.wait_for(lambda p: any(m.photo for m in p.messages), timeout=20)  # the chart follows the text
        first = next(i for i, t in enumerate(leader.texts) if t.startswith("BẢN TIN NGÀY 01/12/2026"))
        assert_digest("\n".join(leader.texts[first:]))
