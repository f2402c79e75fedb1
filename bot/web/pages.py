"""The public quarterly disclosure (docs/FIGURES.md): ``/cong-khai/{unit}`` as HTML and ``.json``, one view model.

Every figure comes from the one reporting module; the page and the JSON are two renderings of the
same :class:`Disclosure`, so they cannot disagree. Published figures are the report's, already
rounded once (half-up, one decimal) by the reporting module; both renderings show that value.
Nothing personal reaches this module: the report holds counts and indexes only, and no other query
is made but the unit's name.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from bot.web.server import APP
from handlers.admin.units import UNIT_CODE_RE
from handlers.collation import sorted_vietnamese
from handlers.errors import HandlerError, NotFound
from handlers.leader.reporting import Period
from handlers.leader.targets import TargetBook, met, rate_tenths, tenths
from survey_forms.schema import Form

PREFIX = "/cong-khai"
CACHE_CONTROL = "public, max-age=300"
QUARTER_RE = re.compile(r"([0-9]{4})-[Qq]([1-4])")
FIRST_YEAR = 2000  # SIPAS began in 2017; nothing older can hold data, and dates stay far from datetime's limits
PREVIOUS_QUARTERS = 3
PICKER_QUARTERS = 8  # the quarter picker lists the last two years at most (from the unit's first dossier)
INSUFFICIENT = "chưa đủ dữ liệu"  # some answers, fewer than five (the catalog's report.insufficient)
NO_DATA = "chưa có dữ liệu"  # nothing at all to count (the catalog's report.no_data)
COMPLAINTS_TARGET = 100.0  # every complaint handled (seeds 000, 002; docs/METHOD.md, targets)
METHOD_DOC = "docs/FIGURES.md"
TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False, "": False}
ROMAN = ("I", "II", "III", "IV")
MINISTRY_FORMS = {"sipas-2017", "sipas-2022"}  # the Ministry of Home Affairs' own questionnaires
NUMBER_WORDS = {1: "một", 2: "hai", 3: "ba", 4: "bốn", 5: "năm", 6: "sáu", 7: "bảy", 8: "tám", 9: "chín", 10: "mười"}
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("sipas_page_templates", jinja2.Environment)
_dumps = partial(json.dumps, ensure_ascii=False)


class PageError(Exception):
    """A refusal of the public page: an English message for the JSON, a Vietnamese one for people."""

    def __init__(self, status: int, code: str, message: str, text: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.text = text


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter: ``2026-Q4`` is October to December 2026."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``"2026-Q4"`` → Quarter; ValueError when malformed."""
        match = QUARTER_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"expected a quarter as YYYY-Qn (e.g. 2026-Q4), got {text[:40]!r}")
        year, number = int(match[1]), int(match[2])
        if year < FIRST_YEAR:
            raise ValueError(f"no quarter before {FIRST_YEAR} can be shown")
        return cls(year, number)

    @classmethod
    def containing(cls, day: date) -> Quarter:
        """The quarter ``day`` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        """Its first day."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """Its last day."""
        return self.next().start - timedelta(days=1)

    def previous(self) -> Quarter:
        """The quarter before it."""
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def next(self) -> Quarter:
        """The quarter after it."""
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    @property
    def label(self) -> str:
        """As people write it: ``Quý IV/2026``."""
        return f"Quý {ROMAN[self.number - 1]}/{self.year}"

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"


def published(value: float | None) -> float | None:
    """A percentage as published: the report's figure as it is (rounded once, half-up, to one decimal there)."""
    return None if value is None else float(value)


def percent_text(value: float | None, none: str = INSUFFICIENT) -> str:
    """A published percentage the Vietnamese way (``91,9%``), or ``none`` ("chưa đủ dữ liệu")."""
    return none if value is None else f"{value:.1f}".replace(".", ",") + "%"


def count_text(value: float | None) -> str:
    """A rate over counts (never suppressed): ``88,9%``, or "chưa có dữ liệu" when there was nothing to count."""
    return percent_text(value, NO_DATA)


