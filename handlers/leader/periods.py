"""The periods leaders report on: as typed in a chat or on the command line, as dates, as titles and labels.

A period is local calendar days, both ends included. The week runs Monday to Sunday; 6 months are
January–June, 9 months January–September, the year January–December; a report made while its period runs
covers it to the day it is made. Kept light: the command line's help reads the kinds without loading a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from handlers.errors import InvalidInput
from handlers.words import fold

if TYPE_CHECKING:
    from handlers.texts import Texts

KINDS = {"ngay": "day", "ngày": "day", "day": "day", "tuan": "week", "tuần": "week", "week": "week"}
KINDS |= {
    "thang": "month",
    "tháng": "month",
    "month": "month",
    "quy": "quarter",
    "quý": "quarter",
    "quarter": "quarter",
}
# 6 months, 9 months and the year, as the seeds report them ("quý I, 6 tháng, 9 tháng, năm")
KINDS |= {
    "6thang": "half_year",
    "6months": "half_year",
    "half_year": "half_year",
    "9thang": "nine_months",
    "9months": "nine_months",
    "nine_months": "nine_months",
    "nam": "year",
    "year": "year",
}
PERIOD_CHOICES = "ngay, tuan, thang, quy, 6thang, 9thang, nam"
# the periods that run from 1 January, by the month they end with
FROM_JANUARY = {"half_year": 6, "nine_months": 9, "year": 12}
# sent with the quarterly workbook after June, September and December (seed 004: "6 tháng, 9 tháng, năm")
YEAR_REPORTS = {6: "half_year_report", 9: "nine_months_report", 12: "year_report"}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


@dataclass(frozen=True)
class Period:
    """Local calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @classmethod
    def month_to_date(cls, today: date) -> Period:
        """From the first of ``today``'s month to ``today``."""
        return cls(today.replace(day=1), today)


def period_kind(text: str) -> str | None:
    """``"6 tháng"``, ``"6thang"``, ``"9 THÁNG"``, ``"năm"``, ``"quý"``… as a period kind; None when unknown."""
    folded = fold(text).replace(" ", "").replace("_", "")
    return KINDS.get(folded) or KINDS.get(fold(text)) or KINDS.get(text.strip().lower())


def quarter_of(day: date) -> Period:
    """The calendar quarter ``day`` falls in."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    next_start = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1)
    return Period(start, next_start - timedelta(days=1))


def month_of(day: date) -> Period:
    """The calendar month ``day`` falls in."""
    start = day.replace(day=1)
    next_start = (start + timedelta(days=32)).replace(day=1)
    return Period(start, next_start - timedelta(days=1))


def last_year(day: date) -> date:
    """The same day a year earlier (28/02 for 29/02)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def period_of(kind: str, day: date) -> Period:
    """The period of ``kind`` that holds ``day``, to ``day`` while it runs (a report made on ``day``)."""
    if kind == "day":
        return Period(day, day)
    if kind == "week":
        return Period(day - timedelta(days=day.weekday()), day)
    if kind == "month":
        return Period(day.replace(day=1), day)
    if kind == "quarter":
        return Period(quarter_of(day).start, day)
    last_month = FROM_JANUARY.get(kind)
    if last_month is None:
        raise InvalidInput.worded("error.unknown_period", period=kind)
    end = month_of(date(day.year, last_month, 1)).end
    return Period(date(day.year, 1, 1), min(day, end))


def compared(kind: str, today: date) -> tuple[Period, Period]:
    """The period a digest of ``kind`` covers on ``today``, and the one it is compared with.

    The day: yesterday against the day before. The week: the seven days to yesterday against the seven
    before. The month: the first of yesterday's month to yesterday, against the same days of the month
    before. The quarter: likewise from the first day of yesterday's quarter. 6 months, 9 months and the year:
    from 1 January of yesterday's year to yesterday (at most to 30 June, 30 September), against the same days
    of the year before.
    """
    yesterday = today - timedelta(days=1)
    if kind == "day":
        return Period(yesterday, yesterday), Period(yesterday - timedelta(days=1), yesterday - timedelta(days=1))
    if kind == "week":
        start = yesterday - timedelta(days=6)
        return Period(start, yesterday), Period(start - timedelta(days=7), start - timedelta(days=1))
    if kind in ("month", "quarter"):
        start = yesterday.replace(day=1) if kind == "month" else quarter_of(yesterday).start
        before_end = start - timedelta(days=1)
        before = before_end.replace(day=1) if kind == "month" else quarter_of(before_end).start
        end_before = min(before + timedelta(days=(yesterday - start).days), before_end)
        return Period(start, yesterday), Period(before, end_before)
    if kind in FROM_JANUARY:
        current = period_of(kind, yesterday)
        return current, Period(last_year(current.start), last_year(current.end))
    raise InvalidInput.worded("error.unknown_period", period=kind)


def period_title(kind: str, period: Period, texts: Texts, locale: str = "vi") -> str:
    """The workbook's title for a report of ``kind``: ``Báo cáo mức độ hài lòng 6 tháng đầu năm 2026``.

    6 months, 9 months and the year are named (to the day the report was made while they run); any other
    period by its dates.
    """
    if kind not in FROM_JANUARY:
        return texts(locale, "period.title.dates", start=f"{period.start:%d/%m/%Y}", end=f"{period.end:%d/%m/%Y}")
    title = texts(locale, f"period.title.{kind}", year=period.start.year)
    if period.end < month_of(date(period.start.year, FROM_JANUARY[kind], 1)).end:
        title += texts(locale, "period.title.to_date", end=f"{period.end:%d/%m/%Y}")
    return title


def report_title(kind: str, period: Period, texts: Texts, locale: str = "vi") -> str:
    """The title of a workbook sent to leaders: the month's, the quarter's, or that of 6 months, 9 months, the year."""
    if kind == "monthly_report":
        return texts(locale, "period.title.month", month=f"{period.start:%m/%Y}")
    if kind in YEAR_REPORTS.values():
        return period_title(kind.removesuffix("_report"), period, texts, locale)
    quarter = ROMAN[(period.start.month - 1) // 3 + 1]
    return texts(locale, "period.title.quarter", quarter=quarter, year=period.start.year)


def quarter_name(period: Period) -> str:
    """``2026-Q4``."""
    return f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"


def report_label(kind: str, period: Period) -> str:
    """How a kept workbook's period is named: 2026-11, 2026-Q4, 2026-6T, 2026-9T, 2026."""
    if kind == "monthly_report":
        return period.start.strftime("%Y-%m")
    suffix = {"half_year_report": "-6T", "nine_months_report": "-9T", "year_report": ""}
    if kind in suffix:
        return f"{period.start.year}{suffix[kind]}"
    return quarter_name(period)


def reports_due(today: date) -> list[tuple[str, Period, str]]:
    """The workbooks due on ``today``: (kind, period, label).

    Last month's, last quarter's, and after June, September and December the 6 months, 9 months or the year.
    """
    last_month = month_of(today.replace(day=1) - timedelta(days=1))
    last_quarter = quarter_of(quarter_of(today).start - timedelta(days=1))
    due = [("monthly_report", last_month, report_label("monthly_report", last_month))]
    due.append(("quarterly_report", last_quarter, report_label("quarterly_report", last_quarter)))
    yearly = YEAR_REPORTS.get(last_quarter.end.month)
    if yearly is not None:
        period = Period(date(last_quarter.end.year, 1, 1), last_quarter.end)
        due.append((yearly, period, report_label(yearly, period)))
    return due
