"""The public quarterly disclosure (docs/FIGURES.md): ``/cong-khai/{unit}`` as HTML and ``.json``, one view model.

This module reads the request (which unit, which quarter, with its subordinate units or not), builds the
:class:`~bot.web.disclosure.Disclosure` from the one reporting module, and renders it as a page or as JSON.
Nothing personal reaches it: the report holds counts and indexes only, and no other query is made but the
unit's name and its first dossier's date.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from bot.web.disclosure import Disclosure, method_text
from bot.web.disclosure_figures import ComplaintCounts, QuarterFigures, field_targets
from bot.web.quarters import FIRST_YEAR, Quarter, default_quarter
from bot.web.server import APP
from bot.web.wording import page_words
from handlers.admin.units import UNIT_CODE_RE
from handlers.errors import HandlerError, NotFound
from handlers.leader.reporting import Period

PREFIX = "/cong-khai"
CACHE_CONTROL = "public, max-age=300"
PREVIOUS_QUARTERS = 3
TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False, "": False}
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


def _asked_quarter(request: web.Request, today: date) -> Quarter | None:
    values = request.query.getall("quy", [])
    if len(values) > 1:
        raise PageError(400, "invalid_quarter", "quy: given more than once", page_words("error.quarter_twice"))
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
            page_words("error.quarter_invalid", first=FIRST_YEAR),
        ) from None
    if quarter.start > today:
        raise PageError(
            400,
            "future_quarter",
            f"quy: {quarter} has not begun yet",
            page_words("error.quarter_future", quarter=quarter.label),
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
            page_words("error.children"),
        )
    return TRUE_WORDS[text]


async def build_disclosure(request: web.Request, unit_code: str) -> Disclosure:
    """The view model for ``unit_code`` and the quarter asked for; PageError when it cannot be built."""
    app = request.app[APP]
    services = app.services
    policy = services.policy
    if not UNIT_CODE_RE.fullmatch(unit_code):
        raise PageError(404, "not_found", "no such unit", page_words("error.no_unit"))
    now = services.clock()
    today = policy.local_date(now)
    asked = _asked_quarter(request, today)
    include_children = _chosen_children(request)
    async with services.uow(read_only=True) as uow:
        unit = await uow.units.get_by_code(unit_code)
        if unit is None:
            raise PageError(404, "not_found", f"no unit {unit_code!r}", page_words("error.no_unit"))
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
        raise PageError(404, "not_found", f"no unit {unit_code!r}", page_words("error.no_unit")) from None
    except HandlerError as error:
        raise PageError(400, error.code, error.message, page_words("error.cannot_build")) from None
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
    return page_words("time_and_day", time=moment.strftime("%H:%M"), day=moment.strftime("%d/%m/%Y"))


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