@dataclass(frozen=True)
class Figure:
    """One satisfaction index as published: ``index`` is None when suppressed (n < 5) or unanswered."""

    index: float | None
    n: int
    ci95: tuple[float, float] | None
    suppressed: bool

    @classmethod
    def of(cls, cell: dict[str, Any]) -> Figure:
        """From a cell of the report; a suppressed cell keeps no number."""
        suppressed = bool(cell["suppressed"])
        ci = cell.get("ci95")
        low_high = None if suppressed or not ci else (float(ci[0]), float(ci[1]))
        index = None if suppressed else published(cell["index"])
        return cls(index=index, n=int(cell["n"]), ci95=low_high, suppressed=suppressed or index is None)

    @property
    def text(self) -> str:
        """``91,9%``; "chưa có dữ liệu" when nobody answered; "chưa đủ dữ liệu" when too few did."""
        return percent_text(self.index, NO_DATA if self.n == 0 else INSUFFICIENT)

    @property
    def ci_text(self) -> str | None:
        """The 95% interval as ``85,1–95,6%``, when there is one."""
        if self.ci95 is None:
            return None
        low, high = self.ci95
        return f"{percent_text(low).removesuffix('%')}–{percent_text(high)}"

    def as_json(self, *, with_ci: bool = True) -> dict[str, Any]:
        """The figure in the page's JSON."""
        body: dict[str, Any] = {"index": self.index, "text": self.text, "n": self.n}
        if with_ci:
            body["ci95"] = list(self.ci95) if self.ci95 else None
        body["suppressed"] = self.suppressed
        return body


@dataclass(frozen=True)
class FactorFigure:
    """One factor of the form and its figure."""

    code: str
    name: str
    figure: Figure

    @property
    def short_name(self) -> str:
        """The name without its parenthesised gloss, for narrow columns."""
        return self.name.split(" (", 1)[0]

    def as_json(self, *, with_ci: bool = True) -> dict[str, Any]:
        """The factor in the page's JSON."""
        return {"code": self.code, "name": self.name, **self.figure.as_json(with_ci=with_ci)}


@dataclass(frozen=True)
class FieldFigure:
    """The overall index within one field (lĩnh vực)."""

    field: str
    figure: Figure


@dataclass(frozen=True)
class Counts:
    """Dossiers and surveys of the quarter, with their rates (published, one decimal)."""

    received: int
    resolved: int
    on_time: int
    late: int
    on_time_rate: float | None
    offered: int
    completed: int
    response_rate: float | None
    respondents: int = 0

    @property
    def on_time_text(self) -> str:
        """The on-time rate as people read it ("chưa có dữ liệu" when nothing was resolved)."""
        return count_text(self.on_time_rate)

    @property
    def response_text(self) -> str:
        """The response rate as people read it ("chưa có dữ liệu" when no survey was offered)."""
        return count_text(self.response_rate)


@dataclass(frozen=True)
class QuarterFigures:
    """What is published of one quarter."""

    quarter: Quarter
    start: date
    end: date
    satisfaction: Figure
    factors: tuple[FactorFigure, ...]
    counts: Counts
    by_field: tuple[FieldFigure, ...]

    @classmethod
    def of(cls, quarter: Quarter, report: dict[str, Any]) -> QuarterFigures:
        """From the report of docs/FIGURES.md; only its public figures are kept."""
        dossiers, surveys = report["dossiers"], report["surveys"]
        return cls(
            quarter=quarter,
            start=date.fromisoformat(report["from"]),
            end=date.fromisoformat(report["to"]),
            satisfaction=Figure.of(report["satisfaction"]),
            factors=tuple(FactorFigure(f["code"], f["name"], Figure.of(f)) for f in report["factors"]),
            counts=Counts(
                received=int(dossiers["received"]),
                resolved=int(dossiers["resolved"]),
                on_time=int(dossiers["on_time"]),
                late=int(dossiers["late"]),
                on_time_rate=published(dossiers["on_time_rate"]),
                offered=int(surveys["offered"]),
                completed=int(surveys["completed"]),
                response_rate=published(surveys["response_rate"]),
                respondents=int(surveys.get("respondents", 0)),
            ),
            by_field=tuple(
                FieldFigure(f["field"], Figure.of(f))
                for f in sorted_vietnamese(report["by_field"], lambda f: f["field"])
            ),
        )

    def factor(self, code: str) -> FactorFigure | None:
        """The factor with ``code``, if this quarter's form has it."""
        return next((f for f in self.factors if f.code == code), None)


