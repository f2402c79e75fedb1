"""The unit of work: one connection, one transaction, committed in one place."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from storage.console_inbox import ConsoleInboxRepository
from storage.db import Database
from storage.erasure import ErasureRepository
from storage.leader_figures import LeaderFigureRepository, TargetRepository
from storage.linking import LinkCodeRepository
from storage.repositories.alerts import AlertRepository
from storage.repositories.answers import AnswerRepository
from storage.repositories.api_keys import ApiKeyRepository
from storage.repositories.apologies import ApologyRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.base import Repository
from storage.repositories.chats import ChatRepository
from storage.repositories.digests import DigestRepository
from storage.repositories.dossiers import DossierRepository
from storage.repositories.drafts import DraftRepository
from storage.repositories.feedback import FeedbackRepository
from storage.repositories.files import FileRepository
from storage.repositories.idempotency import IdempotencyRepository
from storage.repositories.inbound import InboundRepository
from storage.repositories.inbox import InboxRepository
from storage.repositories.instances import InstanceRepository
from storage.repositories.invitations import InvitationRepository
from storage.repositories.invites import InviteRepository
from storage.repositories.jobs import JobRunRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.people import PersonRepository
from storage.repositories.reports import ReportRepository
from storage.repositories.roles import RoleRepository
from storage.repositories.survey_comments import SurveyCommentRepository
from storage.repositories.tokens import TokenRepository
from storage.repositories.units import FieldRepository, UnitRepository

R = TypeVar("R")


class _Made(Generic[R]):
    """A repository of the unit of work, made on first use: most transactions use a few of the thirty."""

    def __init__(self, kind: Callable[[AsyncConnection], R]) -> None:
        self.kind = kind
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def __get__(self, uow: UnitOfWork, owner: type[Any] | None = None) -> R:
        repository = self.kind(uow.connection)
        uow.__dict__[self.name] = repository  # kept for the rest of the transaction
        return repository


class UnitOfWork:
    """``async with UnitOfWork(db) as uow: ...; await uow.commit()`` — leaving without commit rolls back."""

    units = _Made(UnitRepository)
    people = _Made(PersonRepository)
    chats = _Made(ChatRepository)
    fields = _Made(FieldRepository)
    dossiers = _Made(DossierRepository)
    invitations = _Made(InvitationRepository)
    answers = _Made(AnswerRepository)
    inbound = _Made(InboundRepository)
    inbox = _Made(InboxRepository)
    outbox = _Made(OutboxRepository)
    jobs = _Made(JobRunRepository)
    audit = _Made(AuditRepository)
    api_keys = _Made(ApiKeyRepository)
    idempotency = _Made(IdempotencyRepository)
    reports = _Made(ReportRepository)
    digests = _Made(DigestRepository)
    tokens = _Made(TokenRepository)
    roles = _Made(RoleRepository)
    invites = _Made(InviteRepository)
    drafts = _Made(DraftRepository)
    alerts = _Made(AlertRepository)
    feedback = _Made(FeedbackRepository)
    apologies = _Made(ApologyRepository)
    files = _Made(FileRepository)
    instances = _Made(InstanceRepository)
    survey_comments = _Made(SurveyCommentRepository)
    targets = _Made(TargetRepository)
    leader_figures = _Made(LeaderFigureRepository)
    erasure = _Made(ErasureRepository)
    link_codes = _Made(LinkCodeRepository)
    console_inbox = _Made(ConsoleInboxRepository)

    def __init__(
        self, database: Database, *, read_only: bool = False, on_commit: Callable[[], None] | None = None
    ) -> None:
        self._database = database
        self._read_only = read_only
        self._on_commit = on_commit  # told after a commit that queued messages: the outbox reads the table
        self._connection: AsyncConnection | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def connection(self) -> AsyncConnection:
        """The connection of this unit of work (only inside ``async with``)."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    async def __aenter__(self) -> UnitOfWork:
        lock = None if self._read_only else self._database.write_lock
        if lock is not None:
            await lock.acquire()
        self._lock = lock
        try:
            connection = await self._database.lend(read_only=self._read_only)
        except BaseException:
            self._release()
            raise
        try:
            await connection.begin()
        except BaseException:
            try:
                await self._database.give_back(connection, read_only=self._read_only, clean=False)
            finally:
                self._release()
            raise
        self._connection = connection
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection = self.connection
        clean = False
        try:
            if connection.get_transaction() is not None:  # also one whose commit failed: ended here
                await connection.rollback()
            # rolled back after an error of the work: the connection is sound; after a cancellation (a statement
            # may still be on its way in the driver's thread) it is not lent again
            clean = exc_type is None or issubclass(exc_type, Exception)
        finally:
            try:
                await self._database.give_back(connection, read_only=self._read_only, clean=clean)
            finally:
                self._connection = None
                for name in [n for n, v in self.__dict__.items() if isinstance(v, Repository)]:
                    del self.__dict__[name]  # the next transaction makes its own
                self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def commit(self) -> None:
        """Commit everything done in this unit of work; if it queued messages, tell the outbox (``on_commit``)."""
        await self.connection.commit()
        if self._take_queued() and self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        """Throw away everything done so far."""
        await self.connection.rollback()
        self._take_queued()  # nothing queued survives it: nothing to tell the outbox

    def _take_queued(self) -> bool:
        """Whether this transaction queued messages (the outbox repository, if used, says so); forgotten then."""
        outbox: OutboxRepository | None = self.__dict__.get("outbox")
        if outbox is None or not outbox.queued:  # set by ``add``
            return False
        outbox.queued = False
        return True
