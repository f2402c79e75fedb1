"""Delivery: pace, order per recipient, retries, a channel-wide pause after a 429, unreachable chats."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import insert, select

from bot.channels.base import Delivery
from bot.outbox import Outbox, Pace
from bot.outbox_commits import GroupCommit
from handlers.context import Services
from handlers.messages import Reply
from storage.models import IdentityRow, OutboxRow
from storage.uow import UnitOfWork
from tests.conftest import Clock


@dataclass
class Sent:
    recipient: str
    text: str
    replace: str | None
    started: float
    finished: float


class ScriptedChannel:
    """A channel that records every send and answers from a script (per recipient, else delivered)."""

    name = "fake"

    def __init__(self, latency: float = 0.002) -> None:
        self.latency = latency
        self.sent: list[Sent] = []
        self.script: dict[str, deque[Delivery]] = {}
        self.changed = asyncio.Condition()
        self.ids = 0

    def answer(self, recipient: str, *outcomes: Delivery) -> None:
        self.script.setdefault(recipient, deque()).extend(outcomes)

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        started = time.monotonic()
        await asyncio.sleep(self.latency)
        script = self.script.get(recipient)
        outcome = script.popleft() if script else None
        if outcome is None:
            self.ids += 1
            outcome = Delivery("delivered", platform_message_id=replace or str(self.ids))
        self.sent.append(Sent(recipient, reply.text, replace, started, time.monotonic()))
        async with self.changed:
            self.changed.notify_all()
        return outcome

    async def wait(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10), self.changed:
            await self.changed.wait_for(condition)


async def queue(services: Services, recipient: str, *texts: str, thread: str | None = None) -> None:
    async with services.uow() as uow:
        for text in texts:
            await uow.outbox.add("fake", recipient, Reply(text, thread=thread).to_payload(), services.clock())
        await uow.commit()


@asynccontextmanager
async def delivering(services: Services, channel: ScriptedChannel, pace: Pace) -> AsyncIterator[Outbox]:
    outbox = Outbox(services, {"fake": channel}, {"fake": pace})
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop))
    try:
        yield outbox
    finally:
        stop.set()
        await task


async def statuses(services: Services) -> dict[str, list[str]]:
    async with services.uow(read_only=True) as uow:
        rows = await uow.connection.execute(select(OutboxRow.payload, OutboxRow.status).order_by(OutboxRow.id))
        result: dict[str, list[str]] = {}
        for payload, status in rows:
            result.setdefault(status, []).append(payload["text"])
        return result


async def test_messages_go_in_order_per_recipient_spaced_by_the_interval(services: Services) -> None:
    channel = ScriptedChannel()
    await queue(services, "a", *(f"a{i}" for i in range(5)))
    await queue(services, "b", *(f"b{i}" for i in range(5)))
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.05)):
        await channel.wait(lambda: len(channel.sent) == 10)
    for recipient in ("a", "b"):
        mine = [s for s in channel.sent if s.recipient == recipient]
        assert [s.text for s in mine] == [f"{recipient}{i}" for i in range(5)]
        for before, after in itertools.pairwise(mine):
            assert after.started - before.finished >= 0.05 - 0.002
    assert (await statuses(services)) == {"sent": [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]}


async def test_the_overall_rate_is_never_exceeded(services: Services) -> None:
    channel = ScriptedChannel(latency=0.0)
    for number in range(60):
        await queue(services, f"chat{number}", "xin chào")
    async with delivering(services, channel, Pace(per_second=20, per_recipient_interval=1.0)):
        await channel.wait(lambda: len(channel.sent) == 60)
    starts = sorted(s.started for s in channel.sent)
    for index in range(len(starts) - 20):
        assert starts[index + 20] - starts[index] >= 1.0  # never 21 sends within one second at 20/s
    for before, after in itertools.pairwise(starts):
        assert after - before >= 0.5 / 20 - 0.001  # and never faster than twice the pace
    assert starts[-1] - starts[0] <= 3 * 1.04 + 0.5  # yet the pace is kept: 60 sends in about three windows


async def test_a_message_that_must_wait_keeps_its_successors_behind_it(services: Services, clock: Clock) -> None:
    channel = ScriptedChannel()
    channel.answer("a", Delivery("retry_later", error="Bad Gateway"))
    await queue(services, "a", "a1", "a2")
    await queue(services, "b", "b1")
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.0)):
        await channel.wait(lambda: any(s.text == "b1" for s in channel.sent))
        await asyncio.sleep(0.1)  # a2 must not overtake a1 however long we wait
        assert [s.text for s in channel.sent if s.recipient == "a"] == ["a1"]
        clock.advance(seconds=3)
        await channel.wait(lambda: [s.text for s in channel.sent if s.recipient == "a"] == ["a1", "a1", "a2"])
    assert (await statuses(services))["sent"] == ["a1", "a2", "b1"]


async def test_a_message_queued_while_an_earlier_one_waits_goes_after_it(services: Services, clock: Clock) -> None:
    # the citizen answers a question whose message failed once and waits for its retry: the next question
    # (an edit of that message) must not overtake it, or the question shown last would be the old one
    channel = ScriptedChannel()
    channel.answer("a", Delivery("retry_later", error="Bad Gateway"))
    await queue(services, "a", "Câu 1/7", thread="survey:1")
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.0)) as outbox:
        await channel.wait(lambda: len(channel.sent) == 1)
        await queue(services, "a", "Câu 2/7", thread="survey:1")
        await queue(services, "b", "b1")
        outbox.wake()
        await channel.wait(lambda: any(s.text == "b1" for s in channel.sent))
        await asyncio.sleep(0.1)
        assert [s.text for s in channel.sent if s.recipient == "a"] == ["Câu 1/7"]
        clock.advance(seconds=3)
        expected = ["Câu 1/7", "Câu 1/7", "Câu 2/7"]
        await channel.wait(lambda: [s.text for s in channel.sent if s.recipient == "a"] == expected)
    edit = channel.sent[-1]
    assert edit.replace is not None  # the question is edited in place, not sent as a second message
    assert (await statuses(services))["sent"] == ["Câu 1/7", "Câu 2/7", "b1"]


async def test_waiting_for_the_platforms_rate_limit_does_not_lengthen_the_backoff(
    services: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 429 storm is the platform pacing us, not a failure of the message: after many of them, a single
    # 5xx still waits the first backoff step (2 s), not half an hour
    monkeypatch.setattr("bot.outbox.REFILL_SECONDS", 0.05)  # look for due retries often: the test is short
    channel = ScriptedChannel(latency=0.0)
    storm = [Delivery("retry_later", retry_after=0.01, error="Too Many Requests: retry after 1")] * 3
    channel.answer("a", *storm, Delivery("retry_later", error="Bad Gateway"))
    await queue(services, "a", "a1")
    async with delivering(services, channel, Pace(per_second=1000, per_recipient_interval=0.0)):
        for tries in range(1, 4):
            await channel.wait(lambda n=tries: len(channel.sent) == n)
            await asyncio.sleep(0.03)
            clock.advance(seconds=0.05)
        await channel.wait(lambda: len(channel.sent) == 4)  # the Bad Gateway
        clock.advance(seconds=3)
        await channel.wait(lambda: len(channel.sent) == 5)
    assert (await statuses(services)) == {"sent": ["a1"]}


async def test_a_message_that_failed_again_and_again_is_tried_every_minute_at_most(
    services: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an outage of the platform (5xx after 5xx) must not leave a citizen's message waiting half an hour once
    # it is over: the backoff grows to a minute and stays there (the channel's pace, not the backoff, keeps a
    # recovering platform from being flooded); a message refused five times in a row is tried again within
    # three minutes of its first try
    monkeypatch.setattr("bot.outbox.REFILL_SECONDS", 0.05)
    channel = ScriptedChannel(latency=0.0)
    channel.answer("a", *[Delivery("retry_later", error="Bad Gateway")] * 6)
    await queue(services, "a", "a1")
    async with delivering(services, channel, Pace(per_second=1000, per_recipient_interval=0.0)):
        for tries, wait in enumerate((2, 10, 30, 60, 60, 60), start=1):
            await channel.wait(lambda n=tries: len(channel.sent) == n)
            await asyncio.sleep(0.03)
            clock.advance(seconds=wait + 1)
        await channel.wait(lambda: len(channel.sent) == 7)
    assert (await statuses(services)) == {"sent": ["a1"]}


async def test_a_flood_answer_pauses_the_whole_channel(services: Services) -> None:
    channel = ScriptedChannel(latency=0.0)
    channel.answer("a", Delivery("retry_later", retry_after=0.3, error="Too Many Requests: retry after 1"))
    await queue(services, "a", "a1")
    async with delivering(services, channel, Pace(per_second=1000, per_recipient_interval=0.0)) as outbox:
        await channel.wait(lambda: len(channel.sent) == 1)
        flooded_at = channel.sent[0].finished
        await queue(services, "b", "b1")
        outbox.wake()
        await channel.wait(lambda: any(s.recipient == "b" for s in channel.sent))
    b_sent = next(s for s in channel.sent if s.recipient == "b")
    assert b_sent.started - flooded_at >= 0.3 - 0.01


async def test_an_unreachable_chat_is_tried_once_and_its_queue_dropped(services: Services) -> None:
    async with services.uow() as uow:
        chat = await uow.chats.add("fake", "blocked", "vi", services.clock())
        await uow.chats.update(chat.id, services.clock(), status="active")
        await uow.commit()
    channel = ScriptedChannel()
    channel.answer("blocked", Delivery("unreachable", error="Forbidden: bot was blocked by the user"))
    await queue(services, "blocked", "m1", "m2", "m3")
    await queue(services, "ok", "m4")
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.0)):
        await channel.wait(lambda: any(s.recipient == "ok" for s in channel.sent))
        await asyncio.sleep(0.05)
    assert [s.text for s in channel.sent if s.recipient == "blocked"] == ["m1"]
    assert await statuses(services) == {"unreachable": ["m1"], "cancelled": ["m2", "m3"], "sent": ["m4"]}
    async with services.uow(read_only=True) as uow:
        assert await uow.connection.scalar(select(IdentityRow.status)) == "unreachable"


async def test_a_message_the_platform_refuses_is_parked_and_the_next_goes(services: Services) -> None:
    channel = ScriptedChannel()
    channel.answer("a", Delivery("failed", error="Bad Request: message is too long"))
    await queue(services, "a", "too long", "next")
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.0)):
        await channel.wait(lambda: len(channel.sent) == 2)
    assert await statuses(services) == {"failed": ["too long"], "sent": ["next"]}


async def test_a_thread_is_edited_in_place(services: Services) -> None:
    channel = ScriptedChannel()
    await queue(services, "a", "Câu 1/33", thread="survey:1")
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.0)) as outbox:
        await channel.wait(lambda: len(channel.sent) == 1)
        await queue(services, "a", "Câu 2/33", thread="survey:1")
        await queue(services, "a", "Cảm ơn")
        outbox.wake()
        await channel.wait(lambda: len(channel.sent) == 3)
    first, second, third = channel.sent
    assert (first.replace, second.replace, third.replace) == (None, "1", None)


async def test_stopping_lets_sends_in_flight_finish(services: Services) -> None:
    channel = ScriptedChannel(latency=0.2)
    await queue(services, "a", "a1")
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.0)):
        await asyncio.sleep(0.05)  # the send has started
    assert await statuses(services) == {"sent": ["a1"]}


async def insert_with_id(services: Services, *rows: tuple[int, str, str]) -> None:
    """Rows with chosen ids, committed together: PostgreSQL hands out ids at insert, not at commit."""
    now = services.clock()
    async with services.uow() as uow:
        for message_id, recipient, text in rows:
            await uow.connection.execute(
                insert(OutboxRow).values(
                    id=message_id,
                    channel="fake",
                    recipient=recipient,
                    payload=Reply(text).to_payload(),
                    status="pending",
                    attempts=0,
                    not_before=now,
                    created_at=now,
                )
            )
        await uow.commit()


async def test_a_transaction_that_commits_after_a_later_id_keeps_its_recipients_order(services: Services) -> None:
    # T1 takes id 100 for "a", T2 takes id 101 for "b" and commits, then T1 takes 102 for "a" and commits:
    # the first read sees 101, the next read must still deliver a's 100 before a's 102.
    channel = ScriptedChannel()
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.01)) as outbox:
        await insert_with_id(services, (101, "b", "b-first"))
        outbox.wake()
        await channel.wait(lambda: len(channel.sent) == 1)
        await insert_with_id(services, (100, "a", "a-intro"), (102, "a", "a-question"))
        outbox.wake()
        await channel.wait(lambda: len(channel.sent) == 3)
    assert [s.text for s in channel.sent if s.recipient == "a"] == ["a-intro", "a-question"]


async def test_refused_credentials_keep_the_messages_pending_and_pause_the_channel(
    services: Services, clock: Clock
) -> None:
    channel = ScriptedChannel()
    channel.answer("a", Delivery("reauth", error="-216: Access token is invalid"))
    await queue(services, "a", "m1", "m2")
    await queue(services, "b", "m3")
    outbox = Outbox(services, {"fake": channel}, {"fake": Pace(per_second=200, per_recipient_interval=0.0)})
    assert await outbox.deliver_pending("fake") == 0  # refused: the pass stops, nothing else tried with that token
    assert await statuses(services) == {"pending": ["m1", "m2", "m3"]}
    clock.advance(minutes=6)  # the administrator stored a new grant; the hold ran out
    assert await outbox.deliver_pending("fake") == 3
    assert await statuses(services) == {"sent": ["m1", "m2", "m3"]}
    assert [s.text for s in channel.sent] == ["m1", "m1", "m2", "m3"]


async def test_a_send_refused_while_the_credentials_were_restored_goes_again_at_once(services: Services) -> None:
    # the send left with the old token; the new pair was stored (resume) before its refusal came back: held
    # for the whole REAUTH_HOLD_SECONDS before, although the credentials were good again
    channel = ScriptedChannel()
    channel.answer("a", Delivery("reauth", error="-216: Access token is invalid"))
    gate, started = asyncio.Event(), asyncio.Event()
    plain_send = channel.send

    async def send(recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        if not started.is_set():
            started.set()
            await gate.wait()
        return await plain_send(recipient, reply, replace=replace)

    channel.send = send  # type: ignore[method-assign]
    await queue(services, "a", "m1", "m2")
    async with delivering(services, channel, Pace(per_second=200, per_recipient_interval=0.0)) as outbox:
        async with asyncio.timeout(10):
            await started.wait()
        await outbox.resume(["fake"])  # `sipasbot zalo-oa tokens` stored the new grant meanwhile
        gate.set()
        await channel.wait(lambda: [s.text for s in channel.sent] == ["m1", "m1", "m2"])
    assert await statuses(services) == {"sent": ["m1", "m2"]}


async def refused_then_waiting(services: Services) -> ScriptedChannel:
    """a1 to be refused for our credentials (the channel pauses for minutes), b1 queued beside it."""
    channel = ScriptedChannel(latency=0.05)
    channel.answer("a", Delivery("reauth", error="-216: Access token is invalid"))
    await queue(services, "a", "a1")
    await queue(services, "b", "b1")
    return channel


async def paused(outbox: Outbox, clock: Clock) -> None:
    """Once the channel is paused (a1 refused), the clock moved past the one-second window: b1 waits for the pause."""
    lane = outbox.lanes["fake"]
    async with asyncio.timeout(10):
        while not lane.paused_until:  # noqa: ASYNC110 - the outcome is recorded by the outbox's own task
            await asyncio.sleep(0.01)
    clock.advance(seconds=1.5)
    for _ in range(10):  # b1's wait for the window wakes, and waits again, for the pause now
        await asyncio.sleep(0)


async def test_a_send_waiting_for_its_slot_goes_as_soon_as_the_paused_channel_resumes(
    services: Services, clock: Clock
) -> None:
    # a1 is refused (our credentials: the channel pauses for minutes); b1 had already left its queue and waited
    # for a send slot (one a second), then for the pause: once access is restored it goes at once
    channel = await refused_then_waiting(services)
    async with delivering(services, channel, Pace(per_second=1, per_recipient_interval=0.0)) as outbox:
        await channel.wait(lambda: len(channel.sent) == 1)
        await paused(outbox, clock)  # past the one-second window: b1 now waits for the pause alone
        assert [s.text for s in channel.sent] == ["a1"]
        await outbox.resume(["fake"])
        await channel.wait(lambda: [s.text for s in channel.sent].count("b1") == 1)


async def test_stopping_does_not_wait_out_a_pause(services: Services, clock: Clock) -> None:
    # a send that has not left yet is given up at a stop (the message stays pending), not waited for
    channel = await refused_then_waiting(services)
    began = time.monotonic()
    async with delivering(services, channel, Pace(per_second=1, per_recipient_interval=0.0)) as outbox:
        await channel.wait(lambda: len(channel.sent) == 1)
        await paused(outbox, clock)
    assert time.monotonic() - began < 5
    assert [s.text for s in channel.sent] == ["a1"]
    assert await statuses(services) == {"pending": ["a1", "b1"]}


class AnsweringInFours(ScriptedChannel):
    """The platform answers four sends at a time: their outcomes are ready together, whatever the machine's speed."""

    def __init__(self) -> None:
        super().__init__(latency=0.0)
        self.together = asyncio.Barrier(4)

    async def send(self, recipient: str, reply: Reply, *, replace: str | None = None) -> Delivery:
        await self.together.wait()
        return await super().send(recipient, reply, replace=replace)


