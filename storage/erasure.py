"""Erasure queries (docs/OPERATIONS.md): every stored copy of a person's data, found, changed or deleted. Never commit.

The person's own rows (contact data, chats, their texts) are handled by their repositories; this one finds
the copies elsewhere: messages sent to their chats and phone, slips and texts about their dossiers, files
kept for leaders, and what officers were sent about them. What to take out of a text is the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, delete, func, or_, select, update

from storage.repositories.base import Repository
from storage.tables.dossiers import DOSSIERS, EVENTS
from storage.tables.messaging import INBOUND, INBOX, OUTBOX
from storage.tables.people import PEOPLE
from storage.tables.service import AUDIT
from storage.tables.staff import APOLOGIES, DRAFTS, FEEDBACK, FILES, ROLES
from storage.tables.survey import SURVEY_COMMENTS

BATCH = 500


@dataclass(frozen=True)
class DossierTrace:
    """A dossier the person is on (applicant or representative): where copies about them may be."""

    id: int
    code: str
    unit_id: int


@dataclass(frozen=True)
class StoredText:
    """A text (or JSON value) kept in some row, to be read and perhaps written back."""

    id: int
    value: Any


class ErasureRepository(Repository):
    """Copies of a person's data outside their own rows."""

    async def known_since(self, person_ids: Sequence[int]) -> datetime:
        """When the first of these people was recorded: nothing about them can have been kept before."""
        query = select(func.min(PEOPLE.c.created_at)).where(PEOPLE.c.id.in_(person_ids))
        first: datetime | None = (await self.connection.execute(query)).scalar()
        assert first is not None, "no such people"
        return first

    async def dossiers_of(self, person_id: int) -> list[DossierTrace]:
        """The dossiers with the person as applicant or representative."""
        query = select(DOSSIERS.c.id, DOSSIERS.c.code, DOSSIERS.c.unit_id).where(
            or_(DOSSIERS.c.applicant_id == person_id, DOSSIERS.c.representative_id == person_id)
        )
        return [DossierTrace(*row) for row in await self.connection.execute(query.order_by(DOSSIERS.c.id))]

    async def delete_messages_to(self, channel: str, recipient: str) -> int:
        """Delete every message to a recipient on a channel, sent or not (a chat id, or a phone for ZNS)."""
        return await self._run(delete(OUTBOX).where(OUTBOX.c.channel == channel, OUTBOX.c.recipient == recipient))

    async def forget_message(self, message_id: int) -> None:
        """Delete one message (a last word to an erased chat, once it went)."""
        await self._run(delete(OUTBOX).where(OUTBOX.c.id == message_id))

    async def forget_events_naming(self, channel: str, external_id: str) -> int:
        """Delete the handled-event records whose key holds the chat id (Zalo OA's follow:<id>:<time>)."""
        pattern = "%:" + external_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
        return await self._run(
            delete(INBOUND).where(INBOUND.c.channel == channel, INBOUND.c.event_id.like(pattern, escape="\\"))
        )

    async def apology_reasons(self, dossier_ids: Sequence[int]) -> list[StoredText]:
        """The apologies of the dossiers, with their reasons."""
        query = select(APOLOGIES.c.id, APOLOGIES.c.reason).where(APOLOGIES.c.dossier_id.in_(dossier_ids))
        return [StoredText(*row) for row in await self.connection.execute(query.order_by(APOLOGIES.c.id))]

    async def withdraw_slip(self, apology_id: int, token: str, reason: str) -> None:
        """Drop the printed slip and publish it under a new token, with its reason as given.

        The old link stops working; the slip asked for again is printed afresh from what is kept now.
        """
        await self._run(
            update(APOLOGIES).where(APOLOGIES.c.id == apology_id).values(pdf=None, token=token, reason=reason)
        )

    async def event_notes(self, dossier_ids: Sequence[int]) -> list[StoredText]:
        """The notes of the dossiers' lifecycle events."""
        return await self._texts(EVENTS.c.note, EVENTS.c.dossier_id.in_(dossier_ids), EVENTS.c.note.is_not(None))

    async def set_event_note(self, event_id: int, note: str) -> None:
        """Write back a cleaned note."""
        await self._write_back(EVENTS.c.note, event_id, note)

    async def feedback_answers(self, dossier_ids: Sequence[int]) -> list[StoredText]:
        """The officers' answers to feedback about the dossiers."""
        return await self._texts(
            FEEDBACK.c.answer, FEEDBACK.c.dossier_id.in_(dossier_ids), FEEDBACK.c.answer.is_not(None)
        )

    async def set_feedback_answer(self, feedback_id: int, answer: str) -> None:
        """Write back a cleaned answer."""
        await self._write_back(FEEDBACK.c.answer, feedback_id, answer)

    async def survey_comments(self, unit_ids: Sequence[int], since: date) -> list[StoredText]:
        """The units' survey comments from ``since`` on (already masked when kept; cleaned again by name)."""
        return await self._texts(
            SURVEY_COMMENTS.c.text, SURVEY_COMMENTS.c.unit_id.in_(unit_ids), SURVEY_COMMENTS.c.day >= since
        )

    async def set_survey_comment(self, comment_id: int, text: str) -> None:
        """Write back a cleaned comment."""
        await self._write_back(SURVEY_COMMENTS.c.text, comment_id, text)

    async def drafts(self) -> list[StoredText]:
        """Every chat's draft (an officer's apology or answer in progress may quote the person)."""
        return await self._texts(DRAFTS.c.data)

    async def set_draft(self, identity_id: int, data: dict[str, Any]) -> None:
        """Write back a cleaned draft."""
        await self._write_back(DRAFTS.c.data, identity_id, data)

    async def audit_details(self, subjects: Sequence[str]) -> list[StoredText]:
        """The details of the audit entries about ``subjects`` (``dossier:<code>``, ``person:<id>``)."""
        return await self._texts(AUDIT.c.detail, AUDIT.c.subject.in_(subjects), AUDIT.c.detail.is_not(None))

    async def set_audit_detail(self, entry_id: int, detail: dict[str, Any]) -> None:
        """Write back a cleaned detail."""
        await self._write_back(AUDIT.c.detail, entry_id, detail)

    async def kept_updates(self) -> list[StoredText]:
        """Every platform update still kept (those set aside after a failed handling, a few days at most)."""
        return await self._texts(INBOX.c.payload)

    async def set_kept_update(self, kept_id: int, payload: dict[str, Any]) -> None:
        """Write back a cleaned update."""
        await self._write_back(INBOX.c.payload, kept_id, payload)

    async def officers_messages(self, since: datetime, after_id: int = 0) -> list[StoredText]:
        """Messages to chats that hold a role (officers are told about citizens), queued since ``since``; a batch.

        Read in batches of ``BATCH`` by id: pass the last id seen as ``after_id``.
        """
        officers = select(ROLES.c.identity_id)
        query = (
            select(OUTBOX.c.id, OUTBOX.c.payload)
            .where(OUTBOX.c.identity_id.in_(officers), OUTBOX.c.created_at >= since, OUTBOX.c.id > after_id)
            .order_by(OUTBOX.c.id)
            .limit(BATCH)
        )
        return [StoredText(*row) for row in await self.connection.execute(query)]

    async def set_message_payload(self, message_id: int, payload: dict[str, Any]) -> None:
        """Write back a cleaned message."""
        await self._write_back(OUTBOX.c.payload, message_id, payload)

    async def kept_workbooks(self, unit_ids: Sequence[int], since: datetime) -> list[StoredText]:
        """The workbooks kept for the units' leaders, made since ``since`` (the bytes)."""
        query = select(FILES.c.id, FILES.c.content).where(
            FILES.c.unit_id.in_(unit_ids), FILES.c.created_at >= since, FILES.c.name.like("%.xlsx")
        )
        return [StoredText(id_, bytes(content)) for id_, content in await self.connection.execute(query)]

    async def set_file_content(self, file_id: int, content: bytes) -> None:
        """Write back a cleaned file."""
        await self._write_back(FILES.c.content, file_id, content)

    async def _texts(self, column: Column[Any], *where: ColumnElement[bool]) -> list[StoredText]:
        """``column`` of the rows of its table that meet ``where``, each with the row's key."""
        (key,) = column.table.primary_key.columns
        return [StoredText(*row) for row in await self.connection.execute(select(key, column).where(*where))]

    async def _write_back(self, column: Column[Any], key: object, value: object) -> None:
        """Write ``value`` into ``column`` of the row whose key is ``key``."""
        (key_column,) = column.table.primary_key.columns
        await self._run(update(column.table).where(key_column == key).values({column: value}))
