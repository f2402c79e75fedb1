"""The monthly and quarterly Excel report (SPEC.md §7): plain data in, .xlsx bytes out.

Every figure comes from the reporting module's JSON as it is; this module only lays it out. A
suppressed figure (``suppressed: true`` or a null) is written as the text "chưa đủ dữ liệu", never as a
number. Percentages are written as fractions with the ``0.0%`` format, so Excel shows them the way
the people reading it are used to, and dates are real dates shown as dd/mm/yyyy.

The workbook is written in openpyxl's write-only mode (rows streamed to disk, not held as cell
objects) and the archive is re-packed with fixed timestamps, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from handlers.names import channel_name
from handlers.verdicts import met, rate_tenths, tenths
from survey_forms.scoring import MIN_N, percent_of

INSUFFICIENT = "chưa đủ dữ liệu"
METHOD_NOTE = "Cách tính các số liệu: docs/FIGURES.md"
MET = "Đạt"
NOT_MET = "Chưa đạt"

PERCENT = "0.0%"
MEAN = "0.00"
DATE = "dd/mm/yyyy"
DATETIME = "dd/mm/yyyy hh:mm"

SHEET_SUMMARY = "Tổng hợp"
SHEET_CRITERIA = "Tiêu chí"
SHEET_FACTORS = "Yếu tố"
SHEET_PRIORITIES = "Ưu tiên cải thiện"
SHEET_FIELDS = "Lĩnh vực"
SHEET_PROCEDURES = "Thủ tục"
SHEET_CHANNELS = "Kênh"
SHEET_OFFICERS = "Cán bộ"
SHEET_LATE = "Hồ sơ trễ hẹn"
SHEET_APOLOGIES = "Phiếu xin lỗi"
APOLOGY_KIND_WORDS = {"delay": "Trễ hạn", "error": "Sai sót"}
SHEET_ANSWERS = "Dữ liệu khảo sát"
SHEET_FIELD_TARGETS = "Chỉ tiêu lĩnh vực"
COMPLAINTS_TARGET = 100.0  # every complaint handled (seeds 000, 002; DOMAIN.md §7)

# the document's created/modified stamp when no generation time is given, and every zip entry's date:
# the earliest a zip can carry, so two builds of the same data are byte for byte the same
FIXED_STAMP = datetime(1980, 1, 1)  # naive: openpyxl stores these as UTC without a zone
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

RATING_VALUES = frozenset({"1", "2", "3", "4", "5"})

# the targets the summary compares against, in the order shown
_TARGET_LABELS = {"satisfaction": "Chỉ số hài lòng chung", "on_time": "Tỷ lệ giải quyết đúng hạn"}

_HEADER_FONT = Font(bold=True)
_TITLE_FONT = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")

_WRAP = Alignment(wrap_text=True, vertical="top")

_MIN_WIDTH = 8.0
_MAX_WIDTH = 60.0
_WIDTH_SAMPLE = 2000  # answers looked at to size the answer columns
_FORMAT_LENGTHS = {PERCENT: 7, MEAN: 5, DATE: 10, DATETIME: 16}


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


@dataclass(frozen=True)
class _Styled:
    """A value with what its cell needs beyond the value: a number format, a font, forced text."""

    value: Any
    number_format: str | None = None
    font: Font | None = None
    fill: PatternFill | None = None
    alignment: Alignment | None = None
    as_text: bool = False  # a string openpyxl would otherwise take for a formula or an error code


_Value = str | int | float | _Styled | None


def build_workbook(data: WorkbookData) -> bytes:
    """The report as an .xlsx file."""
    wb = Workbook(write_only=True)
    wb.properties.title = _clean(data.title)
    wb.properties.creator = "SIPAS Bot"
    stamp = _document_stamp(data.generated_at)
    wb.properties.created = stamp
    wb.properties.modified = stamp

    report = data.report
    texts = {code: text for code, _factor, text in data.questions}
    _write_summary(wb, data)
    _write_table(
        wb,
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
    if report.get("priorities"):  # the priority index (DOMAIN.md §4), for forms that ask priorities
        _write_table(
            wb,
            SHEET_PRIORITIES,
            ["Mã", "Nội dung", "Số câu trả lời (n)", "Tỷ lệ “Rất nhiều” + “Nhiều”"],
            [_priority_row(p, texts) for p in report["priorities"]],
        )
    if "on_time_by_field" in report:
        _write_table(
            wb,
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
        SHEET_FIELDS,
        ["Lĩnh vực", "Số câu trả lời (n)", "Chỉ số hài lòng"],
        [
            [_clean(f["field"]), int(f["n"]), _percent(f.get("index"), f.get("suppressed", False))]
            for f in report.get("by_field", [])
        ],
    )
    for sheet, key, header in ((SHEET_PROCEDURES, "procedure", "Thủ tục"), (SHEET_CHANNELS, "channel", "Kênh")):
        if f"by_{key}" in report:
            _write_table(
                wb,
                sheet,
                [header, "Số câu trả lời (n)", "Chỉ số hài lòng"],
                [
                    [
                        _clean(channel_name(row[key]) if key == "channel" else str(row[key])),
                        int(row["n"]),
                        _percent(row.get("index"), row.get("suppressed", False)),
                    ]
                    for row in report[f"by_{key}"]
                ],
            )
    if data.officers is not None:
        _write_table(
            wb,
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
            [_officer_row(o) for o in data.officers],
        )
    if data.officers is not None and data.receivers:
        _append_receivers(wb[SHEET_OFFICERS], data.receivers)
    _write_table(
        wb,
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
    _write_answers(wb, data)
    return _pack(wb)


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


def _text(text: str | None) -> _Value:
    """Free or outside text, kept a string even when it looks like a formula or an error code."""
    if text is None:
        return None
    cleaned = _clean(text)
    if cleaned.startswith("=") or cleaned in ERROR_CODES:
        return _Styled(cleaned, as_text=True)
    return cleaned


def _percent(value: float | None, suppressed: bool = False) -> _Value:
    """A 0–100 figure as a fraction shown as a percentage, or "chưa đủ dữ liệu"."""
    if suppressed or value is None:
        return INSUFFICIENT
    return _Styled(round(float(value) / 100, 6), PERCENT)


def _interval(ci95: Sequence[float] | None, suppressed: bool) -> list[_Value]:
    """The two ends of a 95% interval, as percentages."""
    if suppressed or not ci95:
        return [INSUFFICIENT, INSUFFICIENT]
    low, high = ci95
    return [_percent(low), _percent(high)]


def _day(value: date | None) -> _Value:
    """A date as an Excel date shown dd/mm/yyyy."""
    return None if value is None else _Styled(value, DATE)


def _heading(text: str | None) -> _Styled:
    """A header cell: bold, shaded, wrapped."""
    return _Styled(text, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_WRAP)


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


def _criterion_row(c: Mapping[str, Any], texts: Mapping[str, str]) -> list[_Value]:
    suppressed = bool(c.get("suppressed", False))
    counts: Mapping[str, int] = c.get("counts") or {}
    mean = c.get("mean")
    return [
        _clean(c["code"]),
        _clean(c.get("factor") or ""),
        _Styled(_clean(texts.get(c["code"], "")), alignment=_WRAP),
        int(c["n"]),
        *(int(counts.get(level, 0)) for level in ("1", "2", "3", "4", "5")),
        _percent(c.get("index"), suppressed),
        INSUFFICIENT if suppressed or mean is None else _Styled(float(mean), MEAN),
        _percent(c.get("alarm_rate"), suppressed),
        *_interval(c.get("ci95"), suppressed),
    ]


def _factor_row(f: Mapping[str, Any]) -> list[_Value]:
    suppressed = bool(f.get("suppressed", False))
    return [
        _clean(f["code"]),
        _clean(f.get("name") or ""),
        int(f["n"]),
        _percent(f.get("index"), suppressed),
        *_interval(f.get("ci95"), suppressed),
    ]


def _priority_row(p: Mapping[str, Any], texts: Mapping[str, str]) -> list[_Value]:
    text = texts.get(p["code"])
    return [
        _clean(p["code"]),
        _Styled(_clean(text), alignment=_WRAP) if text else None,
        int(p["n"]),
        _percent(p.get("index"), bool(p.get("suppressed", False))),
    ]


def _officer_row(o: OfficerRow) -> list[_Value]:
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


def _apology_row(a: ApologySheetRow) -> list[_Value]:
    in_time = "—" if a.in_time is None else "Đúng hạn" if a.in_time else "Không đúng hạn"
    return [
        _text(a.code),
        _text(a.number),
        APOLOGY_KIND_WORDS.get(a.kind, a.kind),
        _text(a.handler),
        _text(a.issued_by),
        _Styled(a.issued_at.replace(tzinfo=None), DATETIME),
        _day(a.due),
        _day(a.new_due),
        _text(a.reason),
        in_time,
    ]


def _late_row(d: LateRow) -> list[_Value]:
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


def _write_summary(wb: Workbook, data: WorkbookData) -> None:
    report = data.report
    dossiers: Mapping[str, Any] = report.get("dossiers") or {}
    surveys: Mapping[str, Any] = report.get("surveys") or {}
    overall: Mapping[str, Any] = report.get("satisfaction") or {}
    overall_suppressed = bool(overall.get("suppressed", True))
    overall_index = None if overall_suppressed else overall.get("index")

    def section(*titles: str) -> list[_Value]:
        return [_heading(title) for title in titles]

    rows: list[list[_Value]] = [[_Styled(_clean(data.title), font=_TITLE_FONT)], []]
    rows += [
        ["Đơn vị", _clean(data.unit_name)],
        ["Mã đơn vị", _clean(str(report.get("unit", "")))],
        ["Từ ngày", _day(date.fromisoformat(report["from"]))],
        ["Đến ngày", _day(date.fromisoformat(report["to"]))],
        ["Phiếu khảo sát", _clean(data.form_title or str(report.get("form", "")))],
    ]
    if "include_children" in report:
        scope = "gồm các đơn vị trực thuộc" if report["include_children"] else "không gồm đơn vị trực thuộc"
        rows.append(["Phạm vi", _clean(f"{data.unit_name} ({scope})")])
    rows.append([METHOD_NOTE])
    if data.generated_at is not None:
        rows.append(["Thời điểm lập báo cáo", _Styled(data.generated_at.replace(tzinfo=None), DATETIME)])
    rows += [
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
        ["Quá hạn chưa giải quyết", int(dossiers.get("overdue_open", 0))],
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
    for letter, width in zip("ABCD", (34.0, 40.0, 16.0, 16.0), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    _setup_print(ws, "1:1")
    for row in rows:
        ws.append(_cells(ws, row))


def _tenths_percent(value: Decimal | None) -> _Value:
    """A figure already rounded to one decimal (as printed and judged), as a percentage cell."""
    return INSUFFICIENT if value is None else _Styled(float(value) / 100, PERCENT)


def _judged(verdict: bool | None) -> str:
    return INSUFFICIENT if verdict is None else MET if verdict else NOT_MET


def _field_target_rows(data: WorkbookData) -> list[list[_Value]]:
    """Each field: on time (a count, never suppressed) and satisfaction (n < 5 suppressed) against its targets."""
    report = data.report
    on_time = {f["field"]: f for f in report.get("on_time_by_field", [])}
    satisfaction = {f["field"]: f for f in report.get("by_field", [])}
    unit_targets = (float(data.targets.get("satisfaction", 95.0)), float(data.targets.get("on_time", 95.0)))
    rows: list[list[_Value]] = []
    for name in sorted(on_time.keys() | satisfaction.keys()):
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


def _seed_summary_rows(report: Mapping[str, Any], section: Any) -> list[list[_Value]]:
    """The summary's rows for online dossiers, repeated supplements and complaints (when the report has them)."""
    rows: list[list[_Value]] = []
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


