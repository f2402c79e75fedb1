"""Queueing messages in the outbox, in the transaction that decided them. Never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Insert, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.repositories.base import Repository, dialect_insert
from storage.sqlite_driver import WRITE_LATER
from storage.tables.messaging import OUTBOX
from storage.values import BULK, INTERACTIVE, Chat


def _queue(dialect: str) -> Insert:
    return insert(OUTBOX).values(
        channel=bindparam("channel"),
        recipient=bindparam("recipient"),
        identity_id=bindparam("identity_id"),
        invitation_id=bindparam("invitation_id"),
        payload=bindparam("payload", type_=OUTBOX.c.payload.type),
        status="pending",
        attempts=0,
        dedupe_key=bindparam("dedupe_key"),
        thread=bindparam("thread"),
        not_before=bindparam("not_before"),
        created_at=bindparam("now"),
        priority=bindparam("priority"),
    )


OUTBOX_CHANNEL = "sipas_outbox"


def _notify(dialect: str) -> Executable:
    return select(func.pg_notify(OUTBOX_CHANNEL, ""))


class OutboxQueue(Repository):
    """Queueing messages; ``queued`` tells the unit of work, at its commit, that this transaction queued some."""

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        self.queued = False  # set by ``add``, read and reset by the unit of work (storage/uow.py)

    async def add(
        self,
        channel: str,
        recipient: str,
        payload: dict[str, Any],
        now: datetime,
        *,
        identity_id: int | None = None,
        invitation_id: int | None = None,
        dedupe_key: str | None = None,
        not_before: datetime | None = None,
        interactive: bool = False,
    ) -> bool:
        """Queue a message; False when a message with the same ``dedupe_key`` was queued before.

        ``interactive``: a reply to the recipient's own action (an answer, a command, a staff reply to their
        complaint), delivered before the bulk; anything unsolicited is not (docs/CHANNELS.md).
        """
        parameters = {
            "channel": channel,
            "recipient": recipient,
            "identity_id": identity_id,
            "invitation_id": invitation_id,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "thread": payload.get("thread"),
            "not_before": not_before or now,
            "now": now,
            "priority": INTERACTIVE if interactive else BULK,
        }
        self.queued = True  # the unit of work wakes this process's outbox at its commit (storage/uow.py)
        if self.dialect == "postgresql":  # and NOTIFY (transactional too) the delivering instance, if another
            await self.connection.execute(self._prepared(_notify))
        if dedupe_key is None:
            await self.connection.execute(self._prepared(_queue), parameters, execution_options=WRITE_LATER)
            return True
        del parameters["now"]
        parameters.update(status="pending", attempts=0, created_at=now)
        statement = (
            dialect_insert(self.dialect, OUTBOX)
            .values(**parameters)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OUTBOX.c.id)
        )
        return (await self.connection.execute(statement)).first() is not None

    async def to_chat(
        self,
        chat: Chat,
        payload: dict[str, Any],
        now: datetime,
        *,
        invitation_id: int | None = None,
        dedupe_key: str | None = None,
        interactive: bool = False,
    ) -> bool:
        """Queue a message to a known chat (see ``add``)."""
        return await self.add(
            chat.channel,
            chat.external_id,
            payload,
            now,
            identity_id=chat.id,
            invitation_id=invitation_id,
            dedupe_key=dedupe_key,
            interactive=interactive,
        )
