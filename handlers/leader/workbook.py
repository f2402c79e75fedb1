"""The monthly and quarterly Excel report (docs/FIGURES.md): plain data in, .xlsx bytes out.

Every figure comes from the reporting module's JSON as it is; this module only lays it out. A
suppressed figure (``suppressed: true`` or a null) is written as the text "chưa đủ dữ liệu", never as a
number. Percentages are written as fractions with the ``0.0%`` format, so Excel shows them the way
the people reading it are used to, and dates are real dates shown as dd/mm/yyyy. Answers are shown by their
labels ("Rất nhiều", "Nữ"), channels by their names, fields, procedures, officers and units in Vietnamese
alphabetical order.

It prints and files as officials expect (handlers.leader.workbook_print): every sheet on A4, one page wide, its
titles repeated, in one serif font; the summary opens with the unit and the national motto and closes with
the signatures (handlers.leader.workbook_filing).

The workbook is written in openpyxl's write-only mode (rows streamed to disk, not held as cell
objects) and the archive is re-packed with fixed timestamps, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from handlers.collation import sorted_vietnamese
from handlers.leader.workbook_filing import (
    CHILD_HEADERS,
    COMPLAINT_HEADERS,
    QUESTION_HEADERS,
    ComplaintBacklog,
    Page,
    child_row,
    complaint_rows,
    header_block,
    question_rows,
    signature_block,
)
from handlers.leader.workbook_print import (
    BOLD_FONT,
    DATETIME,
    INSUFFICIENT,
    MEAN,
    MET,
    NOT_MET,
    PERCENT,
    WRAP,
    SheetWriter,
    Styled,
    Value,
    code_width,
    day,
    heading,
    percent,
    setup_page,
    shown_length,
    use_one_font,
)
from handlers.names import channel_name
from handlers.verdicts import met, rate_tenths, tenths
from survey_forms.scoring import MIN_N, percent_of

__all__ = ["INSUFFICIENT", "MET", "NOT_MET", "PERCENT", "WorkbookData", "build_workbook"]

METHOD_NOTE = "Cách tính các số liệu: docs/FIGURES.md"

SHEET_SUMMARY = "Tổng hợp"
SHEET_CRITERIA = "Tiêu chí"
SHEET_FACTORS = "Yếu tố"
SHEET_PRIORITIES = "Ưu tiên cải thiện"
SHEET_FIELDS = "Lĩnh vực"
SHEET_PROCEDURES = "Thủ tục"
SHEET_CHANNELS = "Kênh"
SHEET_CHILDREN = "Đơn vị trực thuộc"
SHEET_COMPLAINTS = "Phản ánh, kiến nghị"
SHEET_OFFICERS = "Cán bộ"
SHEET_LATE = "Hồ sơ trễ hạn"
SHEET_APOLOGIES = "Phiếu xin lỗi"
APOLOGY_KIND_WORDS = {"delay": "Trễ hạn", "error": "Sai sót"}
SHEET_ANSWERS = "Dữ liệu khảo sát"
SHEET_QUESTIONS = "Câu hỏi"
SHEET_FIELD_TARGETS = "Chỉ tiêu lĩnh vực"
COMPLAINTS_TARGET = 100.0  # every complaint handled (seeds 000, 002; docs/METHOD.md, targets)

# the document's created/modified stamp when no generation time is given, and every zip entry's date:
# the earliest a zip can carry, so two builds of the same data are byte for byte the same
FIXED_STAMP = datetime(1980, 1, 1)  # naive: openpyxl stores these as UTC without a zone
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

RATING_VALUES = frozenset({"1", "2", "3", "4", "5"})

# the targets the summary compares against, in the order shown
_TARGET_LABELS = {"satisfaction": "Chỉ số hài lòng chung", "on_time": "Tỷ lệ giải quyết đúng hạn"}

_MIN_WIDTH = 9.0
_MAX_WIDTH = 48.0  # longer text wraps, its row made taller
_WIDTH_SAMPLE = 2000  # answers looked at to size the answer columns
_ANSWER_WIDTH = 14.0  # an answer's column at most: longer labels wrap

# the summary's columns: the labels, then the figures (B is where the information rows' values start)
_SUMMARY_WIDTHS = (44.0, 18.0, 14.0, 16.0)
_LEFT = Alignment(horizontal="left", vertical="top", wrap_text=True)


@dataclass(frozen=True)
class OfficerRow:
    """One handling officer's period (leaders only)."""

    name: str
    resolved: int
    on_time: int
    late: int
    apologies: int  # delay apologies issued in the period for the officer's dossiers
    satisfaction: float | None  # 0–100, None when suppressed or no answers
    n: int  # answers behind satisfaction (completed surveys of the officer's dossiers)
    suppressed: bool  # n < 5: show "chưa đủ dữ liệu"
    apologies_late: int = 0  # of ``apologies``, those not issued in time
    apologies_error: int = 0  # apologies for an error in handling the officer's dossiers


