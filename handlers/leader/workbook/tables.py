"""The workbook's figure sheets, and how every data sheet is laid out (a bold, frozen, filtered header row).

The figure sheets: criteria, factors, priorities, fields against their targets, fields, procedures, channels.

Fields, procedures and channels come in Vietnamese alphabetical order, channels by their names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from handlers.collation import sorted_vietnamese
from handlers.leader.workbook.data import WorkbookData
from handlers.leader.workbook.filing import Page
from handlers.leader.workbook.printing import MEAN, WRAP, SheetWriter, Styled, Value, heading, setup_page
from handlers.leader.workbook.values import Cells, alphabetical, clean, heading_words
from handlers.leader.workbook.words import Words
from handlers.names import channel_name
from handlers.verdicts import met, rate_tenths, tenths
from survey_forms.scoring import MIN_N

CRITERIA_HEADERS = ("criterion_code", "factor", "criterion_text", "n")
CRITERIA_FIGURES = ("satisfaction_index", "mean", "alarm_rate", "ci_low", "ci_high")
FACTOR_HEADERS = ("factor_code", "factor_name", "n", "satisfaction_index", "ci_low", "ci_high")
PRIORITY_HEADERS = ("code", "content", "n", "priority_share")
FIELD_TARGET_HEADERS = (
    "field",
    "resolved",
    "on_time",
    "on_time_rate",
    "on_time_target",
    "on_time_verdict",
    "n",
    "satisfaction_index",
    "satisfaction_target",
    "satisfaction_verdict",
)
BREAKDOWN_FIGURES = ("n", "satisfaction_index")


@dataclass(frozen=True)
class Book:
    """A workbook being written: the file, what every printed page says, its words and figures."""

    wb: Workbook
    page: Page
    cells: Cells

    @property
    def words(self) -> Words:
        """The workbook's wording, in its locale."""
        return self.cells.words

    def table(
        self,
        sheet: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[Value]],
        *,
        filtered: bool = True,
        below: Sequence[Sequence[Value]] = (),
    ) -> None:
        """A data sheet (``sheet``: its name's key): a bold, frozen, filtered header row, and the rows below it.

        The header row is repeated on every printed page. ``below``: a second table under the first (its own title
        and headers among its rows), sized with it.
        """
        title = self.words(f"sheet.{sheet}")
        ws = self.wb.create_sheet(title)
        widths = self.cells.widths([[heading_words(h) for h in headers], *rows, *below], len(headers))
        ws.freeze_panes = "B2"
        if filtered:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
        self.set_up(ws, widths, title)
        writer = SheetWriter(ws, widths)
        writer.append([heading(h) for h in headers])
        for row in [*rows, *below]:
            writer.append(row)

    def set_up(self, ws: Any, widths: Sequence[float], title: str) -> None:
        """A data sheet's printing: its header row repeated, its name in the page header."""
        page = self.page
        setup_page(
            ws, widths, title_rows="1:1", header=page.header_of(title), made=page.made, page_number=page.page_number
        )


def write_figures(book: Book, data: WorkbookData) -> None:
    """The sheets of figures, in order: criteria, factors, priorities, field targets, fields, procedures, channels."""
    report, cells, w = data.report, book.cells, book.words
    texts = {code: text for code, _factor, text in data.questions}
    levels = [w("level", level=level) for level in "12345"]
    criteria = [*w.each(CRITERIA_HEADERS), *levels, *w.each(CRITERIA_FIGURES)]
    book.table("criteria", criteria, [_criterion_row(c, texts, cells) for c in report.get("criteria", [])])
    book.table("factors", w.each(FACTOR_HEADERS), [_factor_row(f, cells) for f in report.get("factors", [])])
    if report.get("priorities"):  # the priority index (docs/METHOD.md, the index method), for forms that ask priorities
        priorities = [_priority_row(p, texts, cells) for p in report["priorities"]]
        book.table("priorities", w.each(PRIORITY_HEADERS), priorities)
    if "on_time_by_field" in report:
        book.table("field_targets", w.each(FIELD_TARGET_HEADERS), _field_target_rows(data, cells))
    by_field = alphabetical(report.get("by_field", []), lambda f: str(f["field"]))
    fields = [
        [clean(f["field"]), int(f["n"]), cells.percent(f.get("index"), f.get("suppressed", False))] for f in by_field
    ]
    book.table("fields", w.each(("field", *BREAKDOWN_FIGURES)), fields)
    for sheet, key in (("procedures", "procedure"), ("channels", "channel")):
        if f"by_{key}" in report:

            def label(row: Mapping[str, Any], key: str = key) -> str:
                return clean(channel_name(row[key], book.words.locale) if key == "channel" else str(row[key]))

            rows: list[list[Value]] = [
                [label(row), int(row["n"]), cells.percent(row.get("index"), row.get("suppressed", False))]
                for row in alphabetical(report[f"by_{key}"], label)
            ]
            book.table(sheet, w.each((key, *BREAKDOWN_FIGURES)), rows)