@dataclass(frozen=True)
class ComplaintCounts:
    """Complaints received in the quarter and how many stand answered or closed: counts only, never their text."""

    received: int
    answered: int
    closed: int
    handled_rate: float | None  # (answered + closed) ÷ received, one decimal, half-up
    target: float = COMPLAINTS_TARGET

    @classmethod
    def of(cls, report: dict[str, Any]) -> ComplaintCounts:
        """From the report's ``complaints``."""
        c = report["complaints"]
        rate = rate_tenths(int(c["answered"]) + int(c["closed"]), int(c["received"]))
        return cls(int(c["received"]), int(c["answered"]), int(c["closed"]), None if rate is None else float(rate))

    @property
    def handled_text(self) -> str:
        """The handled rate as people read it ("chưa có dữ liệu" when none came in)."""
        return count_text(self.handled_rate)

    @property
    def verdict(self) -> str:
        """Đạt / Chưa đạt against 100%, or "chưa có dữ liệu" when none came in."""
        return _verdict_text(met(tenths(self.handled_rate), self.target), NO_DATA)

    def as_json(self) -> dict[str, Any]:
        """The counts in the page's JSON."""
        return {
            "received": self.received,
            "answered": self.answered,
            "closed": self.closed,
            "handled_rate": self.handled_rate,
            "handled_text": self.handled_text,
        }


@dataclass(frozen=True)
class FieldTargetFigure:
    """One field's on-time rate (a count, never suppressed) and satisfaction against the unit's targets for it."""

    field: str
    resolved: int
    on_time: int
    on_time_rate: float | None
    on_time_target: float
    satisfaction: Figure
    satisfaction_target: float

    @property
    def on_time_met(self) -> bool | None:
        """Whether the printed on-time rate reaches its target (None: nothing resolved)."""
        return met(tenths(self.on_time_rate), self.on_time_target)

    @property
    def satisfaction_met(self) -> bool | None:
        """Whether the printed index reaches its target (None: suppressed or unanswered)."""
        return met(tenths(self.satisfaction.index), self.satisfaction_target)

    @property
    def on_time_text(self) -> str:
        """The on-time rate as people read it."""
        return count_text(self.on_time_rate)

    def verdict(self, which: str) -> str:
        """Đạt / Chưa đạt, or why it is not judged, for ``on_time`` or ``satisfaction``."""
        if which == "on_time":
            return _verdict_text(self.on_time_met, NO_DATA)
        return _verdict_text(self.satisfaction_met, NO_DATA if self.satisfaction.n == 0 else INSUFFICIENT)

    def as_json(self) -> dict[str, Any]:
        """The field in the page's JSON."""
        return {
            "field": self.field,
            "resolved": self.resolved,
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "on_time_text": self.on_time_text,
            "on_time_target": self.on_time_target,
            "on_time_met": self.on_time_met,
            "satisfaction": self.satisfaction.as_json(with_ci=False),
            "satisfaction_target": self.satisfaction_target,
            "satisfaction_met": self.satisfaction_met,
        }


def _verdict_text(verdict: bool | None, none: str) -> str:
    return none if verdict is None else "Đạt" if verdict else "Chưa đạt"


def field_targets(report: dict[str, Any], book: TargetBook) -> tuple[FieldTargetFigure, ...]:
    """Each field of the report against its targets, in Vietnamese alphabetical order."""
    on_time = {f["field"]: f for f in report["on_time_by_field"]}
    satisfaction = {f["field"]: f for f in report["by_field"]}
    figures = []
    for name in sorted_vietnamese(on_time.keys() | satisfaction.keys()):
        goal = book.for_field(name)
        counts = on_time.get(name, {"resolved": 0, "on_time": 0})
        rate = rate_tenths(int(counts["on_time"]), int(counts["resolved"]))
        cell = satisfaction.get(name, {"index": None, "n": 0, "ci95": None, "suppressed": True})
        figures.append(
            FieldTargetFigure(
                field=name,
                resolved=int(counts["resolved"]),
                on_time=int(counts["on_time"]),
                on_time_rate=None if rate is None else float(rate),
                on_time_target=goal.on_time,
                satisfaction=Figure.of(cell),
                satisfaction_target=goal.satisfaction,
            )
        )
    return tuple(figures)


