"""The workbook's first sheet, the summary officials sign: its figures between the header and signature blocks.

The header block, the unit and period, the dossiers, the surveys, satisfaction, the targets, online dossiers and
complaints, then the signatures.

The information rows' values span the figure columns (B to D), read from the left as their labels are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from openpyxl.styles import Alignment

from handlers.leader.workbook.data import WorkbookData
from handlers.leader.workbook.filing import header_block, signature_block
from handlers.leader.workbook.printing import DATETIME, SheetWriter, Styled, Value, day, heading, setup_page
from handlers.leader.workbook.tables import Book
from handlers.leader.workbook.values import Cells, clean
from handlers.verdicts import met, rate_tenths

COMPLAINTS_TARGET = 100.0  # every complaint handled (seeds 000, 002; docs/METHOD.md, targets)
# the targets the summary compares against, in the order shown
TARGET_LABELS = {"satisfaction": "overall_satisfaction", "on_time": "on_time_rate_long"}
# the summary's columns: the labels, then the figures (B is where the information rows' values start)
SUMMARY_WIDTHS = (44.0, 18.0, 14.0, 16.0)
_LEFT = Alignment(horizontal="left", vertical="top", wrap_text=True)


def _left(value: Value) -> Styled:
    """A value aligned left (a date too), wrapped if long."""
    if isinstance(value, Styled):
        return replace(value, alignment=_LEFT)
    return Styled(value, alignment=_LEFT)


def _info_rows(data: WorkbookData, cells: Cells) -> list[list[Value]]:
    """The unit, the period, the form, the scope, where the method is, when the workbook was made."""
    report, w = data.report, cells.words
    info: list[list[Value]] = [
        [w("unit"), clean(data.unit_name)],
        [w("unit_code"), clean(str(report.get("unit", "")))],
        [w("from_day"), day(date.fromisoformat(report["from"]))],
        [w("to_day"), day(date.fromisoformat(report["to"]))],
        [w("form"), clean(data.form_title or str(report.get("form", "")))],
    ]
    if "include_children" in report:
        scope = w("scope.with_children" if report["include_children"] else "scope.without_children")
        info.append([w("scope"), clean(w("scope.of", unit=data.unit_name, scope=scope))])
    info.append([w("method_note")])
    if data.generated_at is not None:
        info.append([w("generated_at"), Styled(data.generated_at.replace(tzinfo=None), DATETIME)])
    return info


def _figure_rows(data: WorkbookData, cells: Cells) -> list[list[Value]]:
    """The dossiers, the surveys, satisfaction and the targets, each under its own heading."""
    report, w = data.report, cells.words
    dossiers: Mapping[str, Any] = report.get("dossiers") or {}
    surveys: Mapping[str, Any] = report.get("surveys") or {}
    overall: Mapping[str, Any] = report.get("satisfaction") or {}
    overall_suppressed = bool(overall.get("suppressed", True))
    overall_index = None if overall_suppressed else overall.get("index")

    def counted(keys: tuple[str, ...], figures: Mapping[str, Any]) -> list[list[Value]]:
        return [[w(f"summary.{key}"), int(figures.get(key, 0))] for key in keys]

    rows: list[list[Value]] = [
        [],
        section(cells, "dossiers", "count"),
        *counted(("received", "resolved", "on_time", "late"), dossiers),
        [w("on_time_rate"), cells.percent(dossiers.get("on_time_rate"))],
        *counted(("apologies", "apologies_late", "apologies_error", "late_without_apology", "overdue_open"), dossiers),
        [],
        section(cells, "surveys", "count"),
        *counted(("offered", "delivered", "started", "completed"), surveys),
        [w("response_rate"), cells.percent(surveys.get("response_rate"))],
        *counted(("respondents",), surveys),
        [],
        section(cells, "satisfaction", "result"),
        [w("overall_satisfaction"), cells.percent(overall_index, overall_suppressed)],
        [w("n"), int(overall.get("n", 0))],
    ]
    low, high = cells.interval(overall.get("ci95"), overall_suppressed)
    rows += [[w("ci_low_long"), low], [w("ci_high_long"), high]]

    # the figure and the cases behind it: answers for satisfaction, resolved dossiers for on time
    results = {"satisfaction": overall_index, "on_time": dossiers.get("on_time_rate")}
    targets = [(key, float(data.targets[key])) for key in TARGET_LABELS if key in data.targets]
    if targets:
        rows += [[], section(cells, "targets", "target", "result", "verdict")]
        for key, target in targets:
            value = results[key]
            rows.append(
                [w(TARGET_LABELS[key]), cells.percent(target), cells.percent(value), cells.verdict(value, target)]
            )
    return rows


def section(cells: Cells, *keys: str) -> list[Value]:
    """A section's heading row: its title, then the name of each figure column."""
    return [heading(cells.words(f"section.{key}")) for key in keys]