def _write_table(wb: Workbook, title: str, headers: Sequence[str], rows: Sequence[Sequence[_Value]]) -> None:
    """A data sheet: one bold, frozen, filtered header row and the rows below it."""
    ws = wb.create_sheet(title)
    _set_widths(ws, _widths([headers, *rows], len(headers)))
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    _setup_print(ws, "1:1")
    ws.append(_cells(ws, [_heading(h) for h in headers]))
    for row in rows:
        ws.append(_cells(ws, row))


RECEIVERS_TITLE = "Cán bộ tiếp nhận hồ sơ (Bộ phận Một cửa)"
RECEIVER_HEADERS = ("Cán bộ tiếp nhận", "Hồ sơ đã tiếp nhận", "Mức độ hài lòng", "Số câu trả lời (n)")


def _append_receivers(ws: Any, receivers: Sequence[ReceiverRow]) -> None:
    """The receiving officers' table under the handling officers' one: a blank row, its title, its headers."""
    ws.append([])
    ws.append(_cells(ws, [_Styled(RECEIVERS_TITLE, font=_HEADER_FONT)]))
    ws.append(_cells(ws, [_heading(h) for h in RECEIVER_HEADERS]))
    for r in receivers:
        ws.append(_cells(ws, [_text(r.name), r.received, _percent(r.satisfaction, r.suppressed), r.n]))