def issuer(issued_by: str, issued_key: str | None) -> str:
    """Who issued an apology: the officer named, and the API key that sent it when one did (both kept)."""
    return f"{issued_by} (khóa API “{issued_key}”)" if issued_key else issued_by


@dataclass(frozen=True)
class ApologySheetRow:
    """An apology issued in the period (leaders only): a delay or an error one."""

    code: str
    handler: str | None  # the dossier's handling officer
    issued_by: str  # who issued the apology
    issued_at: datetime  # local time, naive or aware
    due: date
    new_due: date | None  # None for an error apology
    reason: str
    kind: str  # "delay" | "error"
    in_time: bool | None  # None for an error apology
    number: str | None


@dataclass(frozen=True)
class ReceiverRow:
    """One receiving (one-stop-shop counter) officer's period (leaders only)."""

    name: str
    received: int  # dossiers they took in during the period
    satisfaction: float | None  # 0–100, None when suppressed or no answers
    n: int  # answers behind satisfaction (surveys of the dossiers they took in)
    suppressed: bool  # n < 5: show "chưa đủ dữ liệu"


@dataclass(frozen=True)
class LateRow:
    """A dossier that ran (or is running) late, with its apology if any."""

    code: str
    procedure: str
    field: str
    handler: str | None
    received: date
    due: date
    finished: date | None
    state: str  # already in Vietnamese, e.g. "đang xử lý"
    apology_number: str | None  # e.g. "3/PXL"
    new_due: date | None
    reason: str | None


@dataclass(frozen=True)
class AnswerRow:
    """One respondent's answers scored in the period, anonymised: a pseudonymous code and the values by question."""

    respondent: str  # e.g. "PK-000123" (never a name or phone)
    completed: date | None  # None: the survey was not finished (its answers are scored all the same)
    field: str
    channel: str  # telegram, zalo_oa, zalo_bot, zns, console: shown by its name (handlers.names)
    values: Mapping[str, str | None]  # question code -> answer value ("1".."5", an option value) or redacted text


@dataclass(frozen=True)
class WorkbookData:
    """Everything the workbook shows, gathered by the caller."""

    title: str  # "Báo cáo mức độ hài lòng tháng 11/2026" / "… quý IV/2026"
    unit_name: str
    report: Mapping[str, Any]  # Reporter.satisfaction(...) JSON, exactly as the API returns it
    questions: Sequence[tuple[str, str, str]]  # (code, factor code or "", Vietnamese text) in form order
    late: Sequence[LateRow]
    answers: Sequence[AnswerRow]
    officers: Sequence[OfficerRow] | None = None  # None: the sheet is left out (not for public use)
    # receiving officers, as a second table of the officers' sheet (none: left out; never without ``officers``)
    receivers: Sequence[ReceiverRow] = ()
    apologies: Sequence[ApologySheetRow] | None = None  # None: the "Phiếu xin lỗi" sheet is left out
    targets: Mapping[str, float] = field(default_factory=lambda: {"satisfaction": 95.0, "on_time": 95.0})
    generated_at: datetime | None = None  # local time, shown on the summary; None: left out (deterministic tests)
    # field -> (satisfaction, on time) targets, where they differ from ``targets`` (sipasbot targets set --field)
    field_targets: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    form_title: str | None = None  # the survey form's title, shown for its id on the summary
    # each question's answers by value: code -> value -> label ("UT1" -> "rat-nhieu" -> "Rất nhiều")
    options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # the header's left block, one line each ("Ủy ban nhân dân", "Phường 8"); none: the unit's name
    authority: Sequence[str] = ()
    place: str | None = None  # the place the summary is signed at ("Phường 8, ngày …"); None: the unit's name
    # the report JSON of each unit right below (the "Đơn vị trực thuộc" sheet); None or none: left out
    children: Sequence[Mapping[str, Any]] | None = None
    complaints_open: ComplaintBacklog | None = None  # complaints not handled at the period's end (leaders only)


