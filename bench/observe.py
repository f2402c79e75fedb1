"""What a multi-process benchmark spends, from outside: CPU seconds per process, how busy the whole machine
was, and what PostgreSQL's backends of one database were doing (wait events sampled, transaction counters).

No extension and no server setting is needed: ``pg_stat_activity`` and ``pg_stat_database`` are always there,
so this works on a PostgreSQL server shared with other work (the backends of other databases are left out).
Linux only (``/proc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

TICK = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.05
COUNTERS = ("xact_commit", "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_inserted", "tup_updated")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, every process of every user."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def plain_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` as asyncpg itself takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass
class Watch:
    """Samples one database's backends while a run goes on; ``stop`` gives the figures."""

    url: str
    database: str = ""
    samples: int = 0
    states: Counter[str] = field(default_factory=Counter)  # "wait type/event" (or "CPU") of active backends
    backend_cpu: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid -> (first seen, last seen)
    _connection: asyncpg.Connection | None = None
    _task: asyncio.Task[None] | None = None
    _counters: dict[str, int] = field(default_factory=dict)
    _machine: tuple[int, int] = (0, 0)

    async def start(self) -> None:
        self._connection = await asyncpg.connect(plain_dsn(self.url))
        self.database = await self._connection.fetchval("SELECT current_database()")
        self._counters = await self._stats()
        self._machine = machine_ticks()
        self._task = asyncio.create_task(self._sample())

    async def _stats(self) -> dict[str, int]:
        assert self._connection is not None
        row = await self._connection.fetchrow(
            f"SELECT {', '.join(COUNTERS)} FROM pg_stat_database WHERE datname = current_database()"
        )
        return dict(row) if row else {}

    async def _sample(self) -> None:
        assert self._connection is not None
        query = (
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        while True:
            rows = await self._connection.fetch(query)
            self.samples += 1
            for pid, state, kind, event in rows:
                seconds = cpu_seconds(pid)
                first = self.backend_cpu.get(pid, (seconds, seconds))[0]
                self.backend_cpu[pid] = (first, seconds)
                if state == "active":
                    self.states["CPU (running)" if kind is None else f"{kind}/{event}"] += 1
                elif state == "idle in transaction":
                    self.states["idle in transaction (waiting for the client)"] += 1
            await asyncio.sleep(SAMPLE_SECONDS)

    async def stop(self) -> Figures:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        after = await self._stats()
        busy, total = machine_ticks()
        assert self._connection is not None
        await self._connection.close()
        return Figures(
            counters={k: after.get(k, 0) - self._counters.get(k, 0) for k in COUNTERS},
            waits={state: count / max(1, self.samples) for state, count in self.states.most_common()},
            backends_seconds=sum(last - first for first, last in self.backend_cpu.values()),
            machine_busy=(busy - self._machine[0]) / max(1, total - self._machine[1]),
        )


@dataclass
class Figures:
    """A run's database and machine figures."""

    counters: dict[str, int]  # pg_stat_database deltas for the run's database
    waits: dict[str, float]  # average backends in each state at a sample ("Lock/transactionid": 0.3 …)
    backends_seconds: float  # CPU seconds of that database's backends (sampled: a backend that came and went is lost)
    machine_busy: float  # share of all cores busy during the run, whoever used them

    def waits_line(self, top: int = 4) -> str:
        shown = list(self.waits.items())[:top]
        return ", ".join(f"{state} {average:.2f}" for state, average in shown) or "none active"
