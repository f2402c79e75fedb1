"""Working days (docs/METHOD.md): Monday to Friday, except Vietnam's public holidays and the days a decision adds.

The public holidays come from the ``holidays`` library (lunar dates converted, the government's swapped
days included). A swap gives a weekday off and makes a weekend day a working day in its place; the library
names the day off after the day worked, "Ngày nghỉ (thay cho ngày 26/04/2025)", and that named day (here
Saturday 26/04/2025) is a working day (a make-up day, "ngày làm bù"). A small YAML file the administrator
edits adds days off or working days that a later decision announced::

    # holidays.yaml
    days_off:
      "2026-12-31": "Nghỉ theo Quyết định số …"
    working_days:
      - "2027-01-30"   # thứ Bảy làm bù

A day in ``working_days`` is a working day whatever the library or the weekend says; a day in ``days_off``
is a day off whatever the library says (a make-up day a later decision cancelled, say).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from itertools import islice
from pathlib import Path

import yaml

from handlers.texts import Texts
from survey_forms.yaml_text import load_shipped

WEEKEND = frozenset({5, 6})  # Saturday, Sunday


class CalendarError(Exception):
    """The override file cannot be used; the message names the file and the problem."""

    def __init__(self, message: str, key: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.key = key  # the wording of the command line: bot/texts cli.<key>
        self.values = values


@dataclass(frozen=True)
class DayOff:
    """A day off and why: its name in the reader's language, and whether the override file gave it."""

    day: date
    name: str
    added: bool = False


# The library's languages for a locale of ours; a swap and the spelling are read in its Vietnamese names
LIBRARY_LANGUAGES = {"vi": "vi", "en": "en_US"}
DATA_FILE = Path(__file__).with_name("calendar.yaml")  # the official spelling of the library's names


@cache
def _texts() -> Texts:
    return Texts.load()


def _say(locale: str, key: str, **values: object) -> str:
    """The calendar's wording of ``calendar.<key>`` in ``locale`` (handlers/texts/calendar.*.yaml)."""
    return _texts()(locale, f"calendar.{key}", **values)


@cache
def _spelling() -> tuple[tuple[str, str], ...]:
    """How Vietnamese official documents write a word of the library's names (handlers/calendar.yaml)."""
    raw = load_shipped(DATA_FILE.read_text(encoding="utf-8"))
    return tuple((str(wrong), str(right)) for wrong, right in raw["spelling"].items())


def _spelled(name: str) -> str:
    for wrong, right in _spelling():
        name = name.replace(wrong, right)
    return name


@lru_cache(maxsize=64)
def _library_holidays(year: int, language: str = "vi") -> dict[date, str]:
    import holidays  # with its calendars and dateutil: loaded by the first date looked up, not by every start

    return dict(holidays.country_holidays("VN", years=year, language=language).items())


@cache
def _swap_label() -> tuple[re.Pattern[str], str]:
    """How the library names a swapped day off in Vietnamese, and how it writes the day worked in that name.

    Both are the library's own (its label "Ngày nghỉ (thay cho ngày %s)" and the date format dd/mm/yyyy; other
    languages write the date otherwise, so the names are always read in Vietnamese).
    """
    from holidays.countries.vietnam import VietnamStaticHolidays

    before, _, after = str(VietnamStaticHolidays.substituted_label).partition("%s")
    pattern = re.compile(re.escape(before) + "(.+?)" + re.escape(after))
    return pattern, str(VietnamStaticHolidays.substituted_date_format)


def _swapped_with(name: str) -> date | None:
    """The day worked in place of a swapped day off, read from the library's name of that day off."""
    pattern, date_format = _swap_label()
    match = pattern.search(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match[1], date_format).date()
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _public_holidays(year: int, locale: str = "vi") -> dict[date, str]:
    """The year's public holidays, named as people read them (a swap says which day is worked instead).

    In Vietnamese as official documents write them; in another locale, the library's names in that language.
    """
    translated = _library_holidays(year, LIBRARY_LANGUAGES[locale]) if locale in LIBRARY_LANGUAGES else {}
    found = {}
    for day, name in _library_holidays(year).items():
        worked = _swapped_with(name)
        if worked is not None:
            key = f"swapped.{worked.weekday()}" if worked.weekday() in WEEKEND else "swapped"
            found[day] = _say(locale, key, day=f"{worked:%d/%m/%Y}")
        else:
            found[day] = _spelled(name) if locale == "vi" else translated.get(day, _spelled(name))
    return found


@lru_cache(maxsize=64)
def _make_up_days(year: int) -> dict[date, date]:
    """The weekend days of ``year`` worked in place of a day off (the day off each was swapped for)."""
    found: dict[date, date] = {}
    for near in (year - 1, year, year + 1):  # a swap may cross the new year (31/12/2018 off for 05/01/2019)
        for day_off, name in _library_holidays(near).items():
            worked = _swapped_with(name)
            if worked is not None and worked.year == year and worked.weekday() in WEEKEND:
                found[worked] = day_off
    return found


