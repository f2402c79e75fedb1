"""Surveys and where each conversation stands. Never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, case, func, literal_column, or_, select, update

from storage.repositories.base import Repository, dialect_insert
from storage.sqlite_driver import WRITE_LATER
from storage.tables.dossiers import DOSSIERS
from storage.tables.people import CHATS, PEOPLE
from storage.tables.survey import INVITATIONS, OPEN_INVITATION
from storage.values import Invitation


class InvitationRepository(Repository):
    """Surveys and where each conversation stands."""

    async def get(self, invitation_id: int) -> Invitation | None:
        """The invitation with id ``invitation_id``."""
        return await self._first(Invitation, select(INVITATIONS).where(INVITATIONS.c.id == invitation_id))

    async def for_dossier(self, dossier_id: int) -> Invitation | None:
        """The dossier's invitation, if one was created."""
        return await self._first(Invitation, select(INVITATIONS).where(INVITATIONS.c.dossier_id == dossier_id))

    async def add(self, now: datetime, **values: Any) -> Invitation | None:
        """Create the dossier's invitation; None when it already has one (one survey per dossier, ever)."""
        statement = (
            dialect_insert(self.dialect, INVITATIONS)
            .values(created_at=now, **values)
            .on_conflict_do_nothing(index_elements=["dossier_id"])
            .returning(*INVITATIONS.c)
        )
        return await self._first(Invitation, statement)

    async def update(self, invitation_id: int, **values: Any) -> None:
        """Change some of an invitation's fields."""
        await self._run(update(INVITATIONS).where(INVITATIONS.c.id == invitation_id).values(**values))

    async def advance(self, invitation_id: int, cursor: str | None, now: datetime, *, next_turn: bool = False) -> int:
        """Move the conversation to ``cursor`` and mark the survey started if it was only offered.

        ``next_turn``: the message asking ``cursor`` takes the invitation's next turn in the same statement (as
        ``take_turn`` without ``expected``); the new turn is returned (0 otherwise).
        """
        parameters = {"invitation_id": invitation_id, "cursor": cursor, "now": now}
        if not next_turn:
            await self.connection.execute(self._prepared(_advance), parameters, execution_options=WRITE_LATER)
            return 0
        turn = (await self.connection.execute(self._prepared(_advance_turn), parameters)).scalar()
        return int(turn) if turn is not None else 0

    async def take_turn(self, invitation_id: int, expected: int | None = None) -> int | None:
        """Move the invitation to its next turn (a new survey message is sent); the new turn.

        ``expected``: only if the turn is still that one (the press came from the newest message); None when it
        is not — another press or message took it first, and this press is stale. Atomic: two presses on the
        same message can never both take it.
        """
        statement = update(INVITATIONS).where(INVITATIONS.c.id == invitation_id)
        if expected is not None:
            statement = statement.where(INVITATIONS.c.turn == expected)
        result = await self.connection.execute(
            statement.values(turn=INVITATIONS.c.turn + 1).returning(INVITATIONS.c.turn)
        )
        turn = result.scalar()
        return int(turn) if turn is not None else None

    async def for_person(self, person_id: int, statuses: Sequence[str]) -> list[Invitation]:
        """The person's invitations in ``statuses``, oldest first."""
        query = (
            select(INVITATIONS)
            .where(INVITATIONS.c.person_id == person_id, INVITATIONS.c.status.in_(statuses))
            .order_by(INVITATIONS.c.scheduled_at, INVITATIONS.c.id)
        )
        return await self._all(Invitation, query)

    async def due(self, now: datetime, limit: int, *, by_phone: bool = False) -> list[Invitation]:
        """Pending invitations whose time has come and whose person has a chat to reach.

        ``by_phone``: also those whose dossier's applicant agreed to Zalo notices and has a phone number
        (ZNS reaches a phone without any chat).
        """
        reachable: ColumnElement[bool] = (
            select(CHATS.c.id).where(CHATS.c.person_id == INVITATIONS.c.person_id, CHATS.c.status == "active").exists()
        )
        if by_phone:
            phone = (
                select(DOSSIERS.c.id)
                .join(PEOPLE, PEOPLE.c.id == INVITATIONS.c.person_id)
                .where(DOSSIERS.c.id == INVITATIONS.c.dossier_id, DOSSIERS.c.zalo_optin, PEOPLE.c.phone.is_not(None))
                .exists()
            )
            reachable = or_(reachable, phone)
        query = (
            select(INVITATIONS)
            .where(INVITATIONS.c.status == "pending", INVITATIONS.c.scheduled_at <= now, reachable)
            .order_by(INVITATIONS.c.scheduled_at, INVITATIONS.c.id)
            .limit(limit)
        )
        return await self._all(Invitation, query)

    async def undeliverable(self, invitation_id: int, channel: str, now: datetime) -> None:
        """Its first message could not reach the person on ``channel``: offer it again on the next channel.

        An invitation already answered stays where it is (the person comes back by writing); one that
        failed on ZNS, the last resort, is closed as undeliverable.
        """
        if channel == "zns":
            values: dict[str, Any] = {"status": "undeliverable", "closed_at": now}
        else:
            values = {"status": "pending", "channel": None, "cursor": None, "sent_at": None, "scheduled_at": now}
        await self._run(
            update(INVITATIONS)
            .where(INVITATIONS.c.id == invitation_id, INVITATIONS.c.status == "sent", INVITATIONS.c.channel == channel)
            .values(**values)
        )

    async def to_remind(self, sent_before: datetime, limit: int) -> list[Invitation]:
        """Open invitations, never reminded, sent before ``sent_before``."""
        query = (
            select(INVITATIONS)
            .where(
                INVITATIONS.c.status.in_(OPEN_INVITATION),
                INVITATIONS.c.reminded_at.is_(None),
                INVITATIONS.c.sent_at <= sent_before,
            )
            .order_by(INVITATIONS.c.id)
            .limit(limit)
        )
        return await self._all(Invitation, query)

    async def expire(self, now: datetime) -> int:
        """Close every unfinished invitation past its expiry; the number closed."""
        return await self._run(
            update(INVITATIONS)
            .where(INVITATIONS.c.status.in_(("pending", *OPEN_INVITATION)), INVITATIONS.c.expires_at <= now)
            .values(status="expired", closed_at=now, cursor=None)
        )

    async def detach_person(self, person_id: int) -> None:
        """Unlink a person's invitations from them (their answers stay, anonymous)."""
        await self._run(update(INVITATIONS).where(INVITATIONS.c.person_id == person_id).values(person_id=None))


def _advance(dialect: str) -> Update:
    started = INVITATIONS.c.status == "sent"
    return (
        update(INVITATIONS)
        .where(INVITATIONS.c.id == bindparam("invitation_id"))
        .values(
            cursor=bindparam("cursor"),
            status=case((started, literal_column("'started'")), else_=INVITATIONS.c.status),
            started_at=func.coalesce(INVITATIONS.c.started_at, bindparam("now")),
        )
    )


def _advance_turn(dialect: str) -> Any:
    return _advance(dialect).values(turn=INVITATIONS.c.turn + 1).returning(INVITATIONS.c.turn)
