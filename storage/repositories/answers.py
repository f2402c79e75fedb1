"""Answers to survey questions. Never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Delete, Insert, bindparam, delete, select, update

from storage.repositories.base import Repository, as_value, dialect_insert
from storage.sqlite_driver import WRITE_LATER
from storage.tables.survey import ANSWERS, INVITATIONS
from storage.values import Answer, Invitation


def _upsert_answer(dialect: str) -> Insert:
    statement = dialect_insert(dialect, ANSWERS).values(
        invitation_id=bindparam("invitation_id"),
        question_code=bindparam("question_code"),
        value=bindparam("value"),
        text=bindparam("text"),
        form_id=bindparam("form_id"),
        form_version=bindparam("form_version"),
        unit_id=bindparam("unit_id"),
        field_id=bindparam("field_id"),
        answered_at=bindparam("answered_at"),
    )
    return cast(
        Insert,
        statement.on_conflict_do_update(
            index_elements=["invitation_id", "question_code"],
            set_={
                "value": statement.excluded.value,
                "text": statement.excluded.text,
                "answered_at": statement.excluded.answered_at,
            },
        ),
    )


def _delete_answer(dialect: str) -> Delete:
    return delete(ANSWERS).where(
        ANSWERS.c.invitation_id == bindparam("invitation_id"), ANSWERS.c.question_code == bindparam("question_code")
    )


class AnswerRepository(Repository):
    """Answers to survey questions."""

    async def for_invitation(self, invitation_id: int) -> dict[str, Answer]:
        """The invitation's answers by question code."""
        rows = await self.connection.execute(select(ANSWERS).where(ANSWERS.c.invitation_id == invitation_id))
        return {row.question_code: as_value(Answer, row) for row in rows}

    async def upsert(
        self, invitation: Invitation, field_id: int, code: str, value: str | None, text: str | None, now: datetime
    ) -> None:
        """Record an answer; an earlier answer to the same question is replaced."""
        await self.connection.execute(
            self._prepared(_upsert_answer),
            {
                "invitation_id": invitation.id,
                "question_code": code,
                "value": value,
                "text": text,
                "form_id": invitation.form_id,
                "form_version": invitation.form_version,
                "unit_id": invitation.unit_id,
                "field_id": field_id,
                "answered_at": now,
            },
            execution_options=WRITE_LATER,
        )

    async def delete(self, invitation_id: int, codes: Iterable[str]) -> None:
        """Remove the answers to ``codes``."""
        for code in codes:
            await self._run(self._prepared(_delete_answer), {"invitation_id": invitation_id, "question_code": code})

    async def clear_texts_of_person(self, person_id: int) -> None:
        """Blank the free texts a person wrote (they may hold personal data); ratings stay."""
        invitations = select(INVITATIONS.c.id).where(INVITATIONS.c.person_id == person_id)
        await self._run(
            update(ANSWERS)
            .where(ANSWERS.c.invitation_id.in_(invitations), ANSWERS.c.text.is_not(None))
            .values(text=None)
        )