async def test_sends_completing_together_share_a_commit_and_each_outcome_is_recorded(services: Services) -> None:
    channel = AnsweringInFours()
    for number in range(60):
        await queue(services, f"chat{number}", f"câu {number}")
    async with delivering(services, channel, Pace(per_second=1000, per_recipient_interval=0.0)) as outbox:
        await channel.wait(lambda: len(channel.sent) == 60)
    assert (await statuses(services)) == {"sent": [f"câu {number}" for number in range(60)]}
    assert outbox.sent == 60
    # of four outcomes ready together, the first commits alone and the three that queued meanwhile share the next
    assert outbox.outcomes.commits <= 30


async def test_an_outcome_that_cannot_be_recorded_does_not_hold_back_the_others(services: Services) -> None:
    outcomes = GroupCommit(services)

    def adding(text: str) -> Callable[[UnitOfWork], Awaitable[None]]:
        async def write(uow: UnitOfWork) -> None:
            if text == "hỏng":
                raise ValueError("this outcome cannot be written")
            await uow.outbox.add("fake", "a", Reply(text).to_payload(), services.clock())

        return write

    results = await asyncio.gather(
        *(outcomes.commit(adding(text)) for text in ("một", "hỏng", "hai", "ba")), return_exceptions=True
    )
    assert [type(result).__name__ for result in results] == ["NoneType", "ValueError", "NoneType", "NoneType"]
    assert (await statuses(services)) == {"pending": ["một", "hai", "ba"]}


