"""The figures the public page publishes, as people read them: indexes, counts and rates, and verdicts on targets.

Published figures are the report's, already rounded once (half-up, one decimal) by the reporting module; the
page and its JSON both show that value. Suppressed or missing ones read "chưa đủ dữ liệu" or "chưa có dữ liệu".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.web.quarters import Quarter
from bot.web.wording import page_words
from handlers.collation import sorted_vietnamese
from handlers.leader.targets import TargetBook, met, rate_tenths, tenths

INSUFFICIENT = page_words("insufficient")  # some answers, fewer than five (the chat catalog's report.insufficient)
NO_DATA = page_words("no_data")  # nothing at all to count (the chat catalog's report.no_data)
COMPLAINTS_TARGET = 100.0  # every complaint handled (seeds 000, 002; docs/METHOD.md, targets)


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
    return none if verdict is None else page_words("met") if verdict else page_words("not_met")


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