def _write_answers(wb: Workbook, data: WorkbookData) -> None:
    """The anonymised answers: row 1 the question codes, row 2 their texts, one row per survey below."""
    rated = {c["code"] for c in data.report.get("criteria") or []}
    codes = [code for code, _factor, _question in data.questions]
    fixed = ["Mã người trả lời", "Ngày hoàn thành", "Lĩnh vực", "Kênh"]
    headers = [*fixed, *(_clean(code) for code in codes)]
    texts: list[str | None] = [None] * len(fixed) + [_clean(question) for _code, _factor, question in data.questions]

    def rows() -> Iterator[list[_Value]]:
        for answer in data.answers:
            row: list[_Value] = [
                _text(answer.respondent),
                _day(answer.completed),
                _text(answer.field),
                channel_name(answer.channel),
            ]
            for code in codes:
                value = answer.values.get(code)
                # a rating is a number, so leaders can average and filter it; anything else stays text
                row.append(int(value) if code in rated and value in RATING_VALUES else _text(value))
            yield row

    ws = wb.create_sheet(SHEET_ANSWERS)
    # widths from the headers and a sample of the answers; question columns wide enough for row 2's text
    widths = _widths([headers, *islice(rows(), _WIDTH_SAMPLE)], len(headers))
    _set_widths(ws, [w if i < len(fixed) else min(max(w, 18.0), 50.0) for i, w in enumerate(widths)])
    ws.row_dimensions[2].height = 90
    ws.freeze_panes = "E3"
    # the filter sits on the texts row, so sorting never moves the codes or the texts
    ws.auto_filter.ref = f"A2:{get_column_letter(len(headers))}{len(data.answers) + 2}"
    _setup_print(ws, "1:2")
    ws.append(_cells(ws, [_heading(h) for h in headers]))
    ws.append(_cells(ws, [_heading(t) for t in texts]))
    for row in rows():
        ws.append(_cells(ws, row))