async def test_the_unit_of_work_tells_the_outbox_of_queued_messages_once_they_are_committed(services: Services) -> None:
    told: list[str] = []
    services = dataclasses.replace(services, on_commit=lambda: told.append("there is work"))
    async with services.uow() as uow:  # a message queued and committed: the outbox is told, once
        await uow.outbox.add("fake", "a", Reply("m1").to_payload(), services.clock())
        await uow.outbox.add("fake", "a", Reply("m2").to_payload(), services.clock())
        assert told == []  # not before the commit: the rows are not there for the outbox yet
        await uow.commit()
    assert told == ["there is work"]
    async with services.uow() as uow:  # queued, then thrown away: nothing to tell
        await uow.outbox.add("fake", "b", Reply("m3").to_payload(), services.clock())
    async with services.uow() as uow:  # the outbox read and a unit added, nothing queued: nothing to tell
        await uow.outbox.pending("fake", services.clock(), 10)
        await uow.units.add("P8", "Phường 8", None, services.clock())
        await uow.commit()
    assert told == ["there is work"]
    assert await statuses(services) == {"pending": ["m1", "m2"]}


async def test_a_message_queued_then_rolled_back_wakes_nothing_at_a_later_commit(services: Services) -> None:
    told: list[str] = []
    services = dataclasses.replace(services, on_commit=lambda: told.append("there is work"))
    async with services.uow() as uow:  # as a request whose idempotency key another stored first
        await uow.outbox.add("fake", "a", Reply("m1").to_payload(), services.clock())
        await uow.rollback()
        await uow.units.add("P8", "Phường 8", None, services.clock())
        await uow.commit()
    assert told == []
    assert await statuses(services) == {}
