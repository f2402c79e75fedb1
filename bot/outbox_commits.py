"""The outcomes of the outbox's sends, committed together when they complete together (a group commit)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from handlers.context import Services
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class GroupCommit:
    """The outcomes of sends, each committed before its send counts as done; those that wait share a commit.

    While one transaction of outcomes commits, the outcomes of sends completing meanwhile queue up; the next
    transaction takes them all. One alone commits at once (nothing waits for company), a burst of deliveries
    costs one commit per round trip to the database instead of one per message. Should a shared transaction
    fail, each of its outcomes is tried again alone, so one bad outcome never holds back the others.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self._queued: list[tuple[Callable[[UnitOfWork], Awaitable[None]], asyncio.Future[None]]] = []
        self._lock = asyncio.Lock()
        self.commits = 0  # transactions committed (for the benchmarks' figures)

    async def commit(self, write: Callable[[UnitOfWork], Awaitable[None]]) -> None:
        """Run ``write`` in a transaction and commit it (perhaps with others'); raises what ``write`` raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((write, done))
        async with self._lock:
            if not done.done():  # not taken by the transaction before: this one takes whatever waits
                batch, self._queued = self._queued, []
                try:
                    await self._flush(batch)
                except BaseException:  # cancelled meanwhile: the next one takes what is not settled
                    self._queued[:0] = [item for item in batch if not item[1].done()]
                    raise
        return done.result()

    async def _flush(self, batch: list[tuple[Callable[[UnitOfWork], Awaitable[None]], asyncio.Future[None]]]) -> None:
        if len(batch) > 1:
            try:
                async with self.services.uow() as uow:
                    for write, _ in batch:
                        await write(uow)
                    await uow.commit()
            except Exception:  # each is tried again alone below, and reports its own error
                log.debug("a shared commit of %d outcomes failed; each is tried alone", len(batch), exc_info=True)
            else:
                self.commits += 1
                for _, done in batch:
                    done.set_result(None)
                return
        for write, done in batch:
            try:
                async with self.services.uow() as uow:
                    await write(uow)
                    await uow.commit()
            except BaseException as error:  # handed to the send that waits for it
                done.set_exception(error)
                if not isinstance(error, Exception):
                    raise
            else:
                self.commits += 1
                done.set_result(None)