def _setup_print(ws: Any, title_rows: str) -> None:
    """Landscape, with the header rows repeated on every printed page."""
    ws.page_setup.orientation = "landscape"
    ws.print_title_rows = title_rows


def _set_widths(ws: Any, widths: Sequence[float]) -> None:
    # write-only sheets take their column widths before the first row
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width


def _cells(ws: Any, values: Sequence[_Value]) -> list[Any]:
    """Plain values as they are (the fast path); styled values as write-only cells."""
    cells: list[Any] = []
    for value in values:
        if not isinstance(value, _Styled):
            cells.append(value)
            continue
        cell = WriteOnlyCell(ws, value.value)
        if value.number_format is not None:
            cell.number_format = value.number_format
        if value.font is not None:
            cell.font = value.font
        if value.fill is not None:
            cell.fill = value.fill
        if value.alignment is not None:
            cell.alignment = value.alignment
        if value.as_text:
            cell.data_type = "s"
        cells.append(cell)
    return cells


def _widths(rows: Iterable[Sequence[_Value]], columns: int) -> list[float]:
    """Column widths from the longest value shown in each column, within sensible bounds."""
    widths = [_MIN_WIDTH] * columns
    for row in rows:
        for index, value in enumerate(row[:columns]):
            widths[index] = max(widths[index], _shown_length(value) + 2)
    return [min(width, _MAX_WIDTH) for width in widths]


def _shown_length(value: _Value) -> float:
    if value is None:
        return 0
    if isinstance(value, _Styled):
        if value.number_format is not None:
            return _FORMAT_LENGTHS.get(value.number_format, len(str(value.value)))
        value = value.value
    return len(str(value))
