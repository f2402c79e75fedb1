"""Inbound answers per second with 1, 2 and 4 web instances on PostgreSQL, and the outbound rate at the cap.

The Telegram emulator (in this process) pushes every button press through a round-robin load balancer
to the web instances (`sipasbot run --role web`); one more instance (`sipasbot run`) holds the lock and
delivers. Each press is a real answer: deduplicated, recorded and committed, the next question queued
for the deliverer (woken by LISTEN/NOTIFY), the callback answered — before the webhook's 200. The
people press one after the other (each waits for the answer to their press). Then, outbound: invitations
to every chat go out through the deliverer against the emulator enforcing 30 msg/s overall and 1 msg/s
per chat, while three other instances run beside it; the sustained rate, the 429s and the duplicates are
printed. 2 cores: the figures are what this machine gives, reported as they are.

Each inbound run also prints where the time goes: CPU milliseconds per answer of each process (the
instances, the load generator, the database's own backends), how busy the whole machine was, how long a
web instance took to answer a webhook, and what PostgreSQL's backends were doing (wait events sampled
every 50 ms, commits per answer; bench/observe.py). From the CPU per answer the machine's ceiling is
derived for 1 and 2 instances (all cores over the CPU per answer, at most one core per process: the
single deliverer's bounds every run), and the 2 / 1 ratio is printed against 1.30 or 0.8 x the ratio of
those ceilings (docs/perf/scale.md).

    python -m bench.scale --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_scale
        [--people 200] [--connections 40] [--answers 5] [--instances 1,2,4] [--invitations 600 (0: none)]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.observe import Figures, Watch, cpu_seconds
from storage import migrate
from storage.db import Database
from storage.models import Base
from tests.emulators.telegram import Person, TelegramEmulator
from tests.faults.harness import Balancer, Process, environment, populate
from tests.telegram_service import SECRET, TOKEN, free_port

LEVELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
CAP = 30.0


async def reset(url: str) -> None:
    database = Database(url)
    await migrate.upgrade(database)
    await database.close()
    engine = create_async_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@dataclass
class Run:
    """One inbound run's figures."""

    instances: int
    answers: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds by process during the run
    figures: Figures
    web_p50: float  # the web instances' answer to a webhook, as the load balancer saw it
    reply_p50: float  # from a press to the next question arriving

    @property
    def rate(self) -> float:
        return self.answers / self.seconds

    def per_answer(self, name: str | None = None) -> float:
        """CPU milliseconds per answer, of one process or of all together."""
        total = self.cpu[name] if name else sum(self.cpu.values())
        return 1000 * total / self.answers

    def ceiling(self, cores: int) -> float:
        """Answers/s this work would reach with the machine to itself: every core, at this CPU per answer.

        No process can use more than one core: the single deliverer, and each web instance, bound it too.
        The load generator and PostgreSQL are on the same cores, as they are in the run.
        """
        limits = [cores * self.answers / sum(self.cpu.values())]
        for name, seconds in self.cpu.items():
            if seconds > 0 and name != "PostgreSQL":  # the database's backends are many processes
                limits.append(self.answers / seconds)
        return min(limits)


