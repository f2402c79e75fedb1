"""A flood of answers and invitations on PostgreSQL, two web instances and one worker, faults and SIGKILLs.

1,000 citizens are invited at once; each answers five questions by pressing buttons (5,000 answers),
while the Telegram emulator turns unreliable (429 storms, 5xx, hung calls, calls that take effect but
whose answer is lost, webhook re-deliveries) and the processes are SIGKILLed at random and started
again. Then the faults stop and the invariants are checked:

- every answer the platform delivered (its webhook answered 2xx) is stored, once, with the value pressed;
- no invitation reached a person twice, except where a send took effect and its answer was lost — an
  injected drop, or a kill of the delivering worker while the send was in flight (counted and reported);
- once the faults stop, nothing is left undelivered: every person sees their next question, the outbox
  is empty.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import AnswerRow, InvitationRow, OutboxRow
from tests.conftest import POSTGRES_URL, _truncate
from tests.emulators.telegram import Person, TelegramEmulator
from tests.faults.harness import Balancer, Process, environment, outbox_of, populate
from tests.telegram_service import SECRET, TOKEN, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL: set SIPAS_TEST_POSTGRES_URL (CI does)"),
]

PEOPLE = int(os.environ.get("SIPAS_FAULT_PEOPLE", "1000"))  # smaller to debug; CI runs the whole flood
FIRST_USER = 3_000_000
QUESTIONS = ["NTC", "NTT", "NCC", "NKQ", "NPA"]  # the five factor items of sipas-nhanh: 5,000 answers in all
LEVELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
KILLS = int(os.environ.get("SIPAS_FAULT_KILLS", "20"))
INTRO = "Phiếu khảo sát nhanh"


@pytest.fixture
def database_url(postgres_url: str) -> str:
    asyncio.run(_truncate(postgres_url))
    return postgres_url


async def answer(person: Person, rng: random.Random, pressed: dict[str, str], database_url: str) -> None:
    """Press a level on each of the five questions, each once its question is shown."""
    try:
        for number, code in enumerate(QUESTIONS, start=1):
            await person.wait_for(lambda p, n=number: p.last.text.startswith(f"Câu {n}/7"), timeout=600)
            level = rng.randrange(5)
            await person.press(LEVELS[level])
            pressed[code] = str(level + 1)
        await person.wait_for(lambda p: p.last.text.startswith("Câu 6/7"), timeout=600)
    except TimeoutError as error:  # say what the outbox holds for this chat, and why
        raise TimeoutError(f"{error}\n{await outbox_of(database_url, str(person.user_id))}") from None


async def test_a_flood_under_faults_and_kills_loses_nothing_and_sends_nothing_twice(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(20261201)
    users = await populate(database_url, PEOPLE, FIRST_USER)
    emulator = TelegramEmulator(
        token=TOKEN,
        per_chat=20.0,
        global_rate=400.0,
        callback_max_age=None,
        webhook_concurrency=40,
        webhook_max_attempts=1000,
        webhook_retry_cap=1.0,
        webhook_timeout=15.0,
    )
    async with emulator as emu:
        people = {user: emu.person(user_id=user, first_name=f"Dân {user - FIRST_USER}", started=True) for user in users}
        web = [Process(f"web{n}", "web", free_port(), {}, tmp_path / f"web{n}.log") for n in (1, 2)]
        balancer = Balancer(web)
        await balancer.start()
        env = environment(database_url, emu.api_url, balancer.url, TOKEN, SECRET)
        worker = Process("worker", "all", free_port(), env, tmp_path / "worker.log")
        for process in web:
            process.env = env
        processes = [worker, *web]
        kill_times: list[tuple[float, str]] = []
        try:
            for process in processes:
                process.start()
            for process in processes:
                await process.ready()

            pressed: dict[int, dict[str, str]] = {user: {} for user in users}
            answering = asyncio.gather(*(answer(people[u], random.Random(u), pressed[u], database_url) for u in users))
            drops = replayed = 0

            async def chaos() -> None:
                nonlocal drops, replayed
                for kill in range(KILLS):
                    await asyncio.sleep(rng.uniform(2.5, 8.0))  # spread over the run
                    victim = rng.choice([worker, worker, *web])
                    await victim.kill()
                    kill_times.append((time.monotonic(), victim.name))
                    step = kill % 5
                    if step == 0:
                        emu.flood(retry_after=1)  # a 429 storm
                    elif step == 1:
                        emu.fail_next(5, 500)
                    elif step == 2:
                        emu.fail_next(3, 502, methods=["sendMessage"], applied=True)  # sent, answer lost
                        drops += 3
                    elif step == 3:
                        emu.hang("editMessageText", 2.0)  # hung calls
                    else:
                        replays = [u for u in emu.updates if "callback_query" in u][-50:]
                        for update in replays:  # the platform delivers some updates again
                            async with emu._session.post(  # type: ignore[union-attr]
                                balancer.url + "/webhooks/telegram",
                                json=update,
                                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                            ) as response:
                                await response.read()
                                replayed += 1
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                    emu.clear_flood()
                    emu.release()
                    victim.start()
                    await victim.ready()

            await asyncio.gather(chaos(), answering)
            for process in processes:
                assert process.alive, f"{process.name} is down: see {process.log}"

            # the invariants, once the faults stopped
            database = Database(database_url)
            try:
                async with asyncio.timeout(120):
                    while True:
                        async with database.engine.connect() as connection:
                            waiting = await connection.scalar(
                                select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")
                            )
                        if not waiting:
                            break
                        await asyncio.sleep(0.5)
                async with database.engine.connect() as connection:
                    stored = {
                        (int(person), code): value
                        for person, code, value in await connection.execute(
                            select(InvitationRow.person_id, AnswerRow.question_code, AnswerRow.value).join(
                                InvitationRow, InvitationRow.id == AnswerRow.invitation_id
                            )
                        )
                    }
                    statuses = Counter(s for (s,) in await connection.execute(select(InvitationRow.status)))
            finally:
                await database.close()
            expected = {
                (user - FIRST_USER + 1, code): value for user, given in pressed.items() for code, value in given.items()
            }
            assert len(expected) == PEOPLE * len(QUESTIONS)
            assert stored == expected  # every delivered answer stored, once, as pressed

            delivered = [d for d in emu.webhook_deliveries if d.status is not None and 200 <= d.status < 300]
            intros = Counter(m.chat_id for p in people.values() for m in p.messages if m.text.startswith(INTRO))
            assert set(intros) == set(users)  # everyone got their invitation
            duplicates = sum(n - 1 for n in intros.values())
            worker_kills = sum(1 for _, name in kill_times if name == "worker")
            # each duplicate must be explained: a worker was killed between the copy before it and it (the first
            # copy's outcome was never committed, so its lease ran out and the next worker sent it again), or an
            # injected drop (the platform applied a send whose answer was lost). Said by order, not by a time window:
            # a loaded machine may take any time between a send and its commit.
            copies: dict[int, list[float]] = {}
            for call in emu.calls:
                text = str(call.params.get("text", ""))
                if call.method == "sendMessage" and call.status == 200 and text.startswith(f"<b>{INTRO}"):
                    copies.setdefault(int(call.params["chat_id"]), []).append(call.at)
            killed_worker_at = [at for at, name in kill_times if name == "worker"]
            by_kill = sum(
                1
                for times in copies.values()
                for before, after in itertools.pairwise(times)
                if any(before <= at <= after for at in killed_worker_at)
            )
            assert duplicates - by_kill <= drops, (duplicates, by_kill, drops)
            assert statuses == {"started": PEOPLE}
            assert all(p.last.text.startswith("Câu 6/7") for p in people.values())
            with capsys.disabled():  # the counts checked are part of CI's output, passed or not
                print(
                    f"\nfault run: {PEOPLE} invitations, {len(expected)} answers pressed and all stored once; "
                    f"{len(delivered)} webhook deliveries answered 2xx ({len(emu.webhook_deliveries)} attempts, "
                    f"{balancer.refused} refused while no web instance was up, {replayed} re-delivered); "
                    f"{len(kill_times)} SIGKILLs (worker {worker_kills}, web {len(kill_times) - worker_kills}); "
                    f"injected: {emu.stats.faults_injected} faulty answers, {emu.stats.too_many_requests} 429s, "
                    f"{drops} drops after accept; duplicate invitations {duplicates} "
                    f"({by_kill} sent just before a worker kill, the rest ≤ the {drops} drops)"
                )
        finally:
            for process in processes:
                await process.stop()
            await balancer.stop()
