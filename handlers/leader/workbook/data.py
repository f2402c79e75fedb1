"""What the leaders' workbook is made of: the report, the rows of each list, the unit's lines, gathered by the caller.

Plain, picklable data: a big workbook is built from it in a worker process (handlers.leader.workbook.process).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from handlers.leader.workbook.filing import ComplaintBacklog
from handlers.leader.workbook.words import VIETNAMESE, Words


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


def issuer(issued_by: str, issued_key: str | None, words: Words = VIETNAMESE) -> str:
    """Who issued an apology: the officer named, and the API key that sent it when one did (both kept)."""
    return words("issued_with_key", officer=issued_by, api_key=issued_key) if issued_key else issued_by


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