@dataclass(frozen=True)
class Disclosure:
    """The view model of the page and of its JSON: one unit, one quarter and the quarters before it."""

    unit_code: str
    unit_name: str
    current: QuarterFigures
    previous: tuple[QuarterFigures, ...]  # newest first
    complete: bool  # False while the chosen quarter is still running (figures to date)
    form_id: str
    form_title: str
    method: str
    generated_at: datetime
    include_children: bool
    page_url: str
    json_url: str
    complaints: ComplaintCounts | None = None
    fields: tuple[FieldTargetFigure, ...] = ()
    first_quarter: Quarter | None = None  # the quarter of the unit's first dossier (None: it has none yet)
    running_quarter: Quarter | None = None  # the quarter still running today

    @property
    def quarter(self) -> Quarter:
        """The chosen quarter."""
        return self.current.quarter

    @property
    def provisional_until(self) -> datetime | None:
        """While the chosen quarter runs: the moment its figures were computed ("số liệu tạm tính đến …")."""
        return None if self.complete else self.generated_at

    @property
    def before_first(self) -> bool:
        """Whether the chosen quarter ended before the unit had any dossier (or the unit has none at all)."""
        return self.first_quarter is None or self.quarter < self.first_quarter

    def link(self, quarter: Quarter) -> str:
        """The page of ``quarter`` with the same scope."""
        return f"?quy={quarter}" + ("&include_children=true" if self.include_children else "")

    @property
    def picker(self) -> tuple[Quarter, ...]:
        """The quarters a reader may pick, newest first.

        From the running one back to the unit's first, two years at most; never one before the unit's first dossier.
        """
        if self.first_quarter is None or self.running_quarter is None:
            return ()
        quarters = [self.running_quarter]
        while len(quarters) < PICKER_QUARTERS and quarters[-1].previous() >= self.first_quarter:
            quarters.append(quarters[-1].previous())
        return tuple(quarters)

    @property
    def earlier(self) -> Quarter | None:
        """The quarter before the oldest the picker lists, when the unit already had dossiers then."""
        if not self.picker or self.first_quarter is None:
            return None
        before = min(self.quarter, self.picker[-1]).previous()
        return before if before >= self.first_quarter else None

    @property
    def title(self) -> str:
        """The page's heading."""
        return f"Kết quả khảo sát sự hài lòng của người dân, tổ chức — {self.quarter.label} — {self.unit_name}"

    @property
    def scope(self) -> str:
        """Which units the figures cover: "Phường 8 (không gồm đơn vị trực thuộc)"."""
        words = "gồm các đơn vị trực thuộc" if self.include_children else "không gồm đơn vị trực thuộc"
        return f"{self.unit_name} ({words})"

    @property
    def method_doc(self) -> str:
        """Where each figure's computation is written down."""
        return METHOD_DOC

    @property
    def timeline(self) -> tuple[QuarterFigures, ...]:
        """The quarters compared, oldest first, the chosen one last."""
        return (*reversed(self.previous), self.current)

    def as_json(self) -> dict[str, Any]:
        """The JSON of ``/cong-khai/{unit}.json``: the figures the page shows, and nothing else."""
        current = self.current
        counts = current.counts
        return {
            "unit": {"code": self.unit_code, "name": self.unit_name},
            "quarter": str(self.quarter),
            "label": self.quarter.label,
            "from": current.start.isoformat(),
            "to": current.end.isoformat(),
            "complete": self.complete,
            "provisional_until": (
                self.provisional_until.isoformat(timespec="seconds") if self.provisional_until else None
            ),
            "first_quarter": str(self.first_quarter) if self.first_quarter else None,
            "include_children": self.include_children,
            "scope": self.scope,
            "form": {"id": self.form_id, "title": self.form_title},
            "satisfaction": current.satisfaction.as_json(),
            "factors": [f.as_json() for f in current.factors],
            "dossiers": {
                "received": counts.received,
                "resolved": counts.resolved,
                "on_time": counts.on_time,
                "late": counts.late,
                "on_time_rate": counts.on_time_rate,
            },
            "surveys": {
                "offered": counts.offered,
                "completed": counts.completed,
                "response_rate": counts.response_rate,
                "respondents": counts.respondents,
            },
            "by_field": [{"field": f.field, **f.figure.as_json(with_ci=False)} for f in current.by_field],
            "complaints": self.complaints.as_json() if self.complaints else None,
            "fields": [f.as_json() for f in self.fields],
            "previous": [
                {
                    "quarter": str(q.quarter),
                    "label": q.quarter.label,
                    "from": q.start.isoformat(),
                    "to": q.end.isoformat(),
                    "satisfaction": q.satisfaction.as_json(with_ci=False),
                    "factors": [f.as_json(with_ci=False) for f in q.factors],
                    "on_time_rate": q.counts.on_time_rate,
                    "resolved": q.counts.resolved,
                }
                for q in self.previous
            ],
            "method": self.method,
            "method_doc": METHOD_DOC,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "page": self.page_url,
        }


