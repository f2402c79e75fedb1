"""Working days: weekends, Vietnam's public holidays (2026 as docs/METHOD.md), and the override file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from handlers.calendar import CalendarError, WorkCalendar

# docs/METHOD.md, working days: 2026: 1/1; 16–20/2 Tết; 26–27/4; 30/4; 1/5; 31/8–2/9; 24/11 Ngày Văn hóa Việt Nam
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
    made_up = [(d.day, d.swapped_for, d.added) for d in calendar.make_up_days_in(2026)]
    assert made_up == [(date(2026, 8, 22), date(2026, 8, 31), False), (date(2026, 12, 26), None, True)]
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


# The government's swaps: a Friday or a Monday off, a Saturday worked in its place; the holidays library names
# the day off "Ngày nghỉ (thay cho ngày 26/04/2025)", and that Saturday is a working day.
MAKE_UP_SATURDAYS = [
    (date(2025, 4, 26), date(2025, 5, 2)),
    (date(2026, 8, 22), date(2026, 8, 31)),
]


@pytest.mark.parametrize(("saturday", "day_off"), MAKE_UP_SATURDAYS)
def test_a_make_up_saturday_is_a_working_day(saturday: date, day_off: date) -> None:
    calendar = WorkCalendar()
    assert saturday.weekday() == 5
    assert calendar.is_working_day(saturday)
    assert calendar.day_off(saturday) is None
    assert not calendar.is_working_day(day_off)
    assert [(d.day, d.swapped_for) for d in calendar.make_up_days_in(saturday.year)] == [(saturday, day_off)]


def test_make_up_saturdays_count_when_adding_and_subtracting_working_days() -> None:
    calendar = WorkCalendar()
    assert calendar.add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 26)  # Friday → the make-up Saturday
    assert calendar.add_working_days(date(2025, 4, 25), 2) == date(2025, 4, 28)
    assert calendar.next_working_day(date(2025, 4, 26)) == date(2025, 4, 28)
    assert calendar.subtract_working_days(date(2025, 4, 28), 1) == date(2025, 4, 26)
    assert calendar.previous_working_day(date(2025, 4, 28)) == date(2025, 4, 26)
    # 30/4, 1/5 and the swapped 2/5 off: Tuesday 29/4 → Monday 5/5
    assert calendar.add_working_days(date(2025, 4, 29), 1) == date(2025, 5, 5)
    assert calendar.add_working_days(date(2026, 8, 21), 1) == date(2026, 8, 22)
    assert calendar.add_working_days(date(2026, 8, 21), 2) == date(2026, 8, 24)
    assert calendar.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 3)  # 31/8, 1/9 and 2/9 off
    assert calendar.subtract_working_days(date(2026, 8, 24), 1) == date(2026, 8, 22)
    assert calendar.subtract_working_days(date(2026, 9, 3), 2) == date(2026, 8, 27)


def test_the_override_file_can_undo_a_make_up_saturday(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text('days_off:\n  "2026-08-22": "Không làm bù theo Quyết định số 02/QĐ-UBND"\n', encoding="utf-8")
    calendar = WorkCalendar.load(path)
    assert not calendar.is_working_day(date(2026, 8, 22))
    assert calendar.make_up_days_in(2026) == []


def test_a_swap_across_the_new_year_is_found_in_either_year() -> None:
    # 2018: Monday 31/12/2018 off, worked on Saturday 05/01/2019 (the library lists it under 2018)
    calendar = WorkCalendar()
    assert calendar.is_working_day(date(2019, 1, 5))
    assert not calendar.is_working_day(date(2018, 12, 31))
    swaps = [(d.day, d.swapped_for) for d in calendar.make_up_days_in(2019)]
    assert swaps == [(date(2019, 1, 5), date(2018, 12, 31)), (date(2019, 5, 4), date(2019, 4, 29))]
    assert calendar.make_up_days_in(2018) == []


def test_holiday_names_are_written_as_vietnamese_official_documents_write_them() -> None:
    for year in (2025, 2026, 2027):
        for day in WorkCalendar().days_off_in(year):
            assert "Nguyên Đán" not in day.name, day  # Nghị định 30/2020: "Tết Nguyên đán"
    names = {d.day: d.name for d in WorkCalendar().days_off_in(2027)}
    assert names[date(2027, 2, 6)] == "Tết Nguyên đán"
    # the library's "Ngày nghỉ (thay cho ngày 26/04/2025)" says which day is worked, and that it is worked
    names = {d.day: d.name for d in WorkCalendar().days_off_in(2025)}
    assert names[date(2025, 5, 2)] == "Ngày nghỉ hoán đổi (làm bù vào thứ Bảy 26/04/2025)"