def build_workbook(data: WorkbookData) -> bytes:
    """The report as an .xlsx file."""
    wb = Workbook(write_only=True)
    use_one_font(wb)
    wb.properties.title = _clean(data.title)
    wb.properties.creator = "SIPAS Bot"
    stamp = _document_stamp(data.generated_at)
    wb.properties.created = stamp
    wb.properties.modified = stamp

    report = data.report
    page = Page.of(_clean(data.unit_name), _clean(data.title), report, data.generated_at)
    texts = {code: text for code, _factor, text in data.questions}
    _write_summary(wb, data, page)
    _write_table(
        wb,
        page,
        SHEET_CRITERIA,
        [
            "Mã tiêu chí",
            "Yếu tố",
            "Nội dung tiêu chí",
            "Số câu trả lời (n)",
            "Mức 1",
            "Mức 2",
            "Mức 3",
            "Mức 4",
            "Mức 5",
            "Chỉ số hài lòng",
            "Điểm trung bình",
            "Tỷ lệ không hài lòng (mức 1–2)",
            "KTC 95% – cận dưới",
            "KTC 95% – cận trên",
        ],
        [_criterion_row(c, texts) for c in report.get("criteria", [])],
    )
    _write_table(
        wb,
        page,
        SHEET_FACTORS,
        [
            "Mã yếu tố",
            "Tên yếu tố",
            "Số câu trả lời (n)",
            "Chỉ số hài lòng",
            "KTC 95% – cận dưới",
            "KTC 95% – cận trên",
        ],
        [_factor_row(f) for f in report.get("factors", [])],
    )
    if report.get("priorities"):  # the priority index (docs/METHOD.md, the index method), for forms that ask priorities
        _write_table(
            wb,
            page,
            SHEET_PRIORITIES,
            ["Mã", "Nội dung", "Số câu trả lời (n)", "Tỷ lệ “Rất nhiều” + “Nhiều”"],
            [_priority_row(p, texts) for p in report["priorities"]],
        )
    if "on_time_by_field" in report:
        _write_table(
            wb,
            page,
            SHEET_FIELD_TARGETS,
            [
                "Lĩnh vực",
                "Hồ sơ đã giải quyết",
                "Đúng hạn",
                "Tỷ lệ đúng hạn",
                "Mục tiêu đúng hạn",
                "Đánh giá đúng hạn",
                "Số câu trả lời (n)",
                "Chỉ số hài lòng",
                "Mục tiêu hài lòng",
                "Đánh giá hài lòng",
            ],
            _field_target_rows(data),
        )
    _write_table(
        wb,
        page,
        SHEET_FIELDS,
        ["Lĩnh vực", "Số câu trả lời (n)", "Chỉ số hài lòng"],
        [
            [_clean(f["field"]), int(f["n"]), _percent(f.get("index"), f.get("suppressed", False))]
            for f in _alphabetical(report.get("by_field", []), lambda f: str(f["field"]))
        ],
    )
    for sheet, key, header in ((SHEET_PROCEDURES, "procedure", "Thủ tục"), (SHEET_CHANNELS, "channel", "Kênh")):
        if f"by_{key}" in report:

            def label(row: Mapping[str, Any], key: str = key) -> str:
                return _clean(channel_name(row[key]) if key == "channel" else str(row[key]))

            _write_table(
                wb,
                page,
                sheet,
                [header, "Số câu trả lời (n)", "Chỉ số hài lòng"],
                [
                    [label(row), int(row["n"]), _percent(row.get("index"), row.get("suppressed", False))]
                    for row in _alphabetical(report[f"by_{key}"], label)
                ],
            )
    if data.children:
        children = [child_row(child, _clean) for child in data.children]
        _write_table(wb, page, SHEET_CHILDREN, CHILD_HEADERS, _alphabetical(children, lambda row: str(row[0])))
    if report.get("complaints") is not None:
        _write_table(
            wb,
            page,
            SHEET_COMPLAINTS,
            COMPLAINT_HEADERS,
            complaint_rows(report["complaints"], data.complaints_open, COMPLAINTS_TARGET),
            filtered=False,
        )
    if data.officers is not None:
        _write_table(
            wb,
            page,
            SHEET_OFFICERS,
            [
                "Cán bộ",
                "Hồ sơ đã giải quyết",
                "Đúng hạn",
                "Trễ hạn",
                "Tỷ lệ đúng hạn",
                "Phiếu xin lỗi",
                "Mức độ hài lòng",
                "Số câu trả lời (n)",
                "Xin lỗi không đúng hạn",
                "Phiếu xin lỗi do sai sót",
            ],
            [_officer_row(o) for o in _alphabetical(data.officers, lambda o: o.name)],
            below=_receiver_rows(data.receivers),
        )
    _write_table(
        wb,
        page,
        SHEET_LATE,
        [
            "Mã hồ sơ",
            "Thủ tục",
            "Lĩnh vực",
            "Cán bộ xử lý",
            "Ngày tiếp nhận",
            "Ngày hẹn trả",
            "Ngày hoàn thành",
            "Trạng thái",
            "Số phiếu xin lỗi",
            "Ngày hẹn mới",
            "Lý do trễ hạn",
        ],
        [_late_row(d) for d in data.late],
    )
    if data.apologies is not None:
        _write_table(
            wb,
            page,
            SHEET_APOLOGIES,
            [
                "Mã hồ sơ",
                "Số phiếu",
                "Loại",
                "Cán bộ xử lý",
                "Người lập phiếu",
                "Thời điểm lập",
                "Ngày hẹn trả",
                "Ngày hẹn mới",
                "Lý do",
                "Đúng hạn",
            ],
            [_apology_row(a) for a in data.apologies],
        )
    _write_answers(wb, data, page)
    _write_table(wb, page, SHEET_QUESTIONS, QUESTION_HEADERS, question_rows(data.questions, data.options, _clean))
    return _pack(wb)


