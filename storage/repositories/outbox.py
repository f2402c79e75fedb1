"""The outbox: messages written in the transaction that decided them, delivered after commit. Never commit.

One repository (``uow.outbox``) made of three parts, each its own module: queueing (outbox_queue.py), reading what
is ready in each recipient's order (outbox_ready.py), and recording what became of a message (outbox_outcomes.py).
"""

from __future__ import annotations

from storage.repositories.outbox_outcomes import OutboxOutcomes
from storage.repositories.outbox_queue import OUTBOX_CHANNEL, OutboxQueue
from storage.repositories.outbox_ready import OutboxReading

__all__ = ["OUTBOX_CHANNEL", "OutboxRepository"]


class OutboxRepository(OutboxQueue, OutboxReading, OutboxOutcomes):
    """Messages waiting to be delivered: queued, read when ready, marked with what became of them."""
