"""``/metrics`` for Prometheus: what came in, what went out, what waits, who delivers (README, the REST API).

Counters are kept in this process (each instance is scraped on its own); what lives in the database —
the outbox's depth and age, the survey funnel, the job runs — is read from it at each scrape, so every
instance reports the same figures for them. No label ever holds a person, a chat id or a dossier code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy import func, select

from handlers.messages import Inbound, Outcome
from storage.db import Database
from storage.tables.messaging import OUTBOX
from storage.tables.service import JOB_RUNS
from storage.tables.survey import INVITATIONS


class Metrics:
    """The product's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.inbound = Counter(
            "sipas_inbound_events", "Inbound events by channel and outcome (handled, duplicate, refused, failed)",
            ["channel", "outcome"], registry=r,
        )  # fmt: skip
        self.deliveries = Counter(
            "sipas_deliveries", "Sends by channel and outcome (delivered, retry_later, unreachable, …)",
            ["channel", "outcome"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "sipas_rate_limited", "Platform answers asking us to slow down (429, quota)", ["channel"], registry=r
        )
        self.outbox_pending = Gauge("sipas_outbox_pending", "Messages waiting to be sent", ["channel"], registry=r)
        self.outbox_oldest = Gauge(
            "sipas_outbox_oldest_seconds", "Age of the oldest message waiting to be sent", ["channel"], registry=r
        )
        self.invitations = Gauge("sipas_invitations", "Surveys by status (the funnel)", ["status"], registry=r)
        self.job_runs = Gauge("sipas_job_runs", "Claimed job runs by job and status", ["job", "status"], registry=r)
        self.holding = Gauge(
            "sipas_delivery_lock_held", "1 when this instance holds delivery and scheduling", registry=r
        )

    def counted(self, handle: Callable[[Inbound], Awaitable[Outcome]]) -> Callable[[Inbound], Awaitable[Outcome]]:
        """``handle`` (the citizen handler's), counting each inbound event by its outcome."""

        async def counting(inbound: Inbound) -> Outcome:
            try:
                outcome = await handle(inbound)
            except Exception:
                self.inbound.labels(inbound.identity.channel, "failed").inc()
                raise
            self.inbound.labels(inbound.identity.channel, "duplicate" if outcome.duplicate else "handled").inc()
            return outcome

        return counting

    def delivered(self, channel: str, status: str, retry_after: float | None) -> None:
        """Count one send's outcome."""
        self.deliveries.labels(channel, status).inc()
        if status == "retry_later" and retry_after is not None:
            self.rate_limited.labels(channel).inc()

    async def render(self, database: Database, now: datetime, holding: bool) -> tuple[bytes, str]:
        """The exposition text, with the database-held figures read now."""
        async with database.engine.connect() as connection:
            pending = await connection.execute(
                select(OUTBOX.c.channel, func.count(), func.min(OUTBOX.c.created_at))
                .where(OUTBOX.c.status == "pending")
                .group_by(OUTBOX.c.channel)
            )
            self.outbox_pending.clear()
            self.outbox_oldest.clear()
            for channel, count, oldest in pending:
                self.outbox_pending.labels(channel).set(count)
                self.outbox_oldest.labels(channel).set(max(0.0, (now - _aware(oldest)).total_seconds()))
            self.invitations.clear()
            for status, count in await connection.execute(
                select(INVITATIONS.c.status, func.count()).group_by(INVITATIONS.c.status)
            ):
                self.invitations.labels(status).set(count)
            self.job_runs.clear()
            for job, status, count in await connection.execute(
                select(JOB_RUNS.c.job, JOB_RUNS.c.status, func.count()).group_by(JOB_RUNS.c.job, JOB_RUNS.c.status)
            ):
                self.job_runs.labels(job, status).set(count)
        self.holding.set(1 if holding else 0)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
