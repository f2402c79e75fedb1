"""What leaders get: the daily digest (text and chart), ``/baocao`` on demand, monthly and quarterly workbooks.

Every figure comes from the one reporting module (``handlers.leader.reporting.Reporter``) or from its SQL
aggregates (``uow.digests``), so chat, JSON, Excel and the public page never disagree. Each periodic
send is claimed in ``job_runs`` by (job, period, unit) and each message has a dedupe key, so a restart,
a missed hour or a second instance never sends a leader anything twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from handlers.citizen.comments import SurveyComments
from handlers.citizen.survey import fold
from handlers.collation import sorted_vietnamese
from handlers.context import Services
from handlers.errors import InvalidInput, NotFound
from handlers.leader.chart import ChartLabels, DayPoint, render_chart
from handlers.leader.digest_lines import backlog_line, dated, ranked, weakest_label
from handlers.leader.periods import period_kind
from handlers.leader.reporting import Period, Reporter, scope_text
from handlers.leader.targets import Goal, TargetBook, TargetHandler, met, percent_text, rate_tenths, tenths
from handlers.leader.workbook_process import WorkbookBuilder
from handlers.messages import Reply
from handlers.names import channel_lines
from handlers.privacy import redact
from handlers.staff.officers import LEADER_ROLES
from storage.uow import UnitOfWork
from storage.values import Chat, ReceiverAnswerCount, ReceiverCounts, StoredFile, Unit
from survey_forms.schema import Form
from survey_forms.scoring import OverallScore, half_up, percent_of, score_form

if TYPE_CHECKING:
    from handlers.leader.workbook import ReceiverRow

log = logging.getLogger(__name__)

LIST_LIMIT = 10
CHART_DAYS = 30
ROLLING_DAYS = 7
SMALL = 5  # fewer answers (or dossiers) than this: "chưa đủ dữ liệu"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERIOD_TITLES = {"half_year": "6 tháng đầu năm", "nine_months": "9 tháng đầu năm", "year": "năm"}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
COMPLAINTS_TARGET = 100.0  # every complaint handled (seeds 000, 002; docs/METHOD.md, targets)
# sent with the quarterly workbook after June, September and December (seed 004: "6 tháng, 9 tháng, năm")
YEAR_REPORTS = {6: "half_year_report", 9: "nine_months_report", 12: "year_report"}
STATE_WORDS = {
    "received": "đang xử lý",
    "supplement_requested": "chờ bổ sung",
    "result_ready": "đã xử lý xong",
    "returned": "đã trả kết quả",
    "cancelled": "đã dừng",
}


@dataclass(frozen=True)
class Targets:
    """A unit's targets, in percent (docs/METHOD.md, targets: defaults 95% satisfaction, 95% on time)."""

    satisfaction: float = 95.0
    on_time: float = 95.0


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


CHILDREN_WORDS = ("gom don vi truc thuoc", "gom truc thuoc", "truc thuoc", "children")  # folded, longest first


def children_asked(args: str) -> tuple[str, bool]:
    """``"tháng trực thuộc"`` → (``"tháng"``, True): the units below are included only when asked for."""
    folded = fold(args).strip()
    for words in CHILDREN_WORDS:
        if folded == words or folded.endswith(" " + words):
            return " ".join(args.split()[: -len(words.split())]), True
    return args, False


def _last_year(day: date) -> date:
    """The same day a year earlier (28/02 for 29/02)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def period_of(kind: str, day: date) -> Period:
    """The period of ``kind`` that holds ``day``, to ``day`` while it runs (a report made on ``day``).

    The week runs Monday to Sunday; 6 months are January–June, 9 months January–September, the year
    January–December.
    """
    if kind == "day":
        return Period(day, day)
    if kind == "week":
        return Period(day - timedelta(days=day.weekday()), day)
    if kind == "month":
        return Period(day.replace(day=1), day)
    if kind == "quarter":
        return Period(quarter_of(day).start, day)
    last_month = {"half_year": 6, "nine_months": 9, "year": 12}.get(kind)
    if last_month is None:
        raise InvalidInput.worded("error.unknown_period", period=kind)
    end = month_of(date(day.year, last_month, 1)).end
    return Period(date(day.year, 1, 1), min(day, end))


def period_title(kind: str, period: Period) -> str:
    """The workbook's title for a report of ``kind``: ``Báo cáo mức độ hài lòng 6 tháng đầu năm 2026``."""
    if kind not in PERIOD_TITLES:
        return f"Báo cáo mức độ hài lòng từ {period.start:%d/%m/%Y} đến {period.end:%d/%m/%Y}"
    title = f"Báo cáo mức độ hài lòng {PERIOD_TITLES[kind]} {period.start.year}"
    last_month = {"half_year": 6, "nine_months": 9, "year": 12}[kind]
    if period.end < month_of(date(period.start.year, last_month, 1)).end:
        title += f" (đến {period.end:%d/%m/%Y})"
    return title


def quarter_name(period: Period) -> str:
    """``2026-Q4``."""
    return f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"


