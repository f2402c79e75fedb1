"""Chats (channel identities), and a chat read with its current survey and draft in one query. Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, delete, insert, select, update

from storage.repositories.base import Repository, as_value, field_names
from storage.tables.dossiers import DOSSIERS
from storage.tables.people import CHATS
from storage.tables.staff import DRAFTS
from storage.tables.survey import INVITATIONS, OPEN_INVITATION
from storage.values import Chat, ChatSurvey, Draft, Invitation


def _chat_survey(dialect: str) -> Select[Any]:
    """A chat with its current survey, that dossier's field and the chat's draft.

    The chat's current survey is one being asked in a chat (it has a current question): one asked on this chat's
    channel first, a started one first, then the oldest. An open rating on another channel (a ZNS template, which
    has no question here) is never it.
    """
    invitation = INVITATIONS.alias("invitation")
    current = (
        select(invitation.c.id)
        .where(
            invitation.c.person_id == CHATS.c.person_id,
            invitation.c.status.in_(OPEN_INVITATION),
            invitation.c.cursor.is_not(None),
        )
        .order_by(
            case((invitation.c.channel == bindparam("channel"), 0), else_=1),  # the chat's own channel
            case((invitation.c.status == "started", 0), else_=1),
            invitation.c.scheduled_at,
            invitation.c.id,
        )
        .limit(1)
        .scalar_subquery()
    )
    survey_columns = [c.label(f"survey_{c.name}") for c in INVITATIONS.c]
    draft_columns = [DRAFTS.c.kind.label("draft_kind"), DRAFTS.c.data.label("draft_data")]
    return (
        select(CHATS, *survey_columns, DOSSIERS.c.field_id.label("survey_field_id"), *draft_columns)
        .select_from(
            CHATS.outerjoin(INVITATIONS, INVITATIONS.c.id == current)
            .outerjoin(DOSSIERS, DOSSIERS.c.id == INVITATIONS.c.dossier_id)
            .outerjoin(DRAFTS, DRAFTS.c.identity_id == CHATS.c.id)
        )
        .where(CHATS.c.channel == bindparam("channel"), CHATS.c.external_id == bindparam("external_id"))
    )


class ChatRepository(Repository):
    """Chats (channel identities)."""

    async def get(self, channel: str, external_id: str) -> Chat | None:
        """The chat ``external_id`` on ``channel``."""
        return await self._first(
            Chat, select(CHATS).where(CHATS.c.channel == channel, CHATS.c.external_id == external_id)
        )

    async def with_survey(self, channel: str, external_id: str) -> ChatSurvey | None:
        """The chat, its person's current survey, that dossier's field and the chat's draft, in one query."""
        row = (
            await self.connection.execute(
                self._prepared(_chat_survey), {"channel": channel, "external_id": external_id}
            )
        ).first()
        if row is None:
            return None
        mapping = row._mapping
        invitation = None
        if mapping["survey_id"] is not None:
            invitation = Invitation(**{name: mapping[f"survey_{name}"] for name in field_names(Invitation)})
        chat = as_value(Chat, row)
        draft = None
        if mapping["draft_kind"] is not None:
            draft = Draft(chat.id, mapping["draft_kind"], mapping["draft_data"])
        return ChatSurvey(chat, invitation, mapping["survey_field_id"], draft)

    async def get_by_id(self, chat_id: int) -> Chat:
        """The chat with id ``chat_id``."""
        chat = await self._first(Chat, select(CHATS).where(CHATS.c.id == chat_id))
        if chat is None:
            raise LookupError(f"no chat {chat_id}")
        return chat

    async def add(self, channel: str, external_id: str, locale: str, now: datetime) -> Chat:
        """Record a chat, not yet linked to anyone."""
        statement = insert(CHATS).values(
            channel=channel,
            external_id=external_id,
            status="pending_consent",
            locale=locale,
            created_at=now,
            updated_at=now,
        )
        chat = await self._first(Chat, statement.returning(*CHATS.c))
        assert chat is not None
        return chat

    async def update(self, chat_id: int, now: datetime, **values: Any) -> None:
        """Change some of a chat's fields."""
        await self._run(update(CHATS).where(CHATS.c.id == chat_id).values(updated_at=now, **values))

    async def for_person(self, person_id: int) -> list[Chat]:
        """Every chat linked to ``person_id``, oldest first."""
        return await self._all(Chat, select(CHATS).where(CHATS.c.person_id == person_id).order_by(CHATS.c.id))

    async def delete(self, chat_id: int) -> None:
        """Forget a chat."""
        await self._run(delete(CHATS).where(CHATS.c.id == chat_id))
