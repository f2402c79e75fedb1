"""The one reporting module: every figure in chat, JSON, Excel and pages comes from here (docs/FIGURES.md)."""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, TypeVar

from handlers.context import Services
from handlers.errors import InvalidInput, NotFound
from handlers.leader.figures import leader_figures
from handlers.leader.periods import Period as Period  # where reports' callers have always found it
from handlers.names import channel_name, form_title, question_texts, shorten
from storage.uow import UnitOfWork
from storage.values import AnswerCount, DossierCounts, SurveyCounts, Unit
from survey_forms.scoring import FormScore, Interval, half_up, percent_of, score_form

FIGURES_DOC = "docs/FIGURES.md"  # how each figure is computed, cited by every output


def _pct(value: float | None, exact: Fraction | None = None) -> float | None:
    """A figure as published: rounded once, half-up, to one decimal, from its exact value when known."""
    return half_up(exact if exact is not None else value)


def _ci(interval: Interval | None, suppressed: bool) -> list[float] | None:
    if interval is None or suppressed:
        return None
    return [half_up(interval.low) or 0.0, half_up(interval.high) or 0.0]


def _rate(part: int, whole: int) -> float | None:
    return percent_of(part, whole)


class Reporter:
    """Builds satisfaction reports from SQL aggregates and the form's scoring rules."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def satisfaction(
        self,
        unit_code: str,
        period: Period,
        include_children: bool = False,
        form_id: str | None = None,
        *,
        breakdowns: bool = False,
    ) -> dict[str, Any]:
        """The report of docs/FIGURES.md for one unit (and, optionally, the units below it).

        The answers scored are those to ``form_id``, by default the unit's survey form. ``breakdowns``
        adds the figures by procedure and by channel (``by_procedure``, ``by_channel``).
        """
        if period.end < period.start:
            raise InvalidInput.worded("error.period_reversed")
        async with self.services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(unit_code)
            if unit is None:
                raise NotFound.worded("error.no_unit", unit=unit_code)
            unit_ids = await uow.units.subtree_ids(unit.id) if include_children else [unit.id]
        return await self.of_unit(unit, unit_ids, period, include_children, form_id, breakdowns=breakdowns)

    async def of_unit(
        self,
        unit: Unit,
        unit_ids: list[int],
        period: Period,
        include_children: bool,
        form_id: str | None = None,
        *,
        breakdowns: bool = False,
        uow: UnitOfWork | None = None,
    ) -> dict[str, Any]:
        """The report of :meth:`satisfaction` for a unit already read, over ``unit_ids`` (it, or its subtree).

        Without ``uow``, the scan of the answers and the small counts run side by side, each on a read-only
        connection of its own (a month of a large unit); with it, one after the other on that unit of work
        (a digest: many small reports, where each connection's round trips would cost more than the queries).
        """
        services = self.services
        policy = services.policy
        start = policy.day_start(period.start)
        end = policy.day_start(period.end + timedelta(days=1))
        as_of = min(services.clock(), end)
        wanted = form_id or unit.form_id or policy.default_form
        if wanted not in services.catalog:
            raise InvalidInput.worded("error.unknown_report_form", form=wanted)
        form = services.catalog.get(wanted)

        async def answers(on: UnitOfWork) -> list[AnswerCount]:
            return await on.reports.answer_counts(unit_ids, start, end, form.id)

        async def counts(on: UnitOfWork) -> tuple[DossierCounts, SurveyCounts]:
            dossiers = await on.reports.dossier_counts(unit_ids, start, end, as_of)
            return dossiers, await on.reports.survey_counts(unit_ids, start, end, form.id)

        async def broken_down(on: UnitOfWork) -> dict[str, list[AnswerCount]]:
            return {by: await on.reports.answer_counts_by(unit_ids, start, end, form.id, by) for by in BREAKDOWNS}

        async def seeded(on: UnitOfWork) -> dict[str, Any]:
            return await leader_figures(services, unit_ids, start, end, _rate, on)

        if uow is None:  # the scan of the answers and the small counts side by side on read-only connections
            own = functools.partial(_on_own, services)
            answer_counts, (dossiers, surveys), extra, seeds = await asyncio.gather(
                own(answers), own(counts), own(broken_down) if breakdowns else _nothing(), own(seeded)
            )
        else:
            answer_counts, (dossiers, surveys) = await answers(uow), await counts(uow)
            extra = await broken_down(uow) if breakdowns else {}
            seeds = await seeded(uow)
        overall_counts, field_counts = _split(answer_counts)
        score = score_form(form, overall_counts)
        return {
            "unit": unit.code,
            "unit_name": unit.name,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "include_children": include_children,
            "form": form.id,
            "form_title": form.title.vi,
            "dossiers": {
                "received": dossiers.received,
                "resolved": dossiers.resolved,
                "on_time": dossiers.on_time,
                "late": dossiers.late,
                "on_time_rate": _rate(dossiers.on_time, dossiers.resolved),
                "apologies": dossiers.apologies,
                "late_without_apology": dossiers.late_without_apology,
                "overdue_open": dossiers.overdue_open,
                **seeds["dossiers"],
                "apologies_late": dossiers.apologies_late,
                "apologies_error": dossiers.apologies_error,
            },
            "surveys": {
                "offered": surveys.offered,
                "delivered": surveys.delivered,
                "started": surveys.started,
                "completed": surveys.completed,
                "response_rate": _rate(surveys.completed, surveys.offered),
                "respondents": surveys.respondents,
            },
            **_score_json(form_names={f.code: f.name.vi for f in form.factors}, score=score),
            "by_field": [_field_json(name, score_form(form, counts)) for name, counts in sorted(field_counts.items())],
            **{
                f"by_{by}": [
                    {
                        by: name,
                        **({"name": channel_name(name)} if by == "channel" else {}),
                        **{k: v for k, v in _field_json(name, score_form(form, counts)).items() if k != "field"},
                    }
                    for name, counts in sorted(_split(rows)[1].items())
                ]
                for by, rows in extra.items()
            },
            "on_time_by_field": seeds["on_time_by_field"],
            "complaints": seeds["complaints"],
        }


BREAKDOWNS = ("procedure", "channel")
T = TypeVar("T")


async def _on_own(services: Services, read: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """``read`` on a read-only unit of work of its own."""
    async with services.uow(read_only=True) as uow:
        return await read(uow)


async def _nothing() -> dict[str, list[AnswerCount]]:
    return {}


def _split(rows: list[AnswerCount]) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, dict[str, int]]]]:
    overall: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_field: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for row in rows:
        if row.value is None:
            continue
        overall[row.question_code][row.value] += row.count
        by_field[row.field][row.question_code][row.value] += row.count
    return overall, by_field


def _score_json(form_names: dict[str, str], score: FormScore) -> dict[str, Any]:
    overall = score.overall
    return {
        "satisfaction": {
            "index": None if overall.suppressed else _pct(overall.index, overall.exact),
            "n": overall.n,
            "ci95": _ci(overall.ci95, overall.suppressed),
            "suppressed": overall.suppressed,
        },
        "factors": [
            {
                "code": f.code,
                "name": form_names.get(f.code, f.code),
                "index": None if f.suppressed else _pct(f.index, f.exact),
                "n": f.n,
                "ci95": _ci(f.ci95, f.suppressed),
                "suppressed": f.suppressed,
            }
            for f in score.factors
        ],
        "criteria": [
            {
                "code": c.code,
                "factor": c.factor,
                "index": None if c.suppressed else _pct(c.index, c.exact),
                "n": c.n,
                "counts": {str(level): c.counts[level] for level in sorted(c.counts)},
                "mean": None if c.suppressed or c.mean is None else half_up(c.mean, 2),
                "alarm_rate": None if c.suppressed else _pct(c.alarm_rate),
                "ci95": _ci(c.ci95, c.suppressed),
                "suppressed": c.suppressed,
            }
            for c in score.criteria
        ],
        "priorities": [
            {
                "code": p.code,
                "index": None if p.suppressed else _pct(p.index, p.exact),
                "n": p.n,
                "suppressed": p.suppressed,
            }
            for p in score.priorities
        ],
    }


def _field_json(name: str, score: FormScore) -> dict[str, Any]:
    overall = score.overall
    return {
        "field": name,
        "index": None if overall.suppressed else _pct(overall.index, overall.exact),
        "n": overall.n,
        "suppressed": overall.suppressed,
    }


def _percent_text(value: float | None, insufficient: str) -> str:
    """A percentage as people read it: one decimal, decimal comma (91,9%)."""
    if value is None:
        return insufficient
    return f"{value:.1f}".replace(".", ",") + "%"


def scope_text(report: dict[str, Any], services: Services, locale: str = "vi") -> str:
    """Which units a report's figures cover: "Phạm vi: Phường 8 (không gồm đơn vị trực thuộc)"."""
    key = "report.scope_with" if report.get("include_children") else "report.scope_without"
    return services.texts(locale, key, unit=report.get("unit_name") or report["unit"])


def render_text(report: dict[str, Any], services: Services, locale: str = "vi") -> str:
    """The report as plain text for the terminal or a chat."""
    t = services.texts
    none = t(locale, "report.insufficient")
    no_data = t(locale, "report.no_data")  # nothing to count, apart from too little (n < 5)

    def blank(n: int) -> str:
        return no_data if n == 0 else none

    start = date.fromisoformat(report["from"]).strftime("%d/%m/%Y")
    end = date.fromisoformat(report["to"]).strftime("%d/%m/%Y")
    dossiers, surveys, overall = report["dossiers"], report["surveys"], report["satisfaction"]
    ci = ""
    if overall["ci95"]:
        low, high = overall["ci95"]
        ci = t(locale, "report.ci", low=_percent_text(low, none), high=_percent_text(high, none))
    lines = [
        t(locale, "report.title", unit=report["unit_name"], code=report["unit"], start=start, end=end),
        scope_text(report, services, locale),
        t(locale, "report.form", form=form_title(services.catalog, report["form"], locale)),
        "",
        t(
            locale,
            "report.dossiers",
            **{k: v for k, v in dossiers.items() if k != "on_time_rate"},
            rate=_percent_text(dossiers["on_time_rate"], no_data),
        ),
        t(
            locale,
            "report.apologies",
            late=dossiers.get("apologies_late", 0),
            error=dossiers.get("apologies_error", 0),
        ),
        t(
            locale,
            "report.surveys",
            **{k: v for k, v in surveys.items() if k != "response_rate"},
            rate=_percent_text(surveys["response_rate"], no_data),
        ),
        t(locale, "report.respondents", respondents=surveys.get("respondents", 0)),
        "",
        t(locale, "report.overall", index=_percent_text(overall["index"], blank(overall["n"])), n=overall["n"], ci=ci),
    ]
    if report["factors"]:
        names = _factor_names(services, report["form"], locale)
        lines.append(t(locale, "report.factors"))
        lines += [
            t(
                locale,
                "report.factor_line",
                name=names.get(f["code"], f["name"]),
                index=_percent_text(f["index"], blank(f["n"])),
                n=f["n"],
            )
            for f in report["factors"]
        ]
    lines.append(t(locale, "report.criteria"))
    wording = question_texts(services.catalog, report["form"], locale)
    for c in report["criteria"]:
        counts = " · ".join(f"{level}: {count}" for level, count in c["counts"].items())
        lines.append(
            t(
                locale,
                "report.criterion_named",
                code=c["code"],
                text=shorten(wording.get(c["code"], "")),
                index=_percent_text(c["index"], blank(c["n"])),
                n=c["n"],
                counts=counts,
            )
        )
    lines += _priority_lines(report, services, locale, none)
    lines.append(t(locale, "report.by_field"))
    lines += [
        t(locale, "report.field_line", field=f["field"], index=_percent_text(f["index"], blank(f["n"])), n=f["n"])
        for f in report["by_field"]
    ] or [t(locale, "report.none")]
    if "by_channel" in report:
        lines.append(t(locale, "report.by_channel"))
        lines += [
            t(
                locale,
                "report.channel_line",
                channel=channel_name(c["channel"], locale),
                index=_percent_text(c["index"], blank(c["n"])),
                n=c["n"],
            )
            for c in report["by_channel"]
        ] or [t(locale, "report.none")]
    lines += ["", t(locale, "report.method")]
    return "\n".join(lines)


def _factor_names(services: Services, form_id: str, locale: str) -> dict[str, str]:
    """Each factor's name in ``locale`` by its code (the report's JSON names them in Vietnamese)."""
    if form_id not in services.catalog:
        return {}
    return {f.code: f.name.get(locale) for f in services.catalog.get(form_id).factors}


def _priority_lines(report: dict[str, Any], services: Services, locale: str, none: str) -> list[str]:
    """The priority index (docs/METHOD.md: share of "Rất nhiều" + "Nhiều") of each item, when the form asks any."""
    if not report.get("priorities"):
        return []
    t = services.texts
    form = services.catalog.get(report["form"]) if report["form"] in services.catalog else None
    texts = {q.code: q.text.get(locale) for q in form.questions} if form is not None else {}
    return [t(locale, "report.priorities")] + [
        t(
            locale,
            "report.priority_line",
            code=p["code"],
            text=texts.get(p["code"], ""),
            index=_percent_text(p["index"], none),
            n=p["n"],
        )
        for p in report["priorities"]
    ]
