"""The parts of the workbook that officials file: the header and signature blocks, complaints, the units below.

The summary opens as the ward's own reports do (seeds 003, 004): the unit on the left (the body above it, then
the unit, in capitals), the national motto on the right, the title in capitals, the period and the day it was
made; it closes with the place and date and the two signatures of a statistical report, "NGƯỜI LẬP BIỂU" (who
drew it up) and "THỦ TRƯỞNG ĐƠN VỊ" (the head of the unit).

The complaints sheet gives counts only (by state, the handled rate, the backlog and its oldest complaint): never a
complaint's text, a dossier or a person. The units-below sheet gives each unit right below the figures of its own
report JSON, the same as the digest's ranking of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from handlers.leader.workbook.printing import BOLD_FONT, CENTRE, ITALIC_FONT, TITLE_FONT, Styled, Value, day, heading
from handlers.leader.workbook.values import Cells
from handlers.leader.workbook.words import Words
from handlers.verdicts import rate_tenths

MOTTO = ("motto.state", "motto.words")
SIGNERS = (("signer.drafter", "signer.drafter_hint"), ("signer.head", "signer.head_hint"))
SIGNATURE_ROOM = (4, 18.0)  # blank rows left to sign in, and each one's height in points
NO_DATE = "—"

# a row of a block: its values, and the column its last value is merged up to (None: not merged)
Row = tuple[list[Value], int | None]


@dataclass(frozen=True)
class Page:
    """What every printed page says about the workbook: the unit, the title, the period, when it was made."""

    unit: str
    title: str
    period: str  # "Từ 01/11/2026 đến 30/11/2026"
    made: str  # "Lập lúc 07:00 ngày 01/12/2026", or "" when not given
    made_day: date | None
    page_number: str  # the footer's page number ("Trang &P/&N")

    @classmethod
    def of(cls, unit: str, title: str, report: Mapping[str, Any], generated_at: datetime | None, words: Words) -> Page:
        """The page notes of a workbook of ``report``."""
        start, end = date.fromisoformat(report["from"]), date.fromisoformat(report["to"])
        period = words("period", start=f"{start:%d/%m/%Y}", end=f"{end:%d/%m/%Y}")
        made_day = None if generated_at is None else generated_at.date()
        return cls(unit, title, period, words.made_on(generated_at), made_day, words("page_number"))

    @property
    def header(self) -> tuple[str, str, str]:
        """The page header (left, centre, right)."""
        return self.unit, self.title, self.period

    def header_of(self, sheet: str) -> tuple[str, str, str]:
        """The page header of a sheet: its name after the title."""
        return self.unit, f"{self.title} — {sheet}", self.period


@dataclass(frozen=True)
class ComplaintBacklog:
    """Complaints neither answered nor closed at ``as_of``, whenever received: how many, the oldest one's day."""

    open: int
    oldest: date | None
    as_of: datetime  # local time: the end of the period, or the time the workbook is made if earlier


def _centred(text: str, font: Any = BOLD_FONT) -> Styled:
    return Styled(text, font=font, alignment=CENTRE)


def header_block(authority: Sequence[str], title: str, page: Page, columns: int, words: Words) -> tuple[list[Row], int]:
    """The summary's opening rows, and the (1-based) row of its title.

    Column A holds the authority, one line each, in capitals; columns B to the last the national motto.
    """
    lines = [line.upper() for line in authority if line.strip()] or [page.unit.upper()]
    motto = words.each(MOTTO)
    rows: list[Row] = []
    for index in range(max(len(lines), len(motto))):
        left = _centred(lines[index]) if index < len(lines) else None
        right = _centred(motto[index]) if index < len(motto) else None
        rows.append(([left, right] if right is not None else [left], columns if right is not None else None))
    rows.append(([], None))
    rows.append(([_centred(title.upper(), TITLE_FONT)], columns))
    title_row = len(rows)
    period = words("period_line", period=f"{page.period[0].lower()}{page.period[1:]}")
    rows.append(([_centred(period, ITALIC_FONT)], columns))
    if page.made_day is not None:
        rows.append(([_centred(words("made_day_line", day=f"{page.made_day:%d/%m/%Y}"), ITALIC_FONT)], columns))
    rows.append(([], None))
    return rows, title_row