def _alphabetical(rows: Iterable[Any], name: Callable[[Any], str]) -> list[Any]:
    """Rows in Vietnamese alphabetical order of their name ("Cấp…" before "Chứng thực", "Đ" after "D")."""
    return sorted_vietnamese(rows, key=lambda row: _clean(name(row)))


def _document_stamp(generated_at: datetime | None) -> datetime:
    """The document's created/modified time: naive UTC, as openpyxl stores it."""
    if generated_at is None or generated_at.tzinfo is None:
        # a naive local time names no zone to convert from: the metadata stays neutral
        return FIXED_STAMP
    return generated_at.astimezone(UTC).replace(tzinfo=None)


def _pack(wb: Workbook) -> bytes:
    """Save, then re-pack the archive with fixed entry dates (openpyxl stamps each entry with now)."""
    raw = io.BytesIO()
    # ExcelWriter rather than wb.save: save_workbook overwrites properties.modified with the clock
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(entry))
    return out.getvalue()


# --- values


def _clean(text: str) -> str:
    """Text as Excel can hold it: NFC, without the control characters XML cannot carry."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", unicodedata.normalize("NFC", text))
    return cleaned


def _text(text: str | None) -> Value:
    """Free or outside text, kept a string even when it looks like a formula or an error code."""
    if text is None:
        return None
    cleaned = _clean(text)
    if cleaned.startswith("=") or cleaned in ERROR_CODES:
        return Styled(cleaned, as_text=True)
    return cleaned


_percent = percent
_day = day
_heading = heading


def _interval(ci95: Sequence[float] | None, suppressed: bool) -> list[Value]:
    """The two ends of a 95% interval, as percentages."""
    if suppressed or not ci95:
        return [INSUFFICIENT, INSUFFICIENT]
    low, high = ci95
    return [_percent(low), _percent(high)]


def _rate(part: int, whole: int) -> float | None:
    """The same rounding as the reporting module's rates (once, half-up, one decimal)."""
    return percent_of(part, whole)


