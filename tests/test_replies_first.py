"""Replies before bulk (docs/CHANNELS.md): a person's reply overtakes a burst of invitations to other chats.

Through the real service, its outbox and each platform's emulator: 2,000 invitations are queued to 2,000
other chats, then one more to Bình; while they drain, An and Bình write to the bot. The order of arrival at
the platform is what is asserted, never seconds: An's reply arrives before all the invitations but those
already in flight when An wrote, and Bình gets the invitation queued to Bình first, then the reply, both
before the burst. The pace is slow on purpose (5 messages a second) so that the rate, not the machine's
load, decides who goes next; the emulators enforce the same caps and must never answer "too many".
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.outbox import Pace
from bot.outbox_lanes import BULK_SHARE
from handlers.context import Services
from handlers.messages import Reply
from tests.conftest import Backend
from tests.emulators.telegram import TelegramEmulator
from tests.telegram_service import TOKEN, RunningService, running_service
from tests.test_outbox import ScriptedChannel, delivering
from tests.test_zalo_oa import oa_service

BURST = 2000
RATE = 5.0  # messages a second, overall, on both sides of the wire
INTERVAL = 0.05  # seconds between two messages to one chat
IN_FLIGHT = Pace().in_flight  # bulk sends that may have left (or be waiting for a slot) when a reply is queued
INVITATION = "Mời Ông/Bà đánh giá mức độ hài lòng"


async def queue_burst(service: RunningService, channel: str, recipients: list[str]) -> None:
    """Queue an invitation to each of ``recipients`` as the invitation job does: bulk, in one transaction."""
    services = service.app.services
    async with services.uow() as uow:
        for recipient in recipients:
            await uow.outbox.add(
                channel, recipient, Reply(f"{INVITATION} ({recipient})").to_payload(), datetime.now(UTC)
            )
        await uow.commit()
    services.on_commit()


def positions(arrivals: list[tuple[str, str]], an: str, binh: str) -> tuple[int, int, int]:
    """Where An's reply, Bình's invitation and Bình's reply arrived (indexes in the order of arrival)."""
    an_reply = next(i for i, (to, text) in enumerate(arrivals) if to == an)
    binh_messages = [i for i, (to, _) in enumerate(arrivals) if to == binh]
    assert [arrivals[i][1].startswith(INVITATION) for i in binh_messages] == [True, False]  # the invitation first
    return an_reply, binh_messages[0], binh_messages[1]


async def test_a_reply_on_telegram_overtakes_two_thousand_invitations_and_follows_its_own(backend: Backend) -> None:
    emulator = TelegramEmulator(token=TOKEN, per_chat=1 / INTERVAL, global_rate=RATE)
    burst = [str(3_000_000 + n) for n in range(BURST)]
    for chat in burst:
        emulator.person(user_id=int(chat), first_name="Dân", started=True)
    an, binh = emulator.person(user_id=1001, first_name="An"), emulator.person(user_id=1002, first_name="Bình")
    binh.started = True  # Bình wrote to the bot before: the invitation may go to Bình

    def arrivals() -> list[tuple[str, str]]:
        return [(str(c.params["chat_id"]), str(c.params["text"])) for c in emulator.calls if c.method == "sendMessage"]

    async with (
        emulator,
        running_service(backend.url, emulator, telegram_rate=RATE, telegram_chat_interval=INTERVAL) as service,
    ):
        await queue_burst(service, "telegram", [*burst, "1002"])
        await emulator.wait_for(lambda e: len(arrivals()) >= 3)  # the burst is going out
        before = len(arrivals())
        await an.send_command("/trogiup")
        await binh.send_command("/trogiup")
        await emulator.wait_for(lambda e: sum(to in ("1001", "1002") for to, _ in arrivals()) >= 3)
        seen = arrivals()
    an_reply, binh_invitation, binh_reply = positions(seen, "1001", "1002")
    assert "/khaosat" in seen[an_reply][1]  # the help, in answer to An's command
    assert an_reply <= before + IN_FLIGHT  # only what was in flight when An wrote went first
    assert binh_invitation < binh_reply <= before + IN_FLIGHT + 2  # Bình's own invitation, then the reply
    assert emulator.stats.too_many_requests == 0


async def test_a_reply_on_the_zalo_oa_overtakes_two_thousand_invitations_and_follows_its_own(
    backend: Backend,
) -> None:
    settings = {"zalo_oa_rate": RATE, "zalo_chat_interval": INTERVAL}
    async with oa_service(backend.url, settings, rate_per_second=RATE) as (emu, service):
        burst = [str(4_000_000_000_000_000_000 + n) for n in range(BURST)]
        for user in burst:
            emu.person(user, "Người dân", following=True)
        an = emu.person("1000000000000001001", "An", following=True)
        binh = emu.person("1000000000000001002", "Bình", following=True)

        def arrivals() -> list[tuple[str, str]]:
            return [
                (str(c.body["recipient"]["user_id"]), str(c.body["message"].get("text", "")))
                for c in emu.calls_to("/message/cs")
            ]

        await queue_burst(service, "zalo_oa", [*burst, binh.user_id])
        await emu.wait_for(lambda e: len(arrivals()) >= 3)
        before = len(arrivals())
        await an.send_text("/trogiup")
        await binh.send_text("/trogiup")
        await emu.wait_for(lambda e: sum(to in (an.user_id, binh.user_id) for to, _ in arrivals()) >= 3)
        seen = arrivals()
    an_reply, binh_invitation, binh_reply = positions(seen, an.user_id, binh.user_id)
    assert "/khaosat" in seen[an_reply][1]
    assert an_reply <= before + IN_FLIGHT
    assert binh_invitation < binh_reply <= before + IN_FLIGHT + 2
    assert emu.stats.rate_limited == 0


async def test_the_bulk_keeps_its_share_of_the_cap_while_replies_wait(services: Services) -> None:
    """Hundreds of replies waiting at once (more than the cap) leave the bulk a quarter of the slots, never none."""
    channel = ScriptedChannel(latency=0.0)
    async with services.uow() as uow:
        for number in range(200):
            await uow.outbox.add("fake", f"bulk{number}", Reply("bulk").to_payload(), services.clock())
        for number in range(200):
            reply = Reply("reply").to_payload()
            await uow.outbox.add("fake", f"person{number}", reply, services.clock(), interactive=True)
        await uow.commit()
    async with delivering(services, channel, Pace(per_second=20, per_recipient_interval=0.0)):
        await channel.wait(lambda: len(channel.sent) >= 100)
    first = [sent.text for sent in channel.sent[:100]]
    # five seconds of sends at 20 a second: the replies first, yet the bulk keeps its 5 slots of every second
    assert first.count("bulk") >= 100 * BULK_SHARE * 0.6
    assert first.count("reply") > 2 * first.count("bulk")