def _seed_rows(report: Mapping[str, Any], cells: Cells) -> list[list[Value]]:
    """The summary's rows for online dossiers, repeated supplements and complaints (when the report has them)."""
    rows: list[list[Value]] = []
    w = cells.words
    dossiers: Mapping[str, Any] = report.get("dossiers") or {}
    if "received_online" in dossiers:
        online, received = int(dossiers["received_online"]), int(dossiers.get("received", 0))
        rows += [
            [],
            section(cells, "online", "count"),
            [w("summary.received_online"), online],
            [w("summary.online_rate"), cells.tenths_percent(rate_tenths(online, received))],
            [w("summary.supplement_repeated"), int(dossiers.get("supplement_repeated", 0))],
        ]
    complaints: Mapping[str, Any] | None = report.get("complaints")
    if complaints is not None:
        received = int(complaints["received"])
        handled = int(complaints["answered"]) + int(complaints["closed"])
        rate = rate_tenths(handled, received)
        rows += [
            [],
            section(cells, "complaints", "count", "target", "verdict"),
            [w("summary.complaints_received"), received],
            [w("summary.complaints_answered"), int(complaints["answered"])],
            [w("summary.complaints_closed"), int(complaints["closed"])],
            [
                w("summary.complaints_handled_rate"),
                cells.tenths_percent(rate),
                cells.percent(COMPLAINTS_TARGET),
                cells.judged(met(rate, COMPLAINTS_TARGET)),
            ],
        ]
    return rows


def write_summary(book: Book, data: WorkbookData) -> None:
    """The summary sheet, opened by the header block and closed by the signatures."""
    page, w = book.page, book.words
    ws = book.wb.create_sheet(w("sheet.summary"))
    columns = len(SUMMARY_WIDTHS)
    authority = [clean(line) for line in data.authority] or [clean(data.unit_name)]
    block, title_row = header_block(authority, clean(data.title), page, columns, w)
    title_rows = f"{title_row}:{title_row}"
    setup_page(
        ws, SUMMARY_WIDTHS, title_rows=title_rows, header=page.header, made=page.made, page_number=page.page_number
    )
    ws.HeaderFooter.differentFirst = True  # the first page opens with the header block itself
    ws.firstFooter.right.text = ws.oddFooter.right.text
    writer = SheetWriter(ws, SUMMARY_WIDTHS)
    for values, span in block:
        writer.append(values, span=span)
    for values in _info_rows(data, book.cells):
        if len(values) == 2:  # a value spanning the figure columns, read from the left as the label is
            writer.append([values[0], _left(values[1])], span=columns)
        else:
            writer.append(values)
    for values in [*_figure_rows(data, book.cells), *_seed_rows(data.report, book.cells)]:
        writer.append(values)
    place = clean(data.place or data.unit_name)
    for values, span, height in signature_block(place, page.made_day, columns, w):
        writer.append(values, span=span, height=height)
