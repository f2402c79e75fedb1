"""GET /reports/satisfaction: a unit's satisfaction report (docs/FIGURES.md) as JSON."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.web.openapi import Answer, Operation
from bot.web.routes.body_types import DATE_RE, YEARS, storable
from bot.web.routes.common import PREFIX, READ_REPORTS, ApiError, authorize, json_answer
from bot.web.server import APP
from bot.web.wording import term
from handlers.errors import NotFound
from handlers.leader.reporting import Period


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportDossiers(_Report):
    """Dossier counts of the period."""

    received: int
    resolved: int
    on_time: int
    late: int
    on_time_rate: float | None
    apologies: int
    late_without_apology: int
    overdue_open: int
    received_online: int = Field(description="received in the period through the online channel (truc_tuyen)")
    online_rate: float | None = Field(description="received_online ÷ received, in percent")
    supplement_repeated: int = Field(description="dossiers asked again (a second or later time) for a supplement")
    apologies_late: int = Field(description="Delay apologies issued in the period that were not in time.")
    apologies_error: int = Field(description="Apologies for an error in handling issued in the period.")


class ReportSurveys(_Report):
    """The survey funnel of the period."""

    offered: int
    delivered: int
    started: int
    completed: int
    response_rate: float | None
    respondents: int = Field(description="people who answered at least one item in the period (all of it scored)")


class ReportOverall(_Report):
    """The overall satisfaction index."""

    index: float | None
    n: int
    ci95: list[float] | None
    suppressed: bool


class ReportFactor(_Report):
    """One factor's index."""

    code: str
    name: str
    index: float | None
    n: int
    ci95: list[float] | None
    suppressed: bool


class ReportCriterion(_Report):
    """One criterion's index and answer counts."""

    code: str
    factor: str | None
    index: float | None
    n: int
    counts: dict[str, int]
    mean: float | None
    alarm_rate: float | None
    ci95: list[float] | None
    suppressed: bool


class ReportPriority(_Report):
    """One priority item's index."""

    code: str
    index: float | None
    n: int
    suppressed: bool


class ReportField(_Report):
    """The overall index within one field."""

    field: str
    index: float | None
    n: int
    suppressed: bool


class ReportProcedure(_Report):
    """The overall index among the answers about one procedure."""

    procedure: str
    index: float | None
    n: int
    suppressed: bool


class ReportChannel(_Report):
    """The overall index among the answers given on one channel (telegram, zalo_oa, zalo_bot, zns…)."""

    channel: str
    name: str = Field(description=f"the channel as people know it: Telegram, Zalo, Zalo OA, {term('zns')}…")
    index: float | None
    n: int
    suppressed: bool


class ReportFieldOnTime(_Report):
    """Dossiers of one field resolved in the period (a count: never suppressed)."""

    field: str
    resolved: int
    on_time: int
    late: int
    on_time_rate: float | None


class ReportComplaints(_Report):
    """Complaints received in the period and how many stand answered or closed; handled = answered + closed."""

    received: int
    answered: int
    closed: int
    handled_rate: float | None


class ReportOut(_Report):
    """The satisfaction report (docs/FIGURES.md): rates and indexes in percent (0–100) or null; n < 5 is suppressed."""

    model_config = ConfigDict(populate_by_name=True)

    unit: str
    unit_name: str
    from_: str = Field(alias="from", description="YYYY-MM-DD")
    to: str = Field(description="YYYY-MM-DD")
    include_children: bool
    form: str
    form_title: str = Field(description="the form's title, as the people answering it read it")
    dossiers: ReportDossiers
    surveys: ReportSurveys
    satisfaction: ReportOverall
    factors: list[ReportFactor]
    criteria: list[ReportCriterion]
    priorities: list[ReportPriority]
    by_field: list[ReportField]
    by_procedure: list[ReportProcedure]
    by_channel: list[ReportChannel]
    on_time_by_field: list[ReportFieldOnTime]
    complaints: ReportComplaints


REPORT_PARAMETERS = ("unit", "from", "to", "include_children", "form")
TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False}


def _query_date(request: web.Request, name: str) -> date | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid_input", f"{name}: expected a date as YYYY-MM-DD") from None
    if value.year not in YEARS:
        raise ApiError(422, "invalid_input", f"{name}: the year must be between {YEARS.start} and {YEARS.stop - 1}")
    return value


async def get_report(request: web.Request) -> web.Response:
    """GET /reports/satisfaction: the report of docs/FIGURES.md as JSON."""
    key = await authorize(request, (READ_REPORTS,))
    query = request.query
    for name in query:
        if name not in REPORT_PARAMETERS:
            raise ApiError(422, "invalid_input", f"{name}: unknown parameter (known: {', '.join(REPORT_PARAMETERS)})")
        if len(query.getall(name)) > 1:
            raise ApiError(422, "invalid_input", f"{name}: given more than once")
        try:
            storable(query[name])
        except ValueError as exc:
            raise ApiError(422, "invalid_input", f"{name}: {exc}") from None
    unit = query.get("unit", "").strip()
    if not unit:
        raise ApiError(422, "invalid_input", "unit: required")
    app = request.app[APP]
    async with app.services.uow(read_only=True) as uow:
        asked = await uow.units.get_by_code(unit)
    if asked is not None and not key.covers(asked.id):
        raise ApiError(403, "forbidden", f"unit: this key does not cover unit {unit!r}")
    policy = app.services.policy
    end = _query_date(request, "to") or policy.local_date(app.services.clock())
    start = _query_date(request, "from") or end.replace(day=1)
    if start > end:
        raise ApiError(422, "invalid_input", f"from: {start.isoformat()} is after to ({end.isoformat()})")
    flag = query.get("include_children", "false").strip().lower()
    if flag not in TRUE_WORDS:
        raise ApiError(422, "invalid_input", "include_children: expected true, false, 1 or 0")
    form = query.get("form", "").strip() or None
    if form is not None and form not in app.services.catalog:
        known = ", ".join(app.services.catalog.ids())
        raise ApiError(422, "invalid_input", f"form: unknown form {form!r} (known: {known})")
    try:
        report = await app.reporter.satisfaction(
            unit, Period(start, end), TRUE_WORDS[flag], form_id=form, breakdowns=True
        )
    except NotFound:
        raise ApiError(422, "unknown_unit", f"unit: unknown unit {unit!r}") from None
    return json_answer(report)


OPERATION = Operation(
    "GET",
    f"{PREFIX}/reports/satisfaction",
    get_report,
    "getSatisfactionReport",
    "The satisfaction report of a unit",
    "Counts, rates and indexes for local calendar days `from`–`to` (both included). Defaults: `to` is today, "
    "`from` the first day of `to`'s month. An unknown unit is 422 `unknown_unit`.",
    tag="reports",
    scopes=(READ_REPORTS,),
    parameters=(
        {"name": "unit", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
        {
            "name": "include_children",
            "in": "query",
            "required": False,
            "description": "Also count the units below this one.",
            "schema": {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"},
        },
        {
            "name": "form",
            "in": "query",
            "required": False,
            "description": "The form whose answers are scored (default: the unit's survey form). ZNS ratings "
            "are answers to `danh-gia-ho-so`.",
            "schema": {"type": "string"},
        },
    ),
    answers={200: Answer("The report (docs/FIGURES.md).", ReportOut)},
    errors=(422,),
)