def _criterion_row(c: Mapping[str, Any], texts: Mapping[str, str], cells: Cells) -> list[Value]:
    suppressed = bool(c.get("suppressed", False))
    counts: Mapping[str, int] = c.get("counts") or {}
    mean = c.get("mean")
    return [
        clean(c["code"]),
        clean(c.get("factor") or ""),
        Styled(clean(texts.get(c["code"], "")), alignment=WRAP),
        int(c["n"]),
        *(int(counts.get(level, 0)) for level in ("1", "2", "3", "4", "5")),
        cells.percent(c.get("index"), suppressed),
        cells.insufficient if suppressed or mean is None else Styled(float(mean), MEAN),
        cells.percent(c.get("alarm_rate"), suppressed),
        *cells.interval(c.get("ci95"), suppressed),
    ]


def _factor_row(f: Mapping[str, Any], cells: Cells) -> list[Value]:
    suppressed = bool(f.get("suppressed", False))
    return [
        clean(f["code"]),
        clean(f.get("name") or ""),
        int(f["n"]),
        cells.percent(f.get("index"), suppressed),
        *cells.interval(f.get("ci95"), suppressed),
    ]


def _priority_row(p: Mapping[str, Any], texts: Mapping[str, str], cells: Cells) -> list[Value]:
    text = texts.get(p["code"])
    return [
        clean(p["code"]),
        Styled(clean(text), alignment=WRAP) if text else None,
        int(p["n"]),
        cells.percent(p.get("index"), bool(p.get("suppressed", False))),
    ]


def _field_target_rows(data: WorkbookData, cells: Cells) -> list[list[Value]]:
    """Each field: on time (a count, never suppressed) and satisfaction (n < 5 suppressed) against its targets."""
    report = data.report
    on_time = {f["field"]: f for f in report.get("on_time_by_field", [])}
    satisfaction = {f["field"]: f for f in report.get("by_field", [])}
    unit_targets = (float(data.targets.get("satisfaction", 95.0)), float(data.targets.get("on_time", 95.0)))
    rows: list[list[Value]] = []
    for name in sorted_vietnamese(on_time.keys() | satisfaction.keys()):
        target_satisfaction, target_on_time = data.field_targets.get(name, unit_targets)
        counts = on_time.get(name, {"resolved": 0, "on_time": 0})
        rate = rate_tenths(int(counts["on_time"]), int(counts["resolved"]))
        figure = satisfaction.get(name, {"index": None, "n": 0, "suppressed": True})
        suppressed = bool(figure.get("suppressed")) or int(figure["n"]) < MIN_N
        index = None if suppressed else tenths(figure.get("index"))
        rows.append(
            [
                clean(name),
                int(counts["resolved"]),
                int(counts["on_time"]),
                cells.tenths_percent(rate),
                cells.percent(target_on_time),
                cells.judged(met(rate, target_on_time)),
                int(figure["n"]),
                cells.tenths_percent(index),
                cells.percent(target_satisfaction),
                cells.judged(met(index, target_satisfaction)),
            ]
        )
    return rows