class TimedBalancer(Balancer):
    """The load balancer, keeping how long each web instance took to answer."""

    durations: list[float]

    async def start(self) -> None:
        self.durations = []
        await super().start()

    async def _forward(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await super()._forward(request)
        finally:
            self.durations.append(time.perf_counter() - started)


def usage(processes: list[Process]) -> dict[str, float]:
    """CPU seconds so far: each instance, and this process (the emulator, balancer and people)."""
    own = os.times()
    return {
        **{p.name: cpu_seconds(p.process.pid) for p in processes if p.process is not None},
        "load generator": own.user + own.system,
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def reply_times(emu: TelegramEmulator, people: list[Person]) -> list[float]:
    """Seconds from each press to the next message (the next question) arriving in that chat."""
    arrivals: dict[int, list[float]] = {}
    for call in emu.calls:
        if call.method in ("sendMessage", "editMessageText") and call.status == 200:
            arrivals.setdefault(int(call.params.get("chat_id", 0)), []).append(call.at)
    times = []
    for person in people:
        seen = arrivals.get(person.user_id, [])
        for query in person.queries.values():
            later = [at for at in seen if at > query.pressed_at]
            if later:
                times.append(min(later) - query.pressed_at)
    return times


async def inbound(url: str, web_count: int, args: argparse.Namespace, logs: Path) -> Run:
    """Presses per second through ``web_count`` web instances (and one deliverer)."""
    people_count, answers, connections = args.people, args.answers, args.connections
    await reset(url)
    users = await populate(url, people_count, 4_000_000)
    async with TelegramEmulator(
        token=TOKEN,
        enforce_limits=False,
        callback_max_age=None,
        webhook_concurrency=connections,
        webhook_timeout=30.0,
    ) as emu:
        people = [emu.person(user_id=u, first_name="Dân", started=True) for u in users]
        web_instances = [Process(f"web{n}", "web", free_port(), {}, logs / f"web{n}.log") for n in range(web_count)]
        balancer = TimedBalancer(web_instances)
        await balancer.start()
        env = environment(url, emu.api_url, balancer.url, TOKEN, SECRET)
        env["SIPAS_TELEGRAM_RATE"] = "1000"
        env["SIPAS_TELEGRAM_CHAT_INTERVAL"] = "0"
        env["SIPAS_TELEGRAM_WEBHOOK_CONNECTIONS"] = str(connections)
        worker = Process("worker", "all", free_port(), env, logs / "worker.log")
        for process in web_instances:
            process.env = env
        processes = [worker, *web_instances]
        try:
            for process in processes:
                process.start()
            for process in processes:
                await process.ready(seconds=180)
            for person in people:  # the invitations went out: everyone sees question 1
                await person.wait_for(lambda p: p.last.text.startswith("Câu 1/7"), timeout=300)

            async def one(person: Person) -> None:
                for number in range(1, answers + 1):
                    await person.wait_for(lambda p, n=number: p.last.text.startswith(f"Câu {n}/7"), timeout=300)
                    query = await person.press(LEVELS[3])
                    await person.wait_for(lambda p, q=query: p.callback_answer(q).answered, timeout=300)

            balancer.durations.clear()
            watch = Watch(url)
            await watch.start()
            before, started = usage(processes), time.perf_counter()
            await asyncio.gather(*(one(p) for p in people))
            seconds = time.perf_counter() - started
            spent = {name: value - before.get(name, 0.0) for name, value in usage(processes).items()}
            figures = await watch.stop()
            spent["PostgreSQL"] = figures.backends_seconds
            replies = reply_times(emu, people)
        finally:
            for process in processes:
                await process.stop()
            await balancer.stop()
    run = Run(web_count, people_count * answers, seconds, spent, figures, median(balancer.durations), median(replies))
    cores = os.cpu_count() or 1
    shares = ", ".join(f"{name} {run.per_answer(name):.1f}" for name in spent)
    counters = figures.counters
    print(
        f"inbound with {web_count} web instance(s): {run.answers} answers in {seconds:.1f} s = {run.rate:.1f}/s; "
        f"{people_count} people pressing at once, each waiting for its reply, through {connections} webhook "
        f"connections\n"
        f"  CPU ms per answer: {shares} (total {run.per_answer():.1f}); the machine was {figures.machine_busy:.0%} "
        f"busy ({cores} cores, every process on it)\n"
        f"  web instance's answer p50 {1000 * run.web_p50:.0f} ms; press to next question p50 "
        f"{1000 * run.reply_p50:.0f} ms\n"
        f"  PostgreSQL: {counters['xact_commit'] / run.answers:.1f} commits and "
        f"{counters['tup_returned'] / run.answers:.0f} rows read per answer; backends of the database at a sample: "
        f"{figures.waits_line()}"
    )
    return run


async def outbound(url: str, invitations: int, logs: Path) -> None:
    """Invitations to every chat at the 30 msg/s cap, with four instances running."""
    await reset(url)
    users = await populate(url, invitations, 5_000_000)
    async with TelegramEmulator(token=TOKEN, per_chat=1.0, global_rate=CAP, callback_max_age=None) as emu:
        people = [emu.person(user_id=u, first_name="Dân", started=True) for u in users]
        env = environment(url, emu.api_url, "http://127.0.0.1:9", TOKEN, SECRET)
        env.update(SIPAS_TELEGRAM_MODE="polling", SIPAS_TELEGRAM_RATE="30", SIPAS_TELEGRAM_CHAT_INTERVAL="1")
        processes = [Process(f"instance{n}", "all", free_port(), env, logs / f"out{n}.log") for n in range(4)]
        try:
            for process in processes:
                process.start()
            for process in processes:
                await process.ready(seconds=180)
            for person in people:
                await person.wait_for(lambda p: len(p.messages) >= 2, timeout=invitations)
        finally:
            for process in processes:
                await process.stop()
        sends = [(c.at, int(c.params["chat_id"])) for c in emu.calls if c.method == "sendMessage" and c.status == 200]
        times = sorted(at for at, _ in sends)
        per_chat = Counter(chat for _, chat in sends)
    low, high = times[len(times) // 100], times[len(times) * 99 // 100]
    steady = (len(times) * 98 // 100) / max(1e-9, high - low)
    duplicates = sum(n - 2 for n in per_chat.values() if n > 2)
    print(
        f"outbound with 4 instances: {len(times)} messages; sustained {steady:.2f} msg/s = {steady / CAP:.3f} x the "
        f"30 msg/s cap (target >= 0.95); 429s: {emu.stats.too_many_requests}; duplicates: {duplicates}"
    )


def verdict(runs: dict[int, Run]) -> None:
    """The curve against one instance, and the 2 / 1 ratio against its target (or the machine's ceiling)."""
    base = runs.get(1)
    if base is None:
        return
    print("inbound against 1 instance: " + ", ".join(f"{n}: {r.rate / base.rate:.2f}x" for n, r in runs.items()))
    two = runs.get(2)
    if two is None:
        return
    cores = os.cpu_count() or 1
    ceiling = two.ceiling(cores) / base.ceiling(cores)
    print(
        f"ceiling on {cores} cores left to this work: 1 instance {base.ceiling(cores):.0f} answers/s "
        f"({base.per_answer():.1f} ms CPU per answer), 2 instances {two.ceiling(cores):.0f} answers/s "
        f"({two.per_answer():.1f} ms; the deliverer {two.per_answer('worker'):.1f} ms on its one core) = "
        f"{ceiling:.2f} x; the machine was {two.figures.machine_busy:.0%} busy during the 2-instance run"
    )
    target = f">= 1.30, or >= 0.8 x ceiling {ceiling:.2f} = {0.8 * ceiling:.2f} when the machine is the ceiling"
    print(f"ratio 2 / 1 instances = {two.rate / base.rate:.2f}  (target {target})")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        logs = Path(directory)
        runs = {}
        for count in (int(n) for n in args.instances.split(",")):
            runs[count] = await inbound(args.database_url, count, args, logs)
        verdict(runs)
        if args.invitations:
            await outbound(args.database_url, args.invitations, logs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database (it is truncated)")
    parser.add_argument("--people", type=int, default=200, help="people pressing at once (each awaits its reply)")
    parser.add_argument("--connections", type=int, default=40, help="webhook deliveries in flight at once")
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--instances", default="1,2,4")
    parser.add_argument("--invitations", type=int, default=600, help="0: no outbound run")
    asyncio.run(main(parser.parse_args()))