def _verdict(value: float | None, target: float) -> str:
    """Whether a figure, as printed (rounded once by the report), meets its target; None: nothing to judge.

    A suppressed satisfaction index is None; an on-time rate is a count of dossiers and is judged on any number.
    """
    if value is None:
        return INSUFFICIENT
    return MET if value >= target else NOT_MET


# --- rows


def _criterion_row(c: Mapping[str, Any], texts: Mapping[str, str]) -> list[Value]:
    suppressed = bool(c.get("suppressed", False))
    counts: Mapping[str, int] = c.get("counts") or {}
    mean = c.get("mean")
    return [
        _clean(c["code"]),
        _clean(c.get("factor") or ""),
        Styled(_clean(texts.get(c["code"], "")), alignment=WRAP),
        int(c["n"]),
        *(int(counts.get(level, 0)) for level in ("1", "2", "3", "4", "5")),
        _percent(c.get("index"), suppressed),
        INSUFFICIENT if suppressed or mean is None else Styled(float(mean), MEAN),
        _percent(c.get("alarm_rate"), suppressed),
        *_interval(c.get("ci95"), suppressed),
    ]


def _factor_row(f: Mapping[str, Any]) -> list[Value]:
    suppressed = bool(f.get("suppressed", False))
    return [
        _clean(f["code"]),
        _clean(f.get("name") or ""),
        int(f["n"]),
        _percent(f.get("index"), suppressed),
        *_interval(f.get("ci95"), suppressed),
    ]


def _priority_row(p: Mapping[str, Any], texts: Mapping[str, str]) -> list[Value]:
    text = texts.get(p["code"])
    return [
        _clean(p["code"]),
        Styled(_clean(text), alignment=WRAP) if text else None,
        int(p["n"]),
        _percent(p.get("index"), bool(p.get("suppressed", False))),
    ]


def _officer_row(o: OfficerRow) -> list[Value]:
    return [
        _text(o.name),
        o.resolved,
        o.on_time,
        o.late,
        _percent(_rate(o.on_time, o.resolved)),
        o.apologies,
        _percent(o.satisfaction, o.suppressed),
        o.n,
        o.apologies_late,
        o.apologies_error,
    ]


def _apology_row(a: ApologySheetRow) -> list[Value]:
    in_time = "—" if a.in_time is None else "Đúng hạn" if a.in_time else "Không đúng hạn"
    return [
        _text(a.code),
        _text(a.number),
        APOLOGY_KIND_WORDS.get(a.kind, a.kind),
        _text(a.handler),
        _text(a.issued_by),
        Styled(a.issued_at.replace(tzinfo=None), DATETIME),
        _day(a.due),
        _day(a.new_due),
        _text(a.reason),
        in_time,
    ]


def _late_row(d: LateRow) -> list[Value]:
    return [
        _text(d.code),
        _text(d.procedure),
        _text(d.field),
        _text(d.handler),
        _day(d.received),
        _day(d.due),
        _day(d.finished),
        _text(d.state),
        _text(d.apology_number),
        _day(d.new_due),
        _text(d.reason),
    ]


# --- sheets


