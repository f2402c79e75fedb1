"""Inbound answers per second with 1, 2 and 4 web instances on PostgreSQL, and the outbound rate at the cap.

The Telegram emulator (in this process) pushes every button press through a round-robin load balancer
to the web instances (`sipasbot run --role web`); one more instance (`sipasbot run`) holds the lock and
delivers. Each press is a real answer: deduplicated, recorded and committed, the next question queued
for the deliverer (woken by LISTEN/NOTIFY), the callback answered — before the webhook's 200. The
people press one after the other (each waits for the answer to their press). Then, outbound: invitations
to every chat go out through the deliverer against the emulator enforcing 30 msg/s overall and 1 msg/s
per chat, while three other instances run beside it; the sustained rate, the 429s and the duplicates are
printed. 2 cores: the figures are what this machine gives, reported as they are.

    python -m bench.scale --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_scale
        [--people 200] [--answers 5] [--instances 1,2,4] [--invitations 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

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


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def postgres_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (the server the instances share)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def usage(processes: list[Process]) -> dict[str, float]:
    """CPU seconds so far: each instance, this process (the emulator, balancer and people), PostgreSQL."""
    own = os.times()
    return {
        **{p.name: cpu_seconds(p.process.pid) for p in processes if p.process is not None},
        "load generator": own.user + own.system,
        "PostgreSQL": postgres_seconds(),
    }


async def inbound(url: str, web_count: int, people_count: int, answers: int, logs: Path) -> float:
    """Presses per second through ``web_count`` web instances (and one deliverer)."""
    await reset(url)
    users = await populate(url, people_count, 4_000_000)
    async with TelegramEmulator(
        token=TOKEN, enforce_limits=False, callback_max_age=None, webhook_concurrency=40, webhook_timeout=30.0
    ) as emu:
        people = [emu.person(user_id=u, first_name="Dân", started=True) for u in users]
        web = [Process(f"web{n}", "web", free_port(), {}, logs / f"web{n}.log") for n in range(web_count)]
        balancer = Balancer(web)
        await balancer.start()
        env = environment(url, emu.api_url, balancer.url, TOKEN, SECRET)
        env["SIPAS_TELEGRAM_RATE"] = "1000"
        env["SIPAS_TELEGRAM_CHAT_INTERVAL"] = "0"
        worker = Process("worker", "all", free_port(), env, logs / "worker.log")
        for process in web:
            process.env = env
        processes = [worker, *web]
        try:
            for process in processes:
                process.start()
            for process in processes:
                await process.ready()
            for person in people:  # the invitations went out: everyone sees question 1
                await person.wait_for(lambda p: p.last.text.startswith("Câu 1/7"), timeout=300)

            async def one(person: Person) -> None:
                for number in range(1, answers + 1):
                    await person.wait_for(lambda p, n=number: p.last.text.startswith(f"Câu {n}/7"), timeout=300)
                    query = await person.press(LEVELS[3])
                    await person.wait_for(lambda p, q=query: p.callback_answer(q).answered, timeout=300)

            before, started = usage(processes), time.perf_counter()
            await asyncio.gather(*(one(p) for p in people))
            seconds = time.perf_counter() - started
            spent = {name: value - before.get(name, 0.0) for name, value in usage(processes).items()}
        finally:
            for process in processes:
                await process.stop()
            await balancer.stop()
    rate = people_count * answers / seconds
    cores = os.cpu_count() or 1
    shares = ", ".join(f"{name} {value:.1f}" for name, value in spent.items())
    print(
        f"inbound with {web_count} web instance(s): {people_count * answers} answers in {seconds:.1f} s "
        f"= {rate:.1f}/s; CPU s: {shares}; {sum(spent.values()) / (seconds * cores):.0%} of {cores} cores"
    )
    return rate


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
                await process.ready()
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


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        logs = Path(directory)
        rates = {}
        for count in (int(n) for n in args.instances.split(",")):
            rates[count] = await inbound(args.database_url, count, args.people, args.answers, logs)
        base = rates.get(1)
        if base:
            curve = ", ".join(f"{n}: {r / base:.2f}x" for n, r in rates.items())
            print(f"inbound against 1 instance: {curve}  (target: 2 instances >= 1.30x)")
        await outbound(args.database_url, args.invitations, logs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database (it is truncated)")
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--instances", default="1,2,4")
    parser.add_argument("--invitations", type=int, default=600)
    asyncio.run(main(parser.parse_args()))
