"""Working days: weekends, Vietnam's public holidays (2026 as DOMAIN.md §6 lists them), and the override file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from handlers.calendar import CalendarError, WorkCalendar

# DOMAIN.md §6: 2026: 1/1; 16–20/2 Tết; 26–27/4; 30/4; 1/5; 31/8–2/9; 24/11 Ngày Văn hóa Việt Nam
DAYS_OFF_2026 = [
    date(2026, 1, 1),
    *(date(2026, 2, d) for d in range(16, 21)),
    date(2026, 4, 26),
    date(2026, 4, 27),
    date(2026, 4, 30),
    date(2026, 5, 1),
    date(2026, 8, 31),
    date(2026, 9, 1),
    date(2026, 9, 2),
    date(2026, 11, 24),
]


def test_the_public_holidays_of_2026_are_those_the_government_announced() -> None:
    assert [d.day for d in WorkCalendar().days_off_in(2026)] == DAYS_OFF_2026
    names = {d.day: d.name for d in WorkCalendar().days_off_in(2026)}
    assert names[date(2026, 11, 24)] == "Ngày Văn hóa Việt Nam"
    assert "Tết" in names[date(2026, 2, 17)]


def test_weekends_and_holidays_are_not_working_days() -> None:
    calendar = WorkCalendar()
    assert calendar.is_working_day(date(2026, 11, 20))  # a Friday
    assert not calendar.is_working_day(date(2026, 11, 21))  # Saturday
    assert not calendar.is_working_day(date(2026, 11, 22))  # Sunday
    assert calendar.is_working_day(date(2026, 11, 23))  # Monday
    assert not calendar.is_working_day(date(2026, 11, 24))  # Ngày Văn hóa Việt Nam, a Tuesday
    day_off = calendar.day_off(date(2026, 11, 21))
    assert day_off is not None
    assert day_off.name == "Thứ Bảy"


def test_the_next_working_day_skips_a_weekend_and_a_holiday() -> None:
    calendar = WorkCalendar()
    assert calendar.next_working_day(date(2026, 11, 20)) == date(2026, 11, 23)  # Friday → Monday
    assert calendar.next_working_day(date(2026, 11, 23)) == date(2026, 11, 25)  # Monday → Wednesday (24/11 off)
    assert calendar.next_working_day(date(2026, 2, 13)) == date(2026, 2, 23)  # Friday before Tết → after it


def test_a_procedures_time_limit_counts_working_days_from_reception() -> None:
    calendar = WorkCalendar()
    assert calendar.add_working_days(date(2026, 11, 19), 3) == date(2026, 11, 25)  # Fri, Mon, (Tue off), Wed
    assert calendar.add_working_days(date(2026, 11, 19), 0) == date(2026, 11, 19)
    assert calendar.add_working_days(date(2026, 4, 24), 1) == date(2026, 4, 28)  # Fri → (26–27/4 off) → Tue


def test_the_override_file_adds_days_off_and_working_days(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        'days_off:\n  "2026-12-31": "Nghỉ theo Quyết định số 01/QĐ-UBND"\n'
        'working_days:\n  - "2026-12-26"   # thứ Bảy làm bù\n  - 2026-11-24\n',
        encoding="utf-8",
    )
    calendar = WorkCalendar.load(path)
    assert not calendar.is_working_day(date(2026, 12, 31))
    assert calendar.is_working_day(date(2026, 12, 26))  # a Saturday made a working day
    assert calendar.is_working_day(date(2026, 11, 24))  # a holiday moved by a later decision
    off = {d.day: d for d in calendar.days_off_in(2026)}
    assert off[date(2026, 12, 31)].added
    assert date(2026, 11, 24) not in off
    assert calendar.weekend_working_days_in(2026) == [date(2026, 12, 26)]
    assert calendar.next_working_day(date(2026, 12, 25)) == date(2026, 12, 26)


def test_no_override_file_is_fine(tmp_path: Path) -> None:
    assert WorkCalendar.load(tmp_path / "missing.yaml") == WorkCalendar()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("days_off: [1, 2]\n", "days_off is a mapping"),
        ('days_off:\n  "31/12/2026": "x"\n', "not a date"),
        ("holidays: []\n", "expected the keys days_off and working_days"),
        ('days_off:\n  "2026-12-31": x\nworking_days: ["2026-12-31"]\n', "both a day off and a working day"),
        ("days_off: {\n", "cannot read"),
    ],
)
def test_a_broken_override_file_is_refused_naming_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarError, match=message) as error:
        WorkCalendar.load(path)
    assert str(path) in str(error.value)