def _write_summary(wb: Workbook, data: WorkbookData, page: Page) -> None:
    report = data.report
    dossiers: Mapping[str, Any] = report.get("dossiers") or {}
    surveys: Mapping[str, Any] = report.get("surveys") or {}
    overall: Mapping[str, Any] = report.get("satisfaction") or {}
    overall_suppressed = bool(overall.get("suppressed", True))
    overall_index = None if overall_suppressed else overall.get("index")

    def section(*titles: str) -> list[Value]:
        return [_heading(title) for title in titles]

    # the information rows: the value spans the figure columns (B to D), wrapped
    info: list[list[Value]] = [
        ["Đơn vị", _clean(data.unit_name)],
        ["Mã đơn vị", _clean(str(report.get("unit", "")))],
        ["Từ ngày", _day(date.fromisoformat(report["from"]))],
        ["Đến ngày", _day(date.fromisoformat(report["to"]))],
        ["Phiếu khảo sát", _clean(data.form_title or str(report.get("form", "")))],
    ]
    if "include_children" in report:
        scope = "gồm các đơn vị trực thuộc" if report["include_children"] else "không gồm đơn vị trực thuộc"
        info.append(["Phạm vi", _clean(f"{data.unit_name} ({scope})")])
    info.append([METHOD_NOTE])
    if data.generated_at is not None:
        info.append(["Thời điểm lập báo cáo", Styled(data.generated_at.replace(tzinfo=None), DATETIME)])
    rows: list[list[Value]] = [
        [],
        section("Hồ sơ", "Số lượng"),
        ["Tiếp nhận", int(dossiers.get("received", 0))],
        ["Đã giải quyết", int(dossiers.get("resolved", 0))],
        ["Đúng hạn", int(dossiers.get("on_time", 0))],
        ["Trễ hạn", int(dossiers.get("late", 0))],
        ["Tỷ lệ đúng hạn", _percent(dossiers.get("on_time_rate"))],
        ["Phiếu xin lỗi", int(dossiers.get("apologies", 0))],
        ["Xin lỗi không đúng hạn", int(dossiers.get("apologies_late", 0))],
        ["Phiếu xin lỗi do sai sót", int(dossiers.get("apologies_error", 0))],
        ["Trễ hạn chưa xin lỗi", int(dossiers.get("late_without_apology", 0))],
        ["Trễ hạn chưa giải quyết", int(dossiers.get("overdue_open", 0))],
        [],
        section("Khảo sát (phiếu gửi trong kỳ)", "Số lượng"),
        ["Đã gửi", int(surveys.get("offered", 0))],
        ["Đã nhận", int(surveys.get("delivered", 0))],
        ["Đã bắt đầu", int(surveys.get("started", 0))],
        ["Đã hoàn thành", int(surveys.get("completed", 0))],
        ["Tỷ lệ phản hồi", _percent(surveys.get("response_rate"))],
        ["Số người đã trả lời (trả lời trong kỳ)", int(surveys.get("respondents", 0))],
        [],
        section("Mức độ hài lòng", "Kết quả"),
        ["Chỉ số hài lòng chung", _percent(overall_index, overall_suppressed)],
        ["Số câu trả lời (n)", int(overall.get("n", 0))],
    ]
    low, high = _interval(overall.get("ci95"), overall_suppressed)
    rows += [["Khoảng tin cậy 95% – cận dưới", low], ["Khoảng tin cậy 95% – cận trên", high]]

    # the figure and the cases behind it: answers for satisfaction, resolved dossiers for on time
    results = {"satisfaction": overall_index, "on_time": dossiers.get("on_time_rate")}
    targets = [(key, float(data.targets[key])) for key in _TARGET_LABELS if key in data.targets]
    if targets:
        rows += [[], section("Chỉ tiêu", "Mục tiêu", "Kết quả", "Đánh giá")]
        for key, target in targets:
            value = results[key]
            rows.append([_TARGET_LABELS[key], _percent(target), _percent(value), _verdict(value, target)])

    rows += _seed_summary_rows(report, section)

    ws = wb.create_sheet(SHEET_SUMMARY)
    columns = len(_SUMMARY_WIDTHS)
    authority = [_clean(line) for line in data.authority] or [_clean(data.unit_name)]
    block, title_row = header_block(authority, _clean(data.title), page, columns)
    setup_page(ws, _SUMMARY_WIDTHS, title_rows=f"{title_row}:{title_row}", header=page.header, made=page.made)
    ws.HeaderFooter.differentFirst = True  # the first page opens with the header block itself
    ws.firstFooter.right.text = ws.oddFooter.right.text
    writer = SheetWriter(ws, _SUMMARY_WIDTHS)
    for values, span in block:
        writer.append(values, span=span)
    for values in info:
        if len(values) == 2:  # a value spanning the figure columns, read from the left as the label is
            writer.append([values[0], _left(values[1])], span=columns)
        else:
            writer.append(values)
    for values in rows:
        writer.append(values)
    place = _clean(data.place or data.unit_name)
    for values, span, height in signature_block(place, page.made_day, columns):
        writer.append(values, span=span, height=height)