def percent(value: float | None, n: int, none: str = "chưa đủ dữ liệu") -> str:
    """A rate as people read it (91,9%), or "chưa đủ dữ liệu" when it rests on fewer than five."""
    if value is None or n < SMALL:
        return none
    return f"{value:.1f}".replace(".", ",") + "%"


def rate(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, rounded once (None when there is nothing to divide)."""
    return percent_of(part, whole)


def count_rate(value: float | None, none: str = "chưa đủ dữ liệu") -> str:
    """A rate over counted dossiers (a census, never suppressed): 66,7%, or ``none`` when nothing was counted."""
    if value is None:
        return none
    return f"{value:.1f}".replace(".", ",") + "%"


@dataclass(frozen=True)
class Section:
    """The figures of one period of a digest, from the one report."""

    period: Period
    report: dict[str, Any]

    @property
    def satisfaction(self) -> tuple[float | None, int]:
        """The overall index (None when suppressed) and its n."""
        overall = self.report["satisfaction"]
        return (None if overall["suppressed"] else overall["index"]), int(overall["n"])

    @property
    def on_time(self) -> tuple[float | None, int]:
        """The on-time rate and the dossiers it rests on."""
        dossiers = self.report["dossiers"]
        return dossiers["on_time_rate"], int(dossiers["resolved"])


@dataclass(frozen=True)
class Digest:
    """A digest as built: its text, its chart, and the figures behind them (for tests and the CLI)."""

    unit: Unit
    kind: str
    day: date
    text: str
    chart: bytes
    current: Section
    previous: Section


class Digests:
    """Builds and sends digests."""

    def __init__(self, services: Services, targets: Targets | None = None) -> None:
        self.services = services
        self.reporter = Reporter(services)
        self.defaults = targets or Targets()
        self.goals = TargetHandler(services, Goal(self.defaults.satisfaction, self.defaults.on_time))

    def targets(self, unit: Unit) -> Targets:
        """The unit's targets, else the configured ones."""
        return Targets(
            unit.target_satisfaction if unit.target_satisfaction is not None else self.defaults.satisfaction,
            unit.target_on_time if unit.target_on_time is not None else self.defaults.on_time,
        )

    @staticmethod
    def periods(kind: str, today: date) -> tuple[Period, Period]:
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
        if kind == "month":
            start = yesterday.replace(day=1)
            before = (start - timedelta(days=1)).replace(day=1)
            length = (yesterday - start).days
            end_before = min(before + timedelta(days=length), start - timedelta(days=1))
            return Period(start, yesterday), Period(before, end_before)
        if kind == "quarter":
            start = quarter_of(yesterday).start
            before = quarter_of(start - timedelta(days=1)).start
            length = (yesterday - start).days
            end_before = min(before + timedelta(days=length), start - timedelta(days=1))
            return Period(start, yesterday), Period(before, end_before)
        if kind in ("half_year", "nine_months", "year"):
            current = period_of(kind, yesterday)
            return current, Period(_last_year(current.start), _last_year(current.end))
        raise InvalidInput.worded("error.unknown_period", period=kind)

    async def _section(
        self,
        unit: Unit,
        unit_ids: list[int],
        period: Period,
        children: bool,
        breakdowns: bool = False,
        uow: UnitOfWork | None = None,
    ) -> Section:
        report = await self.reporter.of_unit(
            unit, unit_ids, period, include_children=children, breakdowns=breakdowns, uow=uow
        )
        return Section(period, report)

    async def build(
        self,
        unit_code: str,
        today: date,
        kind: str = "day",
        locale: str = "vi",
        *,
        with_chart: bool = True,
        include_children: bool = False,
        chart_format: str = "png",
    ) -> Digest:
        """The digest of ``unit_code`` on ``today``: the day (and the month to date), or another period.

        Its figures cover the unit alone unless ``include_children`` (the same default as every report);
        the units below it are ranked apart either way.
        """
        services, t = self.services, self.services.texts
        # every figure of the digest read on one read-only unit of work: dozens of small reports, where a
        # connection each would cost more round trips than their queries
        async with services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(unit_code)
            if unit is None:
                raise NotFound.worded("error.no_unit", unit=unit_code)
            children = await uow.units.children(unit.id)
            unit_ids = await uow.units.subtree_ids(unit.id) if include_children else [unit.id]
            has_children = include_children
            current_period, previous_period = self.periods(kind, today)
            current = await self._section(unit, unit_ids, current_period, has_children, kind != "day", uow)
            previous = await self._section(unit, unit_ids, previous_period, has_children, uow=uow)
            targets = self.targets(unit)
            none = t(locale, "report.insufficient")
            lines = [t(locale, f"digest.title.{kind}", unit=unit.name, day=f"{today:%d/%m/%Y}")]
            lines.append(scope_text(current.report, services, locale))
            lines += self._period_lines(locale, f"digest.period.{kind}", current, previous, targets, none)
            if kind == "day":  # the morning digest also gives the month so far
                month, month_before = self.periods("month", today)
                month_now = await self._section(unit, unit_ids, month, has_children, True, uow)
                month_then = await self._section(unit, unit_ids, month_before, has_children, uow=uow)
                lines += self._period_lines(locale, "digest.period.month", month_now, month_then, targets, none)
                weakest_from = month_now
            else:
                weakest_from = current
            book = await self.goals.book(unit, uow)
            lines += channel_lines(weakest_from.report, locale, services.texts)  # with the period's survey figures
            lines += self._seed_lines(locale, weakest_from, book, none)
            lines += self._weakest(locale, weakest_from, none)
            day_start = services.policy.day_start
            as_of = day_start(today)
            overdue_n, overdue = await uow.digests.overdue(unit_ids, as_of, LIST_LIMIT)
            late_n, late = await uow.digests.late_without_apology(unit_ids, as_of, LIST_LIMIT)
            window = day_start(current_period.start), day_start(current_period.end + timedelta(days=1))
            complaints_n, complaints = await uow.digests.feedback_between(unit_ids, *window, 5)
            handled = await uow.feedback.counts(unit_ids, *window)
            comments_n, comments = await uow.survey_comments.between(
                unit_ids, current_period.start, current_period.end, LIST_LIMIT
            )
            backlog = await uow.leader_figures.complaint_backlog(unit_ids, as_of)
            new_dues = await uow.leader_figures.new_due_dates(unit_ids, [r.code for r in overdue])
        lines += self._dossier_list(locale, "digest.overdue", overdue_n, overdue, today, new_dues)
        lines += self._dossier_list(
            locale, "digest.late_running", late_n, late, today, day=f"{today - timedelta(days=1):%d/%m/%Y}"
        )
        lines.append("")
        lines.append(
            t(
                locale,
                "digest.complaints",
                count=complaints_n,
                answered=handled.get("answered", 0),
                closed=handled.get("closed", 0),
            )
        )
        lines += self._complaints_handled(locale, complaints_n, handled)
        lines.append(backlog_line(services, locale, backlog, today))
        for line in complaints:
            text = redact(line.text, names=[line.person_name]) if line.text else "—"
            short = text if len(text) <= 160 else text[:157].rsplit(" ", 1)[0] + "…"
            lines.append(f"• #{line.id} ({line.dossier_code or '—'}): “{short}”")
        # survey comments: unlinked (no code, name or time), personal data masked when they were kept
        lines += ["", t(locale, "digest.survey_comments", count=comments_n)]
        lines += [f"• “{text if len(text) <= 300 else text[:297] + '…'}”" for text in comments]
        if comments_n > len(comments):
            lines.append(t(locale, "digest.survey_comments_more", count=comments_n - len(comments)))
        if children:
            lines += await self._children(locale, children, weakest_from.period, none, include_children)
        lines += ["", t(locale, "report.method")]
        chart = await self.chart(unit, unit_ids, today, targets, locale, chart_format) if with_chart else b""
        return Digest(unit, kind, today, "\n".join(lines), chart, current, previous)

    def _period_lines(
        self, locale: str, key: str, now: Section, before: Section, targets: Targets, none: str
    ) -> list[str]:
        t = self.services.texts
        period = now.period
        label = (
            f"{period.start:%d/%m/%Y}" if period.start == period.end else f"{period.start:%d/%m}–{period.end:%d/%m/%Y}"
        )
        dossiers, surveys = now.report["dossiers"], now.report["surveys"]
        satisfaction, n = now.satisfaction
        satisfaction_before, n_before = before.satisfaction
        on_time, resolved = now.on_time
        on_time_before, _ = before.on_time
        return [
            "",
            t(locale, key, period=label),
            t(
                locale,
                "digest.dossiers",
                received=dossiers["received"],
                resolved=resolved,
                on_time=dossiers["on_time"],
                rate=count_rate(on_time, self._none(locale, 0)),
                before=count_rate(on_time_before, self._none(locale, 0)),
                target=percent(targets.on_time, SMALL),
                verdict=self._verdict(locale, on_time, targets.on_time, 0),
            ),
            t(locale, "digest.late_period", count=dossiers["late_without_apology"]),
            t(
                locale,
                "digest.apologies",
                apologies=dossiers["apologies"],
                late=dossiers.get("apologies_late", 0),
                error=dossiers.get("apologies_error", 0),
            ),
            t(
                locale,
                "digest.satisfaction",
                completed=surveys["completed"],
                offered=surveys["offered"],
                index=percent(satisfaction, n, self._none(locale, n)),
                n=n,
                before=percent(satisfaction_before, n_before, self._none(locale, n_before)),
                target=percent(targets.satisfaction, SMALL),
                verdict=self._verdict(locale, satisfaction, targets.satisfaction, n),
            ),
            t(
                locale,
                "digest.surveys",
                offered=surveys["offered"],
                completed=surveys["completed"],
                rate=count_rate(surveys["response_rate"], self._none(locale, 0)),
                respondents=surveys.get("respondents", 0),
            ),
        ]

    def _seed_lines(self, locale: str, section: Section, book: TargetBook, none: str) -> list[str]:
        """Online dossiers, repeated supplements, and each field's figures against its targets (docs/METHOD.md).

        On-time rates are counts (never suppressed); satisfaction under n = 5 is.
        """
        t = self.services.texts
        report, period = section.report, section.period
        dossiers = report["dossiers"]
        lines = [
            t(
                locale,
                "digest.received_online",
                online=dossiers["received_online"],
                received=dossiers["received"],
                rate=percent_text(
                    rate_tenths(dossiers["received_online"], dossiers["received"]), self._none(locale, 0)
                ),
            ),
            t(locale, "digest.supplement_repeated", count=dossiers["supplement_repeated"]),
        ]
        on_time = {f["field"]: f for f in report.get("on_time_by_field", [])}
        satisfaction = {f["field"]: f for f in report["by_field"]}
        if not on_time and not satisfaction:
            return lines
        lines += ["", t(locale, "digest.fields", period=f"{period.start:%d/%m}–{period.end:%d/%m/%Y}")]
        for name in sorted_vietnamese(on_time.keys() | satisfaction.keys()):
            goal = book.for_field(name)
            counts = on_time.get(name)
            if counts is None or not counts["resolved"]:
                on_time_text = t(locale, "digest.field_on_time_none", target=percent_text(goal.on_time, none))
            else:
                value = rate_tenths(counts["on_time"], counts["resolved"])
                on_time_text = t(
                    locale,
                    "digest.field_on_time",
                    rate=percent_text(value, none),
                    on_time=counts["on_time"],
                    resolved=counts["resolved"],
                    target=percent_text(goal.on_time, none),
                    verdict=self._judged(locale, met(value, goal.on_time)),
                )
            figure = satisfaction.get(name, {"index": None, "n": 0, "suppressed": True})
            index = None if figure["suppressed"] or figure["n"] < SMALL else tenths(figure["index"])
            lines.append(
                t(
                    locale,
                    "digest.field",
                    field=name,
                    on_time=on_time_text,
                    index=percent_text(index, self._none(locale, figure["n"])),
                    n=figure["n"],
                    target=percent_text(goal.satisfaction, none),
                    verdict=self._judged(locale, met(index, goal.satisfaction), figure["n"]),
                )
            )
        return lines

    def _complaints_handled(self, locale: str, received: int, by_status: dict[str, int]) -> list[str]:
        """Complaints received in the period that stand answered or closed, against the 100% the seeds ask."""
        if not received:
            return []
        handled = by_status.get("answered", 0) + by_status.get("closed", 0)
        value = rate_tenths(handled, received)
        none = self.services.texts(locale, "report.insufficient")
        return [
            self.services.texts(
                locale,
                "digest.complaints_handled",
                rate=percent_text(value, none),
                handled=handled,
                received=received,
                target=percent_text(COMPLAINTS_TARGET, none),
                verdict=self._judged(locale, met(value, COMPLAINTS_TARGET)),
            )
        ]

    def _none(self, locale: str, n: int) -> str:
        """What stands for a figure not shown: "chưa có dữ liệu" when nothing was counted, else "chưa đủ dữ liệu"."""
        return self.services.texts(locale, "report.no_data" if n == 0 else "report.insufficient")

    def _judged(self, locale: str, verdict: bool | None, n: int = 1) -> str:
        t = self.services.texts
        if verdict is None:
            return self._none(locale, n)
        return t(locale, "digest.met" if verdict else "digest.not_met")

    def _verdict(self, locale: str, value: float | None, target: float, n: int) -> str:
        """The figure as printed (rounded once by the report) against the target; None: nothing to judge."""
        t = self.services.texts
        if value is None:
            return self._none(locale, n)
        return t(locale, "digest.met" if value >= target else "digest.not_met")

    def _weakest(self, locale: str, section: Section, none: str) -> list[str]:
        t = self.services.texts
        form = self.services.catalog.get(section.report["form"])
        order = {q.code: number for number, q in enumerate(form.questions)}
        shown = [c for c in section.report["criteria"] if not c["suppressed"] and c["index"] is not None]
        weakest = sorted(shown, key=lambda c: (c["index"], order.get(c["code"], len(order)), c["code"]))[:3]
        lines = ["", t(locale, "digest.weakest")]
        if not weakest:
            answered = max((int(c["n"]) for c in section.report["criteria"]), default=0)
            return [*lines, f"• {self._none(locale, answered)}"]
        for c in weakest:
            label = weakest_label(form, c["code"], locale)
            lines.append(f"• {c['code']} {label}: {percent(c['index'], c['n'], none)} (n = {c['n']})")
        return lines

    def _dossier_list(
        self,
        locale: str,
        key: str,
        total: int,
        rows: Sequence[Any],
        today: date,
        new_dues: dict[str, datetime] | None = None,
        **values: Any,
    ) -> list[str]:
        """A list of dossiers, each with its dates labelled: "P8-1 (hạn 10/11 · hẹn lại 14/11)"."""
        t = self.services.texts
        lines = ["", t(locale, key, count=total, **values)]
        new_dues = new_dues or {}
        shown = ", ".join(
            f"{r.code} ({dated(self.services, locale, today, r.due_at, new_dues.get(r.code))})" for r in rows
        )
        if shown:
            lines.append(shown + (t(locale, "digest.and_more", count=total - len(rows)) if total > len(rows) else ""))
        return lines

    async def _children(
        self, locale: str, children: list[Unit], period: Period, none: str, include_children: bool
    ) -> list[str]:
        t = self.services.texts
        async with self.services.uow(read_only=True) as uow:
            subtrees = [await uow.units.subtree_ids(child.id) if include_children else [child.id] for child in children]
        sections = await asyncio.gather(
            *(
                self._section(child, ids, period, include_children)
                for child, ids in zip(children, subtrees, strict=True)
            )
        )
        places = ranked(
            list(zip(children, sections, strict=True)),
            figure=lambda pair: pair[1].satisfaction[0],
            name=lambda pair: pair[0].name,
        )
        lines = ["", t(locale, "digest.children", period=f"{period.start:%d/%m}–{period.end:%d/%m/%Y}")]
        for place, (child, section) in places:
            satisfaction, n = section.satisfaction
            on_time, resolved = section.on_time
            lines.append(
                t(
                    locale,
                    "digest.child",
                    place=place,
                    unit=child.name,
                    index=percent(satisfaction, n, self._none(locale, n)),
                    n=n,
                    rate=count_rate(on_time, self._none(locale, 0)),
                    on_time=section.report["dossiers"]["on_time"],
                    resolved=resolved,
                )
            )
        return lines

    async def chart(
        self, unit: Unit, unit_ids: list[int], today: date, targets: Targets, locale: str, image_format: str = "png"
    ) -> bytes:
        """The last 30 days to yesterday, each day the rolling 7 days that end on it (a PNG, or ``image_format``)."""
        services, policy = self.services, self.services.policy
        first = today - timedelta(days=CHART_DAYS)
        window_start = first - timedelta(days=ROLLING_DAYS - 1)
        start, end = policy.day_start(window_start), policy.day_start(today)
        form = services.catalog.get(unit.form_id or policy.default_form)
        async with services.uow(read_only=True) as uow:
            answers = await uow.digests.daily_answers(unit_ids, start, end, form.id, policy.timezone)
            resolved = await uow.digests.daily_resolved(unit_ids, start, end, policy.timezone)
        by_day: dict[date, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        for row in answers:
            if row.value is not None:
                by_day[row.day][row.question_code][row.value] += row.count
        done = {r.day: (r.resolved, r.on_time) for r in resolved}
        points = []
        for offset in range(CHART_DAYS):
            day = first + timedelta(days=offset)
            window = [day - timedelta(days=back) for back in range(ROLLING_DAYS)]
            counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for d in window:
                for code, values in by_day.get(d, {}).items():
                    for value, n in values.items():
                        counts[code][value] += n
            overall = score_form(form, counts).overall
            total = sum(done.get(d, (0, 0))[0] for d in window)
            ok = sum(done.get(d, (0, 0))[1] for d in window)
            points.append(
                DayPoint(
                    day,
                    None if overall.suppressed else overall.index,
                    rate(ok, total),
                )
            )
        t = services.texts
        counted = bool(by_day) or any(n for n, _ in done.values())
        labels = ChartLabels(
            title=t(locale, "chart.title", unit=unit.name, days=CHART_DAYS),
            satisfaction=t(locale, "chart.satisfaction"),
            on_time=t(locale, "chart.on_time"),
            target_satisfaction=t(locale, "chart.target_satisfaction", target=percent(targets.satisfaction, SMALL)),
            target_on_time=t(locale, "chart.target_on_time", target=percent(targets.on_time, SMALL)),
            # nothing at all in the window ("chưa có dữ liệu"), or only too few answers to show ("chưa đủ dữ liệu")
            no_data=t(locale, "report.insufficient" if counted else "report.no_data"),
        )
        return await asyncio.to_thread(
            render_chart, points, labels, targets.satisfaction, targets.on_time, image_format
        )

    # --- sending

    async def leaders(self, uow: UnitOfWork, unit_id: int) -> list[Chat]:
        """The reachable chats of the unit's own leaders (a leader of the unit above gets that unit's digest)."""
        return list({s.chat.id: s.chat for s in await uow.roles.chats([unit_id], LEADER_ROLES)}.values())

    async def queue(self, digest: Digest, now: datetime, *, repeat: bool = False) -> int:
        """Queue the digest (text, then chart) to each of the unit's leaders; how many were sent it.

        A leader gets one digest per unit and day, whoever asks how often (the dedupe keys say so);
        ``repeat`` is for ``/baocao``, which a leader may ask for again.
        """
        services = self.services
        period = f"{digest.kind}:{digest.day.isoformat()}"
        name = f"ban-tin-{digest.unit.code}-{digest.day:%Y%m%d}.png"
        async with services.uow() as uow:
            stored = await self.keep(uow, "digest_chart", digest.unit.id, period, name, "image/png", digest.chart, now)
            sent = 0
            for chat in await self.leaders(uow, digest.unit.id):
                for part, reply in enumerate(self.replies(digest.text, stored, chat.locale)):
                    key = None if repeat else f"digest:{period}:{digest.unit.code}:{chat.id}:{part}"
                    queued = await uow.outbox.to_chat(chat, reply.to_payload(), now, dedupe_key=key)
                    sent += int(queued and part == 0)
            if digest.kind == "day" and not repeat:
                # the day's survey comments still waiting go to the one-stop-shop leads (the leaders read them above)
                await SurveyComments(services).release_leftovers(uow, digest.unit.id, digest.current.period.end, now)
            await uow.commit()
        return sent

    def replies(self, text: str, stored: StoredFile, locale: str) -> list[Reply]:
        """A digest as messages: its text (cut where a channel needs it) and its chart."""
        return [
            Reply(text, heading=True),
            self.file_reply(stored, self.services.texts(locale, "digest.chart_caption"), locale),
        ]

    def file_reply(self, stored: StoredFile, caption: str, locale: str) -> Reply:
        """A kept file as a message of its own (sent as a file, or as its link where files cannot go)."""
        url = f"{self.services.policy.public_url.rstrip('/')}/tep/{stored.token}/{stored.name}"
        attachment = {
            "kind": "file",
            "file_id": stored.id,
            "filename": stored.name,
            "media_type": stored.media_type,
            "url": url,
            "link_text": self.services.texts(locale, "file.link", url=url),
        }
        return Reply(caption, attachments=(attachment,))

    @staticmethod
    async def keep(
        uow: UnitOfWork, kind: str, unit_id: int, period: str, name: str, media_type: str, content: bytes, now: datetime
    ) -> StoredFile:
        """Keep a file (a chart, a workbook) under an unguessable token."""
        return await uow.files.add(kind, unit_id, period, name, media_type, secrets.token_urlsafe(16), content, now)

    async def units_with_leaders(self) -> list[Unit]:
        """Units that have at least one reachable leader of their own."""
        async with self.services.uow(read_only=True) as uow:
            units = await uow.units.all()
            return [u for u in units if await self.leaders(uow, u.id)]

    async def send_due(self, claim: Any, now: datetime | None = None) -> int:
        """The digests whose time has come today, each claimed for (day, unit); how many units were sent one.

        ``claim(job, period, scope, work)`` is the scheduler's claim (it runs ``work`` unless the run was done).
        """
        services, policy = self.services, self.services.policy
        now = now or services.clock()
        local = now.astimezone(policy.timezone)
        if local.time() < policy.digest_time:
            return 0
        sent = 0
        for unit in await self.units_with_leaders():

            async def work(unit: Unit = unit) -> None:
                digest = await self.build(unit.code, local.date(), "day")
                await self.queue(digest, now)

            if await claim("digest", local.date().isoformat(), f"unit:{unit.code}", work):
                sent += 1
        return sent


class PeriodReports:
    """Monthly and quarterly workbooks: built from the one report, kept, and sent to the unit's leaders."""

    def __init__(self, services: Services, digests: Digests, builder: WorkbookBuilder | None = None) -> None:
        self.services = services
        self.digests = digests
        self.reporter = Reporter(services)
        self.builder = builder or WorkbookBuilder()  # the application's own, which it closes

    async def workbook(
        self, unit_code: str, period: Period, title: str, *, officers: bool = True, include_children: bool = False
    ) -> bytes:
        """The workbook of ``unit_code`` (with the units below it if ``include_children``) for ``period``."""
        # openpyxl, under the workbook, is loaded by the first workbook, not by every process that reads reports
        from handlers.leader.workbook import (
            AnswerRow,
            ApologySheetRow,
            LateRow,
            OfficerRow,
            WorkbookData,
            issuer,
        )
        from handlers.leader.workbook_sources import gather_extras

        services, policy = self.services, self.services.policy
        report = await self.reporter.satisfaction(unit_code, period, include_children=include_children, breakdowns=True)
        start, end = policy.day_start(period.start), policy.day_start(period.end + timedelta(days=1))
        as_of = min(services.clock(), end)
        async with services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(unit_code)
            assert unit is not None
            unit_ids = await uow.units.subtree_ids(unit.id) if include_children else [unit.id]
            form = services.catalog.get(report["form"])
            late_rows = await uow.digests.late_list(unit_ids, start, end, as_of)
            raw = await uow.digests.raw_answers(unit_ids, start, end, form.id)
            officer_rows = await uow.digests.officers(unit_ids, start, end) if officers else []
            officer_answers = await uow.digests.officer_answers(unit_ids, start, end, form.id) if officers else []
            receiver_rows = await uow.digests.receivers(unit_ids, start, end) if officers else []
            receiver_answers = await uow.digests.receiver_answers(unit_ids, start, end, form.id) if officers else []
            issued = await uow.apologies.issued_between(unit_ids, start, end) if officers else []
        local = policy.local_date
        late = [
            LateRow(
                code=r.code,
                procedure=r.procedure_name,
                field=r.field,
                handler=r.handler,
                received=local(r.received_at),
                due=local(r.due_at),
                finished=local(r.finished_at) if r.finished_at else None,
                state=STATE_WORDS.get(r.state, r.state),
                apology_number=r.number,
                new_due=local(r.new_due_at) if r.new_due_at else None,
                reason=r.reason,
            )
            for r in late_rows
        ]
        answers: dict[int, dict[str, Any]] = {}
        for a in raw:
            completed = local(a.completed_at) if a.completed_at is not None else None
            entry = answers.setdefault(
                a.invitation_id,
                {"completed": completed, "field": a.field, "channel": a.channel or "", "values": {}, "scored": False},
            )
            entry["values"][a.question_code] = a.value if a.value is not None else redact(a.text)
            entry["scored"] = entry["scored"] or a.value is not None
        # one row per respondent (at least one item answered in the period): exactly the answers scored
        respondents = [e for e in answers.values() if e["scored"]]
        answer_rows = [
            AnswerRow(f"PK-{number:06d}", e["completed"], e["field"], e["channel"], e["values"])
            for number, e in enumerate(respondents, start=1)  # pseudonymous: numbered, not the invitation id
        ]
        officer_list: list[OfficerRow] | None = None
        apology_list: list[ApologySheetRow] | None = None
        if officers:
            counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
            for o in officer_answers:
                if o.value is not None:
                    counts[o.handler][o.question_code][o.value] += o.count
            # the apologies issued in the period for each handling officer's dossiers, resolved yet or not
            issued_by_handler: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
            for line in issued:
                tally = issued_by_handler[line.handler or ""]
                tally[0 if line.kind == "delay" else 2] += 1
                tally[1] += int(line.kind == "delay" and line.in_time is False)
            resolved_by = {row.handler: row for row in officer_rows}
            officer_list = []
            for handler in sorted(set(resolved_by) | set(issued_by_handler)):
                row = resolved_by.get(handler)
                overall = score_form(form, counts.get(handler, {})).overall
                delay, late_apologies, error = issued_by_handler.get(handler, [0, 0, 0])
                officer_list.append(
                    OfficerRow(
                        name=handler or "(chưa ghi)",
                        resolved=row.resolved if row else 0,
                        on_time=row.on_time if row else 0,
                        late=row.late if row else 0,
                        apologies=delay,
                        satisfaction=_published(overall),
                        n=overall.n,
                        suppressed=overall.suppressed,
                        apologies_late=late_apologies,
                        apologies_error=error,
                    )
                )
            apology_list = [
                ApologySheetRow(
                    code=line.code,
                    handler=line.handler,
                    issued_by=issuer(line.issued_by, line.issued_key),
                    issued_at=line.issued_at.astimezone(policy.timezone),
                    due=local(line.due_at),
                    new_due=local(line.new_due_at) if line.new_due_at else None,
                    reason=line.reason,
                    kind=line.kind,
                    in_time=line.in_time,
                    number=line.number,
                )
                for line in issued
            ]
        receiver_list = _receiver_rows(form, receiver_rows, receiver_answers)
        targets = self.digests.targets(unit)
        book = await self.digests.goals.book(unit)
        field_names = {f["field"] for f in report["by_field"]} | {f["field"] for f in report["on_time_by_field"]}
        field_targets = {
            name: (goal.satisfaction, goal.on_time) for name in field_names for goal in (book.for_field(name),)
        }
        extras = await gather_extras(services, self.reporter, unit, unit_ids, period, include_children, form, as_of)
        data = WorkbookData(
            title=title,
            unit_name=unit.name,
            report=report,
            questions=[(q.code, q.factor or "", q.text.vi) for q in form.questions if q.type != "text"],
            late=late,
            answers=answer_rows,
            officers=officer_list,
            receivers=receiver_list,
            apologies=apology_list,
            targets={"satisfaction": targets.satisfaction, "on_time": targets.on_time},
            generated_at=services.clock().astimezone(policy.timezone),
            field_targets=field_targets,
            form_title=form.title.vi,
            options=extras.options,
            authority=extras.authority,
            place=extras.place,
            children=extras.children,
            complaints_open=extras.complaints_open,
        )
        return await self.builder.build(data)

    @staticmethod
    def title(kind: str, period: Period) -> str:
        """The workbook's title."""
        if kind == "monthly_report":
            return f"Báo cáo mức độ hài lòng tháng {period.start:%m/%Y}"
        if kind in YEAR_REPORTS.values():
            return period_title(kind.removesuffix("_report"), period)
        return f"Báo cáo mức độ hài lòng quý {ROMAN[(period.start.month - 1) // 3 + 1]}/{period.start.year}"

    async def send(self, unit: Unit, kind: str, period: Period, now: datetime) -> bool:
        """Build, keep and queue one workbook to the unit's leaders; False when the period had nothing."""
        services = self.services
        report = await self.reporter.satisfaction(unit.code, period)
        if (
            not report["dossiers"]["received"]
            and not report["dossiers"]["resolved"]
            and not report["surveys"]["completed"]
        ):
            return False
        content = await self.workbook(unit.code, period, self.title(kind, period))
        label = _label(kind, period)
        name = f"bao-cao-{unit.code}-{label}.xlsx"
        async with services.uow() as uow:
            stored = await self.digests.keep(uow, kind, unit.id, label, name, XLSX, content, now)
            detail = {"format": "xlsx", "file": name, "kept_for": "leaders"}
            await uow.audit.add(services.actor, "export.write", f"unit:{unit.code}", detail, now, unit_id=unit.id)
            for chat in await self.digests.leaders(uow, unit.id):
                caption = services.texts(chat.locale, f"report.{kind}", title=self.title(kind, period))
                reply = self.digests.file_reply(stored, caption, chat.locale)
                await uow.outbox.to_chat(
                    chat, reply.to_payload(), now, dedupe_key=f"{kind}:{label}:{unit.code}:{chat.id}"
                )
            await uow.commit()
        return True

    @staticmethod
    def due(today: date) -> list[tuple[str, Period, str]]:
        """The workbooks due on ``today``: (kind, period, label).

        Last month's, last quarter's, and after June, September and December the 6 months, 9 months or the year.
        """
        last_month = month_of(today.replace(day=1) - timedelta(days=1))
        last_quarter = quarter_of(quarter_of(today).start - timedelta(days=1))
        due = [("monthly_report", last_month, _label("monthly_report", last_month))]
        due.append(("quarterly_report", last_quarter, _label("quarterly_report", last_quarter)))
        yearly = YEAR_REPORTS.get(last_quarter.end.month)
        if yearly is not None:
            period = Period(date(last_quarter.end.year, 1, 1), last_quarter.end)
            due.append((yearly, period, _label(yearly, period)))
        return due

    async def send_due(self, claim: Any, now: datetime | None = None) -> int:
        """The workbooks :meth:`due`, from the morning of the 1st on; each claimed once per unit."""
        services, policy = self.services, self.services.policy
        now = now or services.clock()
        local = now.astimezone(policy.timezone)
        if local.time() < policy.digest_time:
            return 0
        sent = 0
        for unit in await self.digests.units_with_leaders():
            for kind, period, label in self.due(local.date()):

                async def work(unit: Unit = unit, kind: str = kind, period: Period = period) -> None:
                    await self.send(unit, kind, period, now)

                if await claim(kind, label, f"unit:{unit.code}", work):
                    sent += 1
        return sent


def _label(kind: str, period: Period) -> str:
    """How a kept workbook's period is named: 2026-11, 2026-Q4, 2026-6T, 2026-9T, 2026."""
    if kind == "monthly_report":
        return period.start.strftime("%Y-%m")
    suffix = {"half_year_report": "-6T", "nine_months_report": "-9T", "year_report": ""}
    if kind in suffix:
        return f"{period.start.year}{suffix[kind]}"
    return quarter_name(period)


def _receiver_rows(
    form: Form, received: Sequence[ReceiverCounts], answers: Sequence[ReceiverAnswerCount]
) -> list[ReceiverRow]:
    """Each receiving officer with dossiers taken in or answers in the period: counts, satisfaction (n < 5 hidden)."""
    from handlers.leader.workbook import ReceiverRow

    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for a in answers:
        if a.value is not None:
            counts[a.receiver][a.question_code][a.value] += a.count
    taken = {r.receiver: r.received for r in received}
    rows = []
    for name in sorted(set(taken) | set(counts)):
        overall = score_form(form, counts.get(name, {})).overall
        rows.append(
            ReceiverRow(
                name=name,
                received=taken.get(name, 0),
                satisfaction=_published(overall),
                n=overall.n,
                suppressed=overall.suppressed,
            )
        )
    return rows


def _published(overall: OverallScore) -> float | None:
    """An officer's overall index as published: None when suppressed, else rounded once from its exact value."""
    if overall.suppressed:
        return None
    return half_up(overall.exact if overall.exact is not None else overall.index)


def digest_time(text: str) -> time:
    """``"07:30"`` (HH:MM, as the settings check it) as a time of day."""
    return time.fromisoformat(text)


class LeaderDesk:
    """``/baocao [ngày|tuần|tháng|quý|6 tháng|9 tháng|năm]``: a leader's report on demand, in the chat."""

    def __init__(self, services: Services, digests: Digests) -> None:
        self.services = services
        self.digests = digests

    async def takes(self, turn: Any) -> bool:
        """Handle ``/baocao`` (and ``/report``); anything else is not the leaders'."""
        inbound = turn.inbound
        if inbound.kind != "text" or not inbound.text.startswith("/"):
            return False
        name, _, args = inbound.text[1:].partition(" ")
        if fold(name.split("@")[0]) not in ("baocao", "report"):
            return False
        roles = await turn.uow.roles.of_chat(turn.chat.id) if turn.chat is not None else []
        leading = [r for r in roles if r.role in LEADER_ROLES]
        if not leading:
            turn.say("role.refused_leader")
            return True
        args, include_children = children_asked(args)
        kind = period_kind(args) if args.strip() else "day"
        if kind is None:
            turn.say("digest.usage")
            return True
        unit = await turn.uow.units.get(leading[0].unit_id)
        today = self.services.policy.local_date(turn.now)
        digest = await self.digests.build(unit.code, today, kind, turn.locale, include_children=include_children)
        name = f"bao-cao-{unit.code}-{kind}-{today:%Y%m%d}.png"
        stored = await self.digests.keep(
            turn.uow, "digest_chart", unit.id, f"{kind}:{today.isoformat()}", name, "image/png", digest.chart, turn.now
        )
        turn.replies += self.digests.replies(digest.text, stored, turn.locale)
        return True
