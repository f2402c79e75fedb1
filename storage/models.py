"""The tables. Alembic migrations are the authority on the schema; these mirror them for queries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; SQLite gets it without an offset."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as timezone-aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so that migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class UnitRow(Base):
    """An administrative unit (tỉnh, xã, phường…); units form a tree."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    form_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    # the unit's own targets (percent); None: the configured defaults (docs/METHOD.md, targets)
    target_satisfaction: Mapped[float | None] = mapped_column(Float)
    target_on_time: Mapped[float | None] = mapped_column(Float)
    # whether the unit issues documents in its own name (a commune, a ward) or not (a reception point): an
    # apology slip is issued by the nearest unit, itself or above it, that does
    issues_documents: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    place: Mapped[str | None] = mapped_column(String(100))  # the slip's date line: "Hoàn Kiếm, ngày …"
    signer_name: Mapped[str | None] = mapped_column(String(100))  # who signs its slips; None: the setting
    signer_title: Mapped[str | None] = mapped_column(String(200))  # "KT. CHỦ TỊCH|PHÓ CHỦ TỊCH"; None: the settings


class FieldRow(Base):
    """A field of procedures (lĩnh vực: Hộ tịch, Đất đai, Chứng thực…), named once, referred to by id."""

    __tablename__ = "fields"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class FieldTargetRow(Base):
    """A unit's own targets for one field (lĩnh vực), in percent; None: the unit's targets (docs/METHOD.md, targets)."""

    __tablename__ = "field_targets"
    __table_args__ = (UniqueConstraint("unit_id", "field"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(100))
    target_satisfaction: Mapped[float | None] = mapped_column(Float)
    target_on_time: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


class PersonRow(Base):
    """A citizen (applicant or representative) with only the contact data a survey needs."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    zalo_user_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(5), default="vi")
    opted_out_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class IdentityRow(Base):
    """A chat on one channel, linked to a person after consent."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    locale: Mapped[str] = mapped_column(String(5), default="vi")
    pending: Mapped[str | None] = mapped_column(String(64))
    consent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DossierRow(Base):
    """A dossier (hồ sơ TTHC) and where it stands in its lifecycle."""

    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_unit_id_received_at", "unit_id", "received_at"),
        Index("ix_dossiers_unit_id_finished_at", "unit_id", "finished_at"),
        Index("ix_dossiers_state_due_at", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    procedure_code: Mapped[str | None] = mapped_column(String(32))
    procedure_name: Mapped[str] = mapped_column(String(300))
    field: Mapped[str] = mapped_column(String(100))
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    channel: Mapped[str] = mapped_column(String(16))
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    representative_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # "person" or "organisation" as the sender said; None: not said (the slip then goes by the name)
    applicant_kind: Mapped[str | None] = mapped_column(String(16))
    handler: Mapped[str | None] = mapped_column(String(100))
    receiver: Mapped[str | None] = mapped_column(String(100))  # the one-stop-shop counter officer
    state: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    zalo_optin: Mapped[bool] = mapped_column(Boolean, default=False)
    optin_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DossierEventRow(Base):
    """One lifecycle event of a dossier; the same event twice is stored once."""

    __tablename__ = "dossier_events"
    __table_args__ = (UniqueConstraint("dossier_id", "type", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class InvitationRow(Base):
    """The one survey of a dossier: whom, which form version, and where the conversation stands."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_status_scheduled_at", "status", "scheduled_at"),
        Index("ix_invitations_person_id_status", "person_id", "status"),
        Index("ix_invitations_unit_id_sent_at", "unit_id", "sent_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    form_id: Mapped[str] = mapped_column(String(32))
    form_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    cursor: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    scheduled_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # which survey message is live: each question sent carries the turn it was sent at (in its buttons), and a
    # press counts only when it matches the turn now (the newest message); 0 until the first question is sent
    turn: Mapped[int] = mapped_column(Integer, server_default="0")


class AnswerRow(Base):
    """One answer to one question of one invitation, with the form version it answered.

    Unit and field are copied from the dossier when the answer is recorded so that reports
    aggregate this one table (the field as a small id: reports group a million rows by it).
    """

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("invitation_id", "question_code"),
        # covers the report's scans: a unit's answers to a form over a period (and their surveys, for the
        # respondents), read from the index alone
        Index(
            "ix_answers_report",
            *("unit_id", "form_id", "answered_at", "field_id", "question_code", "value", "invitation_id"),
        ),
        # the same in the order of the report's groups: SQLite counts each group's period apart, without sorting
        # the period's answers (storage/answer_groups.py)
        Index("ix_answers_groups", "unit_id", "form_id", "field_id", "question_code", "value", "answered_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"))
    question_code: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    form_id: Mapped[str] = mapped_column(String(32))
    form_version: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    answered_at: Mapped[datetime]


class InboundEventRow(Base):
    """An inbound platform event already handled; a second delivery of it changes nothing."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("channel", "event_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime]


class InboxRow(Base):
    """A platform update kept as it was read, before handling (Zalo Bot: getUpdates hands each out once).

    Deleted once handled; one whose handling failed is kept with its error for a few days. It holds the
    person's chat id and words: erasure deletes a chat's rows.
    """

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "update_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(128))  # the platform's id of the update (Zalo Bot: message_id)
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]  # the update as read
    received_at: Mapped[datetime]
    failed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))