def _left(value: Value) -> Styled:
    """A value aligned left (a date too), wrapped if long."""
    if isinstance(value, Styled):
        return replace(value, alignment=_LEFT)
    return Styled(value, alignment=_LEFT)


def _tenths_percent(value: Decimal | None) -> Value:
    """A figure already rounded to one decimal (as printed and judged), as a percentage cell."""
    return INSUFFICIENT if value is None else Styled(float(value) / 100, PERCENT)


def _judged(verdict: bool | None) -> str:
    return INSUFFICIENT if verdict is None else MET if verdict else NOT_MET


def _field_target_rows(data: WorkbookData) -> list[list[Value]]:
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
                _clean(name),
                int(counts["resolved"]),
                int(counts["on_time"]),
                _tenths_percent(rate),
                _percent(target_on_time),
                _judged(met(rate, target_on_time)),
                int(figure["n"]),
                _tenths_percent(index),
                _percent(target_satisfaction),
                _judged(met(index, target_satisfaction)),
            ]
        )
    return rows


def _seed_summary_rows(report: Mapping[str, Any], section: Any) -> list[list[Value]]:
    """The summary's rows for online dossiers, repeated supplements and complaints (when the report has them)."""
    rows: list[list[Value]] = []
    dossiers: Mapping[str, Any] = report.get("dossiers") or {}
    if "received_online" in dossiers:
        online, received = int(dossiers["received_online"]), int(dossiers.get("received", 0))
        rows += [
            [],
            section("Hồ sơ trực tuyến và yêu cầu bổ sung", "Số lượng"),
            ["Hồ sơ tiếp nhận trực tuyến", online],
            ["Tỷ lệ hồ sơ tiếp nhận trực tuyến", _tenths_percent(rate_tenths(online, received))],
            ["Hồ sơ bị yêu cầu bổ sung từ lần thứ hai trở lên", int(dossiers.get("supplement_repeated", 0))],
        ]
    complaints: Mapping[str, Any] | None = report.get("complaints")
    if complaints is not None:
        received = int(complaints["received"])
        handled = int(complaints["answered"]) + int(complaints["closed"])
        rate = rate_tenths(handled, received)
        rows += [
            [],
            section("Phản ánh, kiến nghị", "Số lượng", "Mục tiêu", "Đánh giá"),
            ["Phản ánh tiếp nhận", received],
            ["Phản ánh đã trả lời", int(complaints["answered"])],
            ["Phản ánh đã đóng", int(complaints["closed"])],
            [
                "Tỷ lệ phản ánh đã xử lý",
                _tenths_percent(rate),
                _percent(COMPLAINTS_TARGET),
                _judged(met(rate, COMPLAINTS_TARGET)),
            ],
        ]
    return rows


def _write_table(
    wb: Workbook,
    page: Page,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Value]],
    *,
    filtered: bool = True,
    below: Sequence[Sequence[Value]] = (),
) -> None:
    """A data sheet: one bold, frozen, filtered header row (repeated on every printed page) and the rows below it.

    ``below``: a second table under the first (its own title and headers among its rows), sized with it.
    """
    ws = wb.create_sheet(title)
    widths = _widths([[_heading_words(h) for h in headers], *rows, *below], len(headers))
    ws.freeze_panes = "B2"
    if filtered:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    setup_page(ws, widths, title_rows="1:1", header=page.header_of(title), made=page.made)
    writer = SheetWriter(ws, widths)
    writer.append([_heading(h) for h in headers])
    for row in [*rows, *below]:
        writer.append(row)