def method_text(form: Form) -> str:
    """The index method in one paragraph of Vietnamese (docs/METHOD.md, the index method), as this form scores."""
    rules = form.scoring
    factors = len(form.factors)
    count = NUMBER_WORDS.get(factors, str(factors))
    levels = "mức 4–5 (“Hài lòng”, “Rất hài lòng”)" if rules.satisfied_min == 4 else f"mức {rules.satisfied_min}–5"
    if rules.overall == "factors":
        equal = len({f.weight for f in form.factors}) <= 1
        mean = "trung bình cộng" if equal else "trung bình có trọng số"
        overall = f"chỉ số hài lòng chung là {mean} chỉ số của {count} yếu tố"
    else:
        overall = f"chỉ số hài lòng chung là chỉ số của câu hỏi đánh giá chung ({rules.overall})"
    source = ", theo mẫu của Bộ Nội vụ" if form.id in MINISTRY_FORMS else ""
    return (
        f"Chỉ số hài lòng của mỗi tiêu chí là tỷ lệ phần trăm số câu trả lời ở {levels} trên tổng số câu trả lời "
        f"từ mức 1 đến mức 5 cho tiêu chí đó (câu bỏ qua không được tính); chỉ số của mỗi yếu tố là trung bình "
        f"cộng chỉ số các tiêu chí có câu trả lời của yếu tố; {overall}. Mỗi chỉ số kèm số người trả lời (n) và "
        f"khoảng tin cậy 95% (phương pháp Wilson); chỉ số dựa trên dưới 5 câu trả lời được ghi “{INSUFFICIENT}”, "
        f"không công bố thành số, và khi có yếu tố như vậy thì chỉ số chung cũng không công bố; khi không có câu "
        f"trả lời nào (hay không có hồ sơ nào để tính tỷ lệ) thì ghi “{NO_DATA}”. Mọi câu trả lời "
        f"trong quý đều được tính, kể cả của phiếu chưa hoàn thành; tỷ lệ phản hồi là số phiếu đã hoàn thành trên "
        f"số phiếu gửi trong quý. Các tỷ lệ được làm tròn một lần, đến một chữ số thập phân (từ 5 làm tròn lên). "
        f"Tỷ lệ đúng hạn là số hồ sơ giải quyết xong đúng hoặc trước hạn trên tổng số hồ "
        f"sơ giải quyết xong trong quý (đếm đủ, không ẩn khi ít hồ sơ). Phiếu khảo sát: {form.title.vi}"
        f"{source}. Trang này không "
        f"công bố tên, số điện thoại hay ý kiến riêng của người trả lời, cũng không công bố kết quả theo từng cán bộ."
    )


def default_quarter(today: date, first: Quarter | None) -> Quarter:
    """The quarter shown when none is asked for: the last complete quarter with data.

    That is the last complete quarter, unless the unit's first dossier came after it: then the running quarter (its
    figures to date). A unit with no dossier at all gets the last complete quarter ("chưa có dữ liệu").
    """
    running = Quarter.containing(today)
    last_complete = running.previous()
    if first is not None and first > last_complete:
        return running
    return last_complete


def _asked_quarter(request: web.Request, today: date) -> Quarter | None:
    values = request.query.getall("quy", [])
    if len(values) > 1:
        raise PageError(400, "invalid_quarter", "quy: given more than once", "Tham số “quy” được ghi nhiều lần.")
    text = values[0].strip() if values else ""
    if not text:
        return None
    try:
        quarter = Quarter.parse(text)
    except ValueError as exc:
        raise PageError(
            400,
            "invalid_quarter",
            f"quy: {exc}",
            f"Quý không hợp lệ: hãy ghi năm, chữ Q và số thứ tự quý (1–4), ví dụ 2026-Q4, từ năm {FIRST_YEAR}.",
        ) from None
    if quarter.start > today:
        raise PageError(
            400,
            "future_quarter",
            f"quy: {quarter} has not begun yet",
            f"{quarter.label} chưa bắt đầu nên chưa có kết quả.",
        )
    return quarter


def _chosen_children(request: web.Request) -> bool:
    values = request.query.getall("include_children", [])
    text = values[0].strip().lower() if len(values) == 1 else ("" if not values else "many")
    if text not in TRUE_WORDS:
        raise PageError(
            400,
            "invalid_input",
            "include_children: expected true, false, 1 or 0, once",
            "Tham số “include_children” chỉ nhận true, false, 1 hoặc 0, ghi một lần.",
        )
    return TRUE_WORDS[text]