def _day(value: object, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise CalendarError(
            f"{where}: not a date (YYYY-MM-DD): {value!r}", "calendar.not_a_date", where=where, value=value
        ) from None


@dataclass(frozen=True)
class MakeUpDay:
    """A weekend day that is a working day: swapped for a day off (``swapped_for``), or named by the file."""

    day: date
    swapped_for: date | None = None
    added: bool = False


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days."""

    days_off: dict[date, str] = field(default_factory=dict)  # from the override file; "": no name given
    working_days: frozenset[date] = frozenset()  # from the override file

    @classmethod
    def load(cls, path: Path | None) -> WorkCalendar:
        """The calendar with the overrides of ``path`` (none when ``path`` is None or does not exist)."""
        if path is None or not path.exists():
            return cls()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            reason = str(exc).splitlines()[0]
            raise CalendarError(
                f"{path}: cannot read: {reason}", "calendar.unreadable", path=path, reason=reason
            ) from None
        if not isinstance(raw, dict) or set(raw) - {"days_off", "working_days"}:
            raise CalendarError(f"{path}: expected the keys days_off and working_days", "calendar.keys", path=path)
        off_raw = raw.get("days_off") or {}
        work_raw = raw.get("working_days") or []
        if not isinstance(off_raw, dict) or not isinstance(work_raw, list):
            raise CalendarError(
                f"{path}: days_off is a mapping of dates to names, working_days a list of dates",
                "calendar.shape",
                path=path,
            )
        days_off = {_day(k, f"{path}: days_off"): str(v or "") for k, v in off_raw.items()}  # "": no name given
        working = frozenset(_day(v, f"{path}: working_days") for v in work_raw)
        both = sorted(set(days_off) & working)
        if both:
            day = both[0].isoformat()
            raise CalendarError(
                f"{path}: {day} is both a day off and a working day", "calendar.both", path=path, day=day
            )
        return cls(days_off, working)

    def day_off(self, day: date, locale: str = "vi") -> DayOff | None:
        """Why ``day`` is not a working day, named in ``locale`` (a weekend day: "Thứ Bảy"); None if it is one."""
        if day in self.working_days:
            return None
        if day in self.days_off:
            return DayOff(day, self._added_name(day, locale), added=True)
        public = _public_holidays(day.year, locale).get(day)
        if public is not None:
            return DayOff(day, public)
        if day.weekday() in WEEKEND and day not in _make_up_days(day.year):
            return DayOff(day, _say(locale, f"weekend.{day.weekday()}"))
        return None

    def _added_name(self, day: date, locale: str) -> str:
        """The override file's name of a day off it adds, as written there ("Ngày nghỉ" when it gives none)."""
        return self.days_off[day] or _say(locale, "day_off")

    def is_working_day(self, day: date) -> bool:
        """Monday–Friday and not a day off, or a working day the override file names."""
        return self.day_off(day) is None

    def working_days_after(self, day: date) -> Iterator[date]:
        """The working days after ``day``, in order, without end."""
        current = day
        while True:
            current += timedelta(days=1)
            if self.is_working_day(current):
                yield current

    def working_days_before(self, day: date) -> Iterator[date]:
        """The working days before ``day``, latest first, without end."""
        current = day
        while True:
            current -= timedelta(days=1)
            if self.is_working_day(current):
                yield current

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day``."""
        return next(self.working_days_after(day))

    def previous_working_day(self, day: date) -> date:
        """The last working day before ``day``."""
        return next(self.working_days_before(day))

    def add_working_days(self, day: date, count: int) -> date:
        """The day ``count`` working days after ``day`` (a procedure's time limit counted from reception)."""
        return day if count <= 0 else next(islice(self.working_days_after(day), count - 1, None))

    def subtract_working_days(self, day: date, count: int) -> date:
        """The day ``count`` working days before ``day`` (the last day an apology is in time, say)."""
        return day if count <= 0 else next(islice(self.working_days_before(day), count - 1, None))

    def days_off_in(self, year: int, locale: str = "vi") -> list[DayOff]:
        """The year's public holidays and added days off (weekends left out), in order, named in ``locale``."""
        found = {d: DayOff(d, n) for d, n in _public_holidays(year, locale).items()}
        found.update({d: DayOff(d, self._added_name(d, locale), added=True) for d in self.days_off if d.year == year})
        return [found[d] for d in sorted(found) if d not in self.working_days]

    def make_up_days_in(self, year: int) -> list[MakeUpDay]:
        """The weekend days of ``year`` that are working days: the government's swaps, then the override file's."""
        found = {d: MakeUpDay(d, off) for d, off in _make_up_days(year).items() if d not in self.days_off}
        found.update(
            {d: MakeUpDay(d, added=True) for d in self.working_days if d.year == year and d.weekday() in WEEKEND}
        )
        return [found[d] for d in sorted(found)]
