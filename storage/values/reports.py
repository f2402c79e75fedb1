"""The counts behind reports, digests and workbooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class AnswerCount:
    """How many answers one value of one question got, in one field (by name)."""

    field: str
    question_code: str
    value: str | None
    count: int


@dataclass(frozen=True)
class DossierCounts:
    """The dossier counts of a report."""

    received: int
    resolved: int
    on_time: int
    late: int
    apologies: int
    late_without_apology: int
    overdue_open: int
    apologies_late: int = 0  # of ``apologies`` (delay), those not issued by the working day before the due date
    apologies_error: int = 0  # apologies for an error in handling, counted apart


@dataclass(frozen=True)
class SurveyCounts:
    """The survey funnel of a report: the invitations offered (sent) in the period, and how far each got."""

    offered: int
    delivered: int
    started: int
    completed: int
    respondents: int = 0  # people who answered at least one item in the period (the answers scored)


@dataclass(frozen=True)
class DayAnswerCount:
    """How many answers one value of one question got on one local day."""

    day: date
    question_code: str
    value: str | None
    count: int


@dataclass(frozen=True)
class DayResolved:
    """Dossiers resolved on one local day, and how many on time."""

    day: date
    resolved: int
    on_time: int


@dataclass(frozen=True)
class LateDossier:
    """A dossier on a late list: its code, due date and state."""

    code: str
    due_at: datetime
    state: str


@dataclass(frozen=True)
class FeedbackLine:
    """A complaint on a digest (its text to be redacted before anyone sees it)."""

    id: int
    dossier_code: str | None
    text: str | None
    status: str
    person_name: str | None


@dataclass(frozen=True)
class OfficerCounts:
    """A handling officer's dossiers in a period."""

    handler: str
    resolved: int
    on_time: int
    late: int
    apologies: int


@dataclass(frozen=True)
class OfficerAnswerCount:
    """Answers to one value of one question for one handling officer's dossiers."""

    handler: str
    question_code: str
    value: str | None
    count: int


@dataclass(frozen=True)
class ReceiverCounts:
    """A receiving (counter) officer's dossiers received in a period."""

    receiver: str
    received: int


@dataclass(frozen=True)
class ReceiverAnswerCount:
    """Answers to one value of one question about the dossiers one receiving officer took in."""

    receiver: str
    question_code: str
    value: str | None
    count: int


@dataclass(frozen=True)
class RawAnswer:
    """One answer scored in the period (finished survey or not), without the person or the dossier."""

    invitation_id: int
    completed_at: datetime | None
    channel: str | None
    field: str
    question_code: str
    value: str | None
    text: str | None
