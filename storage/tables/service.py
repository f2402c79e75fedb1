"""Running the service: instances, job runs, API keys, idempotency keys and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Table, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.tables.base import Base, Id


class InstanceRow(Base):
    """A running instance of the service and its heartbeat (for /healthz: is someone delivering?)."""

    __tablename__ = "instances"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    holding: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)


class JobRunRow(Base):
    """A claimed run of a periodic job, so that no period runs twice."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period", "scope"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(String(500))


class IdempotencyRow(Base):
    """The stored answer to a request sent with an ``Idempotency-Key``, replayed when the key comes again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[str] = mapped_column(String(200))  # who asked and what: API key id, method, path
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


class ApiKeyRow(Base):
    """An API key of the one-stop-shop software: only its hash is kept."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    all_units: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # a province's key


class ApiKeyUnitRow(Base):
    """A unit an API key may act for (and every unit below it)."""

    __tablename__ = "api_key_units"
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)


class AuditRow(Base):
    """Who did what and when, and the unit it concerns (None: the whole deployment, or not known)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_unit_id_at", "unit_id", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any] | None]
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))


INSTANCES = cast(Table, InstanceRow.__table__)
JOB_RUNS = cast(Table, JobRunRow.__table__)
IDEMPOTENCY = cast(Table, IdempotencyRow.__table__)
API_KEYS = cast(Table, ApiKeyRow.__table__)
API_KEY_UNITS = cast(Table, ApiKeyUnitRow.__table__)
AUDIT = cast(Table, AuditRow.__table__)
