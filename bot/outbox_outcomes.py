"""What becomes of an outbox message once its platform answered: kept, held to try again, or given up (a table).

A delivered message is marked sent; one the platform asks to send later, or one refused for our credentials,
is held with the recipient's later messages behind it (never lost); one that fails for good is given up with
its outcome, as ``GIVE_UP`` says for each kind of failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.base import Delivery, DeliveryStatus
from storage.uow import UnitOfWork
from storage.values import OutboxMessage

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (2, 10, 30, 60)  # then every minute: an outage over, nobody waits long (the pace limits the load)
REAUTH_HOLD_SECONDS = 300  # credentials refused: try again after this (a refresh or a new grant may come)


@dataclass(frozen=True)
class GiveUp:
    """What giving up on a message does, beyond marking it with its outcome."""

    chat_status: bool  # the chat itself is marked with the outcome: nothing more can reach it there
    drops_queue: bool  # the recipient's other pending messages on the channel are cancelled (and forgotten)
    next_channel: bool  # an invitation is offered on the person's next channel, if they have one


# which failures give up on a message, and what each does (the outcome recorded is the failure's status)
GIVE_UP: dict[DeliveryStatus, GiveUp] = {
    "failed": GiveUp(chat_status=False, drops_queue=False, next_channel=False),  # the platform refused this one
    "unreachable": GiveUp(chat_status=True, drops_queue=True, next_channel=True),  # blocked, deleted, unknown
    "window_closed": GiveUp(chat_status=True, drops_queue=True, next_channel=True),  # Zalo's reply window is over
}


def backoff(message: OutboxMessage, outcome: Delivery) -> float:
    """Seconds before a message the platform did not take is tried again."""
    if outcome.retry_after is not None:
        return outcome.retry_after
    return BACKOFF_SECONDS[min(message.attempts, len(BACKOFF_SECONDS) - 1)]


def keeps_queue(outcome: Delivery) -> bool:
    """Whether the recipient's later messages held in memory may still go now (else the table says when)."""
    return outcome.status == "delivered" or (outcome.status in GIVE_UP and not GIVE_UP[outcome.status].drops_queue)


async def record(
    uow: UnitOfWork, name: str, message: OutboxMessage, outcome: Delivery, now: datetime, *, first: bool
) -> None:
    """Write what became of a sent message (``first``: the first of its invitation this process delivered)."""
    if outcome.status == "delivered":
        await uow.outbox.mark_sent(message, now, outcome.platform_message_id, first=first)
    elif outcome.status == "retry_later":
        retry_at = now + timedelta(seconds=backoff(message, outcome))
        # the platform's "slow down" (retry_after) is pacing, not a failure: the backoff stays short
        await uow.outbox.hold_recipient(message, outcome.error, retry_at, failed=outcome.retry_after is None)
    elif outcome.status == "reauth":  # our credentials, not the message: it waits, never lost
        retry_at = now + timedelta(seconds=REAUTH_HOLD_SECONDS)
        await uow.outbox.hold_recipient(message, outcome.error, retry_at, failed=False)
    else:
        await give_up(uow, name, message, outcome, now)


async def give_up(uow: UnitOfWork, name: str, message: OutboxMessage, outcome: Delivery, now: datetime) -> None:
    """Mark the message with its outcome and do what ``GIVE_UP`` says for that failure."""
    await uow.outbox.mark(message.id, outcome.status, outcome.error)
    rule = GIVE_UP[outcome.status]
    if rule.chat_status:
        chat = await uow.chats.get(name, message.recipient)
        if chat is not None:
            await uow.chats.update(chat.id, now, status=outcome.status)
            log.warning("chat %s on %s is %s", chat.id, name, outcome.status)
    if rule.drops_queue:
        await uow.outbox.cancel_for_recipient(name, message.recipient)
    if rule.next_channel and message.invitation_id is not None:  # offered on the next channel, if any
        await uow.invitations.undeliverable(message.invitation_id, name, now)