async def build_disclosure(request: web.Request, unit_code: str) -> Disclosure:
    """The view model for ``unit_code`` and the quarter asked for; PageError when it cannot be built."""
    app = request.app[APP]
    services = app.services
    policy = services.policy
    if not UNIT_CODE_RE.fullmatch(unit_code):
        raise PageError(404, "not_found", "no such unit", "Không tìm thấy đơn vị này.")
    now = services.clock()
    today = policy.local_date(now)
    asked = _asked_quarter(request, today)
    include_children = _chosen_children(request)
    async with services.uow(read_only=True) as uow:
        unit = await uow.units.get_by_code(unit_code)
        if unit is None:
            raise PageError(404, "not_found", f"no unit {unit_code!r}", "Không tìm thấy đơn vị này.")
        unit_ids = await uow.units.subtree_ids(unit.id) if include_children else [unit.id]
        first_received = await uow.leader_figures.first_received(unit_ids)
    first = None if first_received is None else Quarter.containing(policy.local_date(first_received))
    quarter = asked or default_quarter(today, first)
    complete = quarter.end < today
    quarters = [quarter]
    for _ in range(PREVIOUS_QUARTERS):  # the quarters before it, none before the unit's first dossier
        if first is None or quarters[-1].previous() < first:
            break
        quarters.append(quarters[-1].previous())
    figures: list[QuarterFigures] = []
    reports: list[dict[str, Any]] = []
    form_id = ""
    try:
        for q in quarters:
            end = q.end if q.end < today else today
            report = await app.reporter.satisfaction(unit.code, Period(q.start, end), include_children=include_children)
            form_id = form_id or str(report["form"])
            figures.append(QuarterFigures.of(q, report))
            reports.append(report)
    except NotFound:
        raise PageError(404, "not_found", f"no unit {unit_code!r}", "Không tìm thấy đơn vị này.") from None
    except HandlerError as error:
        raise PageError(400, error.code, error.message, "Không thể lập kết quả cho đơn vị này.") from None
    form = services.catalog.get(form_id)
    base = app.settings.public_url.rstrip("/")
    path = f"{PREFIX}/{quote(unit.code)}"
    children_query = "&include_children=true" if include_children else ""
    return Disclosure(
        unit_code=unit.code,
        unit_name=unit.name,
        current=figures[0],
        previous=tuple(figures[1:]),
        complete=complete,
        form_id=form.id,
        form_title=form.title.vi,
        method=method_text(form),
        generated_at=now.astimezone(policy.timezone),
        complaints=ComplaintCounts.of(reports[0]),
        fields=field_targets(reports[0], await app.targets.book(unit)),
        include_children=include_children,
        first_quarter=first,
        running_quarter=Quarter.containing(today),
        page_url=f"{base}{path}?quy={quarter}{children_query}",
        json_url=f"{path}.json?quy={quarter}{children_query}",
    )


def _date_text(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _moment_text(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M")


def _time_and_day_text(moment: datetime) -> str:
    return moment.strftime("%H:%M ngày %d/%m/%Y")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["ngay"] = _date_text
    environment.filters["luc"] = _moment_text
    environment.filters["luc_ngay"] = _time_and_day_text
    return environment


def _render(request: web.Request, name: str, **context: Any) -> str:
    html = request.app[TEMPLATES].get_template(name).render(**context)
    return unicodedata.normalize("NFC", html)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": CACHE_CONTROL},
    )


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(
        body,
        status=status,
        dumps=_dumps,
        headers={"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"},
    )


async def disclosure_page(request: web.Request) -> web.Response:
    """GET /cong-khai/{unit}: the quarter's results as a page people can read, on a phone or on paper."""
    try:
        disclosure = await build_disclosure(request, request.match_info["unit"])
    except PageError as error:
        return _html(_render(request, "cong_khai_loi.html", status=error.status, text=error.text), error.status)
    return _html(_render(request, "cong_khai.html", page=disclosure))


async def disclosure_json(request: web.Request) -> web.Response:
    """GET /cong-khai/{unit}.json: the same figures as JSON, for the unit's own website."""
    try:
        disclosure = await build_disclosure(request, request.match_info["unit"])
    except PageError as error:
        return _json({"error": {"code": error.code, "message": error.message}}, error.status)
    return _json(disclosure.as_json())


def setup_pages(web_app: web.Application) -> None:
    """Register the public disclosure routes (no key needed); the .json route first, so it wins."""
    web_app[TEMPLATES] = _environment()
    web_app.router.add_get(PREFIX + "/{unit}.json", disclosure_json)
    web_app.router.add_get(PREFIX + "/{unit}", disclosure_page)
