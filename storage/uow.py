"""The unit of work: one connection, one transaction, committed in one place."""

from __future__ import annotations

import asyncio
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection

from storage.console_inbox import ConsoleInboxRepository
from storage.db import READ_ONLY, Database
from storage.erasure import ErasureRepository
from storage.leader_figures import LeaderFigureRepository, TargetRepository
from storage.linking import LinkCodeRepository
from storage.reporting import DigestRepository, ReportRepository
from storage.repositories import (
    AnswerRepository,
    ApiKeyRepository,
    AuditRepository,
    ChatRepository,
    DossierRepository,
    FieldRepository,
    IdempotencyRepository,
    InboundRepository,
    InboxRepository,
    InvitationRepository,
    JobRunRepository,
    OutboxRepository,
    PersonRepository,
    TokenRepository,
    UnitRepository,
)
from storage.staff_repositories import (
    AlertRepository,
    ApologyRepository,
    DraftRepository,
    FeedbackRepository,
    FileRepository,
    InstanceRepository,
    InviteRepository,
    RoleRepository,
    SurveyCommentRepository,
)


class UnitOfWork:
    """``async with UnitOfWork(db) as uow: ...; await uow.commit()`` — leaving without commit rolls back."""

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
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
            connection = await self._database.engine.connect()
        except BaseException:
            self._release()
            raise
        try:
            connection = await connection.execution_options(**{READ_ONLY: self._read_only})
            await connection.begin()
        except BaseException:
            await connection.close()
            self._release()
            raise
        self._connection = connection
        self.units = UnitRepository(connection)
        self.people = PersonRepository(connection)
        self.chats = ChatRepository(connection)
        self.fields = FieldRepository(connection)
        self.dossiers = DossierRepository(connection)
        self.invitations = InvitationRepository(connection)
        self.answers = AnswerRepository(connection)
        self.inbound = InboundRepository(connection)
        self.inbox = InboxRepository(connection)
        self.outbox = OutboxRepository(connection)
        self.jobs = JobRunRepository(connection)
        self.audit = AuditRepository(connection)
        self.api_keys = ApiKeyRepository(connection)
        self.idempotency = IdempotencyRepository(connection)
        self.reports = ReportRepository(connection)
        self.digests = DigestRepository(connection)
        self.tokens = TokenRepository(connection)
        self.roles = RoleRepository(connection)
        self.invites = InviteRepository(connection)
        self.drafts = DraftRepository(connection)
        self.alerts = AlertRepository(connection)
        self.feedback = FeedbackRepository(connection)
        self.apologies = ApologyRepository(connection)
        self.files = FileRepository(connection)
        self.instances = InstanceRepository(connection)
        self.survey_comments = SurveyCommentRepository(connection)
        self.targets = TargetRepository(connection)
        self.leader_figures = LeaderFigureRepository(connection)
        self.erasure = ErasureRepository(connection)
        self.link_codes = LinkCodeRepository(connection)
        self.console_inbox = ConsoleInboxRepository(connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection = self.connection
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            try:
                await connection.close()
            finally:
                self._connection = None
                self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def commit(self) -> None:
        """Commit everything done in this unit of work."""
        await self.connection.commit()

    async def rollback(self) -> None:
        """Throw away everything done so far."""
        await self.connection.rollback()
