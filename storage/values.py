"""Plain values the repositories return: ORM rows never leave storage/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Unit:
    """An administrative unit."""

    id: int
    code: str
    name: str
    parent_id: int | None
    form_id: str | None
    target_satisfaction: float | None = None
    target_on_time: float | None = None
    issues_documents: bool = True  # False: a reception point, whose slips its nearest issuing parent issues
    place: str | None = None  # the place name of its documents' date line; None: from its name
    signer_name: str | None = None  # who signs its slips; None: the deployment's setting
    signer_title: str | None = None  # the signature's position lines, "|" between them; None: the settings


@dataclass(frozen=True)
class Person:
    """A citizen's contact data (None everywhere once erased)."""

    id: int
    name: str | None
    phone: str | None
    email: str | None
    zalo_user_id: str | None
    locale: str
    opted_out_at: datetime | None
    erased_at: datetime | None


@dataclass(frozen=True)
class Chat:
    """A chat on one channel (a channel identity), linked to a person once they consent."""

    id: int
    channel: str
    external_id: str
    person_id: int | None
    status: str
    locale: str
    pending: str | None
    consent_at: datetime | None


@dataclass(frozen=True)
class Dossier:
    """A dossier and where it stands."""

    id: int
    code: str
    unit_id: int
    procedure_code: str | None
    procedure_name: str
    field: str
    field_id: int
    channel: str
    applicant_id: int | None
    representative_id: int | None
    handler: str | None
    state: str
    received_at: datetime
    due_at: datetime
    finished_at: datetime | None
    returned_at: datetime | None
    cancelled_at: datetime | None
    on_time: bool | None
    zalo_optin: bool
    optin_token: str
    receiver: str | None = None  # the receiving (one-stop-shop counter) officer, where the export or API gives it
    applicant_kind: str | None = None  # "person", "organisation", or None: not said

    @property
    def respondent_id(self) -> int | None:
        """Whom to ask: the authorised representative where there is one, else the applicant."""
        return self.representative_id if self.representative_id is not None else self.applicant_id


@dataclass(frozen=True)
class DossierEvent:
    """One lifecycle event of a dossier, as its timeline shows it."""

    type: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class Apology:
    """An apology slip: for a delay (phiếu xin lỗi và hẹn lại, with its new date) or for an error (no new date)."""

    id: int
    dossier_id: int
    number: str | None
    reason: str
    new_due_at: datetime | None  # None for an error apology
    issued_by: str
    issued_at: datetime
    token: str | None
    kind: str = "delay"  # "delay" | "error"
    in_time: bool | None = None  # a delay apology issued by the working day before the due date; None: error
    issued_key: str | None = None  # the name of the API key that issued it (the officer is ``issued_by``)
    unit_id: int | None = None  # the issuing unit, in whose series ``number`` is (None: not issued yet)


@dataclass(frozen=True)
class ApologyLine:
    """An apology issued in a period, as the leaders' workbook lists it."""

    code: str
    handler: str | None
    issued_by: str
    issued_at: datetime
    due_at: datetime
    new_due_at: datetime | None
    reason: str
    kind: str
    in_time: bool | None
    number: str | None
    issued_key: str | None = None  # the API key that issued it (its name), if any


@dataclass(frozen=True)
class Invitation:
    """The survey of one dossier."""

    id: int
    dossier_id: int
    person_id: int | None
    unit_id: int
    form_id: str
    form_version: int
    status: str
    cursor: str | None
    channel: str | None
    scheduled_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    reminded_at: datetime | None
    closed_at: datetime | None
    turn: int = 0  # the turn of the newest survey message sent (whose buttons are live)


@dataclass(frozen=True)
class Answer:
    """One recorded answer."""

    question_code: str
    value: str | None
    text: str | None
    answered_at: datetime


INTERACTIVE, BULK = 0, 1  # an outbox message's priority


@dataclass(frozen=True)
class OutboxMessage:
    """A queued message."""

    id: int
    channel: str
    recipient: str
    identity_id: int | None
    invitation_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    not_before: datetime
    priority: int = 1  # INTERACTIVE: a reply to the recipient's own action; BULK: unsolicited

    @property
    def interactive(self) -> bool:
        """A reply to what the recipient just did: sent before the bulk (docs/CHANNELS.md)."""
        return self.priority == INTERACTIVE


@dataclass(frozen=True)
class KeptUpdate:
    """A platform update kept in the inbox, not handled yet."""

    id: int
    update_id: str
    payload: dict[str, Any]


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
class ChatSurvey:
    """A chat, its person's current survey (if any), the field of that survey's dossier and the chat's draft."""

    chat: Chat
    invitation: Invitation | None
    field_id: int | None
    draft: Draft | None = None


@dataclass(frozen=True)
class ApiKey:
    """A live API key (its hash never leaves storage) and the units it may act for."""

    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    all_units: bool = False  # a province's key: every unit
    covered: frozenset[int] = frozenset()  # the ids of its units and of every unit below them

    def covers(self, unit_id: int) -> bool:
        """Whether the key may read or change what belongs to the unit ``unit_id``."""
        return self.all_units or unit_id in self.covered


@dataclass(frozen=True)
class ApiKeyListing:
    """An API key as `sipasbot apikey list` shows it: never the key itself."""

    name: str
    prefix: str
    scopes: tuple[str, ...]
    all_units: bool
    units: tuple[str, ...]  # unit codes
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class StoredResponse:
    """The answer once given to a request with an Idempotency-Key."""

    request_hash: str
    status_code: int
    response: dict[str, Any]


@dataclass(frozen=True)
class PlatformToken:
    """A platform's current credentials (the Zalo OA token pair) and whether they still work."""

    channel: str
    access_token: str
    refresh_token: str
    expires_at: datetime
    status: str
    last_error: str | None
    refreshed_at: datetime | None


@dataclass(frozen=True)
class Role:
    """A chat's role in a unit (and below it)."""

    id: int
    identity_id: int
    unit_id: int
    role: str
    officer_name: str | None
    lead: bool


@dataclass(frozen=True)
class Invite:
    """A one-time code's grant (the code itself is never stored)."""

    id: int
    role: str
    unit_id: int
    officer_name: str | None
    lead: bool
    expires_at: datetime
    used_at: datetime | None
    created_by: str | None = None


@dataclass(frozen=True)
class Draft:
    """What a chat is in the middle of."""

    identity_id: int
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Feedback:
    """A complaint or comment for a unit."""

    id: int
    unit_id: int
    dossier_id: int | None
    invitation_id: int | None
    person_id: int | None
    source: str
    text: str | None
    status: str
    created_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    answer: str | None
    closed_at: datetime | None


@dataclass(frozen=True)
class StaffChat:
    """A chat that holds a role, with what it needs to be written to."""

    chat: Chat
    role: Role


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


@dataclass(frozen=True)
class StoredFile:
    """A kept file, without its content."""

    id: int
    kind: str
    unit_id: int | None
    period: str
    name: str
    media_type: str
    token: str
    created_at: datetime  # its link (``/tep/<token>/<name>``) expires SIPAS_LINK_DAYS after


@dataclass(frozen=True)
class RoleLine:
    """A role as an administrator reviews it: where, whose chat, since when and given by whom."""

    id: int
    identity_id: int
    unit_id: int
    unit_code: str
    unit_name: str
    role: str
    officer_name: str | None
    lead: bool
    channel: str
    external_id: str
    granted_at: datetime
    granted_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log, with the code of the unit it concerns (None: not tied to one)."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    detail: dict[str, Any] | None
    unit_code: str | None
