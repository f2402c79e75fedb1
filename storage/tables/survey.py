"""Surveys: the invitation of a dossier, its answers, and comments kept apart from who wrote them."""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables.base import Base, Id


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


INVITATIONS = cast(Table, InvitationRow.__table__)
ANSWERS = cast(Table, AnswerRow.__table__)
SURVEY_COMMENTS = cast(Table, SurveyCommentRow.__table__)

# the invitation statuses of a survey sent and not finished
OPEN_INVITATION = ("sent", "started")