def signature_block(
    place: str, made: date | None, columns: int, words: Words
) -> list[tuple[list[Value], int | None, float | None]]:
    """The summary's closing rows: "<place>, ngày … tháng … năm …", the two signers side by side, room to sign.

    Each row: its values, the column its last value is merged up to, its height (None: as its text needs).
    """
    dated = words("signed_at", place=place, date=words.official_date(made) if made is not None else words.blank_date())
    (left, left_hint), (right, right_hint) = (words.each(signer) for signer in SIGNERS)
    rows: list[tuple[list[Value], int | None, float | None]] = [([], None, None), ([], None, None)]
    rows.append(([None, _centred(dated, ITALIC_FONT)], columns, None))
    rows.append(([_centred(left), _centred(right)], columns, None))
    rows.append(([_centred(left_hint, ITALIC_FONT), _centred(right_hint, ITALIC_FONT)], columns, None))
    count, height = SIGNATURE_ROOM
    rows += [([], None, height)] * count
    return rows


def _as_of_words(as_of: datetime, words: Words) -> str:
    """The backlog's time in words: "hết ngày 30/11/2026" at midnight (a period's end), else "07:00 ngày …"."""
    if (as_of.hour, as_of.minute, as_of.second) == (0, 0, 0):
        return words("as_of.day_end", day=f"{as_of.date() - timedelta(days=1):%d/%m/%Y}")
    return words("as_of.time", time=f"{as_of:%H:%M}", day=f"{as_of:%d/%m/%Y}")


COMPLAINT_HEADERS = ("complaints.received_in_period", "count", "target", "verdict")


def complaint_rows(
    complaints: Mapping[str, Any], backlog: ComplaintBacklog | None, target: float, cells: Cells
) -> list[list[Value]]:
    """The complaints sheet under its headers: the period's complaints by state now, then the backlog.

    The counts by state are the report's (``complaints``), so they add up to the summary's and the digest's.
    """
    received, answered, closed = (int(complaints[key]) for key in ("received", "answered", "closed"))
    rate = rate_tenths(answered + closed, received)
    w = cells.words
    rows: list[list[Value]] = [
        [w("complaints.received"), received],
        [w("complaints.open"), received - answered - closed],
        [w("complaints.answered"), answered],
        [w("complaints.closed"), closed],
        [w("complaints.handled_rate"), cells.tenths_percent(rate), cells.percent(target), cells.against(rate, target)],
    ]
    if backlog is not None:
        waited: Value = NO_DATE if backlog.oldest is None else (backlog.as_of.date() - backlog.oldest).days
        rows += [
            [],
            [heading(w("complaints.backlog", as_of=_as_of_words(backlog.as_of, w))), heading(w("count"))],
            [w("complaints.backlog_open"), backlog.open],
            [w("complaints.backlog_oldest"), day(backlog.oldest) if backlog.oldest else NO_DATE],
            [w("complaints.backlog_waited"), waited],
        ]
    rows += [[], [w("complaints.note")]]
    return rows


CHILD_HEADERS = (
    "unit",
    "unit_code",
    "dossiers_received",
    "summary.resolved",
    "on_time",
    "late",
    "on_time_rate",
    "summary.late_without_apology",
    "summary.overdue_open",
    "n",
    "satisfaction_index",
    "summary.complaints_received",
    "summary.complaints_handled_rate",
)


def child_row(report: Mapping[str, Any], clean: Callable[[str], str], cells: Cells) -> list[Value]:
    """A unit right below, from its own report JSON."""
    dossiers: Mapping[str, Any] = report.get("dossiers") or {}
    overall: Mapping[str, Any] = report.get("satisfaction") or {}
    complaints: Mapping[str, Any] = report.get("complaints") or {}
    suppressed = bool(overall.get("suppressed", True))
    return [
        clean(str(report.get("unit_name") or report["unit"])),
        clean(str(report["unit"])),
        int(dossiers.get("received", 0)),
        int(dossiers.get("resolved", 0)),
        int(dossiers.get("on_time", 0)),
        int(dossiers.get("late", 0)),
        cells.percent(dossiers.get("on_time_rate")),
        int(dossiers.get("late_without_apology", 0)),
        int(dossiers.get("overdue_open", 0)),
        int(overall.get("n", 0)),
        cells.percent(overall.get("index"), suppressed),
        int(complaints.get("received", 0)),
        cells.percent(complaints.get("handled_rate")),
    ]


QUESTION_HEADERS = ("question_code", "factor", "question_text", "question_answers")


def question_rows(
    questions: Sequence[tuple[str, str, str]], options: Mapping[str, Mapping[str, str]], clean: Callable[[str], str]
) -> list[list[Value]]:
    """Each question of the answers sheet: its code, factor, wording and answers (a rating's levels by number)."""
    rows: list[list[Value]] = []
    for code, factor, text in questions:
        labels = options.get(code) or {}
        if labels and all(value.isdigit() for value in labels):
            answers = "; ".join(f"{value} = {label}" for value, label in labels.items())
        else:
            answers = "; ".join(labels.values())
        rows.append([clean(code), clean(factor), clean(text), clean(answers) or None])
    return rows