class OutboxRow(Base):
    """A message to send, written in the transaction that decided it; delivered after commit."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_channel_id", "status", "channel", "id"),
        Index("ix_outbox_recipient", "channel", "recipient", "id"),
        Index("ix_outbox_thread", "channel", "recipient", "thread", "id"),
        Index("ix_outbox_priority", "status", "channel", "priority", "id"),  # the pending replies, read first
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="SET NULL"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    thread: Mapped[str | None] = mapped_column(String(64))  # a message edited in place where channels allow
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # 0: a reply to the recipient's own action (sent before the bulk), 1: unsolicited (docs/CHANNELS.md)
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")


class ApologyRow(Base):
    """An apology slip: one per dossier and kind — a delay (phiếu xin lỗi và hẹn lại), or an error in handling.

    A late dossier may get one delay apology (with its new date) and, apart from it, one apology for an
    error in its handling (``kind`` "error", no new date): unique (dossier, kind).
    ``unit_id`` is the issuing unit (the dossier's, or the nearest above it that issues documents), and ``seq``
    numbers its slips per year (``{seq}/PXL``), those of the reception points below it included;
    ``pdf`` is the printable slip, made once;
    ``token`` is the unguessable name under which the slip is served to channels that cannot attach files;
    ``in_time``: a delay apology issued no later than the working day before the due date (null for an error).
    """

    __tablename__ = "apologies"
    __table_args__ = (UniqueConstraint("unit_id", "year", "seq"), UniqueConstraint("dossier_id", "kind"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="delay", server_default="delay")
    in_time: Mapped[bool | None]
    number: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    new_due_at: Mapped[datetime | None]
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_key: Mapped[str | None] = mapped_column(String(100))  # the API key that issued it (its name), if any
    issued_at: Mapped[datetime]
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    token: Mapped[str | None] = mapped_column(String(32), unique=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)


class FileRow(Base):
    """A file the product made and keeps: a digest's chart, a monthly or quarterly workbook.

    ``token`` is the unguessable name it is served under to channels that cannot attach files.
    """

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_unit_id_kind_period", "unit_id", "kind", "period"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # digest_chart | monthly_report | quarterly_report
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    period: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    token: Mapped[str] = mapped_column(String(32), unique=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class InstanceRow(Base):
    """A running instance of the service and its heartbeat (for /healthz: is someone delivering?)."""

    __tablename__ = "instances"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    holding: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)


class RoleRow(Base):
    """A chat's role in a unit (and the units below it): staff, leader or admin."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("identity_id", "unit_id", "role"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    officer_name: Mapped[str | None] = mapped_column(String(100))  # as dossiers name their handling officer
    lead: Mapped[bool] = mapped_column(Boolean, default=False)  # the unit's one-stop-shop lead
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    granted_by: Mapped[str | None] = mapped_column(String(100))  # who made the code (cli:<user>, a chat…)
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class InviteRow(Base):
    """A one-time code that gives a role to the chat that sends it (only its hash is kept)."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    officer_name: Mapped[str | None] = mapped_column(String(100))
    lead: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="SET NULL"))
    created_by: Mapped[str | None] = mapped_column(String(100))  # who made it (cli:<operating-system user>)


class DraftRow(Base):
    """What a chat is in the middle of (a staff member's apology, a reply to a complaint): one per chat."""

    __tablename__ = "drafts"
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class AlertRow(Base):
    """A warning sent about a dossier (at risk of running late, a promised date missed): once per kind."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("dossier_id", "kind"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime]


class FeedbackRow(Base):
    """A complaint or comment for a unit (phản ánh): received → answered → closed."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_unit_id_status_created_at", "unit_id", "status", "created_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="SET NULL"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # comment (a survey comment the citizen chose to send) | message
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]


class SurveyCommentRow(Base):
    """A survey comment kept apart from who wrote it: only the unit and the local day the survey closed.

    No person, dossier, invitation or time of day: it reaches the unit's leaders and one-stop-shop lead
    unlinked, once (``released_at``), or waits for the daily digest.
    """

    __tablename__ = "survey_comments"
    __table_args__ = (Index("ix_survey_comments_unit_id_day", "unit_id", "day"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    day: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    released_at: Mapped[datetime | None]


class JobRunRow(Base):
    """A claimed run of a periodic job, so that no period runs twice."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period", "scope"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(String(500))


class IdempotencyRow(Base):
    """The stored answer to a request sent with an ``Idempotency-Key``, replayed when the key comes again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[str] = mapped_column(String(200))  # who asked and what: API key id, method, path
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


class ApiKeyRow(Base):
    """An API key of the one-stop-shop software: only its hash is kept."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    all_units: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # a province's key


class ApiKeyUnitRow(Base):
    """A unit an API key may act for (and every unit below it)."""

    __tablename__ = "api_key_units"
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)


class PlatformTokenRow(Base):
    """A platform's current credentials (the Zalo OA token pair), replaced in place when they rotate."""

    __tablename__ = "platform_tokens"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | reauthorise
    last_error: Mapped[str | None] = mapped_column(String(500))
    refreshed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class AuditRow(Base):
    """Who did what and when, and the unit it concerns (None: the whole deployment, or not known)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_unit_id_at", "unit_id", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any] | None]
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))


class LinkCodeRow(Base):
    """A short code of digits a citizen types to link a chat to a dossier, instead of the receipt's long token.

    ``printed``: the receipt's code, kept in clear (the API gives it again on every upsert), as long-lived as the
    token; a wrong confirmation (the phone's last digits) counts in ``failures`` (``failed_at``: the latest).
    ``page``: made by the linking page for minutes, kept as a SHA-256 only, one per dossier.
    """

    __tablename__ = "link_codes"
    __table_args__ = (UniqueConstraint("dossier_id", "kind"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # printed | page
    code: Mapped[str | None] = mapped_column(String(16), unique=True)  # printed only
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # page only
    expires_at: Mapped[datetime | None]  # page only
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