RECEIVERS_TITLE = "Cán bộ tiếp nhận hồ sơ (Bộ phận Một cửa)"
RECEIVER_HEADERS = ("Cán bộ tiếp nhận", "Hồ sơ đã tiếp nhận", "Mức độ hài lòng", "Số câu trả lời (n)")


def _receiver_rows(receivers: Sequence[ReceiverRow]) -> list[list[Value]]:
    """The receiving officers' table under the handling officers' one: a blank row, its title, its headers."""
    if not receivers:
        return []
    rows: list[list[Value]] = [[], [Styled(RECEIVERS_TITLE, font=BOLD_FONT)], [_heading(h) for h in RECEIVER_HEADERS]]
    for r in _alphabetical(receivers, lambda r: r.name):
        rows.append([_text(r.name), r.received, _percent(r.satisfaction, r.suppressed), r.n])
    return rows


def _answer(value: str | None, labels: Mapping[str, str] | None) -> Value:
    """A choice answer by its label ("rat-nhieu" → "Rất nhiều"; several chosen: their labels, comma-separated)."""
    if value is None or labels is None:
        return _text(value)
    return _text(", ".join(labels.get(part, part) for part in value.split(",") if part))


def _write_answers(wb: Workbook, data: WorkbookData, page: Page) -> None:
    """The anonymised answers: row 1 the question codes (their texts on the "Câu hỏi" sheet), one row per survey."""
    rated = {c["code"] for c in data.report.get("criteria") or []}
    codes = [code for code, _factor, _question in data.questions]
    fixed = ["Mã người trả lời", "Ngày hoàn thành", "Lĩnh vực", "Kênh"]
    headers = [*fixed, *(_clean(code) for code in codes)]

    def rows() -> Iterator[list[Value]]:
        for answer in data.answers:
            row: list[Value] = [
                _text(answer.respondent),
                _day(answer.completed),
                _text(answer.field),
                channel_name(answer.channel),
            ]
            for code in codes:
                value = answer.values.get(code)
                # a rating is a number, so leaders can average and filter it; a choice shows its label
                if code in rated and value in RATING_VALUES:
                    row.append(int(value))
                else:
                    row.append(_answer(value, data.options.get(code)))
            yield row

    ws = wb.create_sheet(SHEET_ANSWERS)
    # widths from the codes and a sample of the answers: a rating column as narrow as its code, a label's
    # column at most _ANSWER_WIDTH (longer labels wrap)
    fixed_words: list[Value] = [_heading_words(h) for h in fixed]
    sample = [fixed_words, *islice(rows(), _WIDTH_SAMPLE)]
    widths = [
        w if i < len(fixed) else max(min(w, _ANSWER_WIDTH), code_width(headers[i]))
        for i, w in enumerate(_widths(sample, len(headers), minimum=5.0))
    ]
    ws.freeze_panes = "E2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(data.answers) + 1}"
    setup_page(ws, widths, title_rows="1:1", header=page.header_of(SHEET_ANSWERS), made=page.made)
    writer = SheetWriter(ws, widths, align_top=False)
    writer.append([_heading(h) for h in headers])
    for row in rows():
        writer.append(row)


def _heading_words(text: str) -> str:
    """What a header needs of its column's width: its longest word (a header wraps between words)."""
    return max(text.split(), key=len, default="")


def _widths(rows: Iterable[Sequence[Value]], columns: int, minimum: float = _MIN_WIDTH) -> list[float]:
    """Column widths from the longest value shown in each column, within sensible bounds (longer text wraps)."""
    widths = [minimum] * columns
    for row in rows:
        for index, value in enumerate(row[:columns]):
            widths[index] = max(widths[index], _shown(value) + 2)
    return [min(width, _MAX_WIDTH) for width in widths]


def _shown(value: Value) -> float:
    """A value's length on one line; "chưa đủ dữ liệu" may take two in a figure's column."""
    if value == INSUFFICIENT:
        return len("dữ liệu") + 1
    return shown_length(value)
