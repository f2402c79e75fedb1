"""The workbook's sheets about officers and dossiers (leaders only): the officers, the late dossiers, the apologies.

Officers come in Vietnamese alphabetical order; the handling officers' table has the receiving (one-stop-shop
counter) officers' one under it.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.leader.workbook.data import ApologySheetRow, LateRow, OfficerRow, ReceiverRow, WorkbookData
from handlers.leader.workbook.printing import BOLD_FONT, DATETIME, Styled, Value, day, heading
from handlers.leader.workbook.tables import Book
from handlers.leader.workbook.values import Cells, alphabetical, as_text
from handlers.leader.workbook.words import Words
from survey_forms.scoring import percent_of

OFFICER_HEADERS = (
    "officer",
    "resolved",
    "on_time",
    "late",
    "on_time_rate",
    "apologies",
    "satisfaction_level",
    "n",
    "apologies_late",
    "apologies_error",
)
RECEIVER_HEADERS = ("receiver", "received", "satisfaction_level", "n")
LATE_HEADERS = (
    "dossier_code",
    "procedure",
    "field",
    "handler",
    "received_on",
    "due_on",
    "finished_on",
    "state",
    "apology_number",
    "new_due_on",
    "late_reason",
)
APOLOGY_HEADERS = (
    "dossier_code",
    "slip_number",
    "kind",
    "handler",
    "issued_by",
    "issued_at",
    "due_on",
    "new_due_on",
    "reason",
    "on_time",
)
NO_VERDICT = "—"  # an error apology has no time to keep


def write_people(book: Book, data: WorkbookData) -> None:
    """The officers' sheet (when the caller gave officers), the late dossiers, the apologies (when given)."""
    cells, w = book.cells, book.words
    if data.officers is not None:
        officers = [_officer_row(o, cells) for o in alphabetical(data.officers, lambda o: o.name)]
        book.table("officers", w.each(OFFICER_HEADERS), officers, below=_receiver_rows(data.receivers, cells))
    book.table("late", w.each(LATE_HEADERS), [_late_row(d) for d in data.late])
    if data.apologies is not None:
        book.table("apologies", w.each(APOLOGY_HEADERS), [_apology_row(a, w) for a in data.apologies])


def _officer_row(o: OfficerRow, cells: Cells) -> list[Value]:
    return [
        as_text(o.name),
        o.resolved,
        o.on_time,
        o.late,
        cells.percent(percent_of(o.on_time, o.resolved)),  # the reporting module's rounding: once, half-up
        o.apologies,
        cells.percent(o.satisfaction, o.suppressed),
        o.n,
        o.apologies_late,
        o.apologies_error,
    ]


def _receiver_rows(receivers: Sequence[ReceiverRow], cells: Cells) -> list[list[Value]]:
    """The receiving officers' table under the handling officers' one: a blank row, its title, its headers."""
    if not receivers:
        return []
    w = cells.words
    rows: list[list[Value]] = [
        [],
        [Styled(w("receivers_title"), font=BOLD_FONT)],
        [heading(h) for h in w.each(RECEIVER_HEADERS)],
    ]
    for r in alphabetical(receivers, lambda r: r.name):
        rows.append([as_text(r.name), r.received, cells.percent(r.satisfaction, r.suppressed), r.n])
    return rows


def _apology_row(a: ApologySheetRow, w: Words) -> list[Value]:
    in_time = NO_VERDICT if a.in_time is None else w("on_time") if a.in_time else w("not_on_time")
    kind = w(f"apology_kind.{a.kind}") if a.kind in ("delay", "error") else a.kind
    return [
        as_text(a.code),
        as_text(a.number),
        kind,
        as_text(a.handler),
        as_text(a.issued_by),
        Styled(a.issued_at.replace(tzinfo=None), DATETIME),
        day(a.due),
        day(a.new_due),
        as_text(a.reason),
        in_time,
    ]


def _late_row(d: LateRow) -> list[Value]:
    return [
        as_text(d.code),
        as_text(d.procedure),
        as_text(d.field),
        as_text(d.handler),
        day(d.received),
        day(d.due),
        day(d.finished),
        as_text(d.state),
        as_text(d.apology_number),
        day(d.new_due),
        as_text(d.reason),
    ]
