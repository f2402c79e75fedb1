"""Zalo OA end to end: the real service and our aiohttp client over loopback HTTP to the OA emulator."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.channels.zalo_api import ZaloApi, ZaloOAConfig
from bot.channels.zalo_oa import ZaloOAChannel, to_inbound
from handlers.context import Services
from handlers.messages import Inbound, Outcome
from storage.models import AnswerRow, IdentityRow, InboundEventRow, InvitationRow, OutboxRow
from tests.conftest import Backend
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo_oa import Person, ZaloOAEmulator, signature
from tests.telegram_service import PACE, TOKEN, RunningService, running

LEVELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
CONTROLS = ("Bỏ qua", "Quay lại")
APP_ID, APP_SECRET, SECRET_KEY = "1234567890", "app-secret", "oa-secret-key"


def oa_settings(emu: ZaloOAEmulator, **extra: Any) -> dict[str, Any]:
    return {
        "zalo_oa_app_id": APP_ID,
        "zalo_oa_app_secret": APP_SECRET,
        "zalo_oa_secret_key": SECRET_KEY,
        "zalo_oa_access_token": emu.access_token,
        "zalo_oa_refresh_token": emu.refresh_token,
        "zalo_oa_api_url": emu.api_url,
        "zalo_oa_oauth_url": emu.oauth_url,
        "zns_api_url": emu.zns_url,
        "zalo_oa_rate": 300.0,
        "zalo_chat_interval": 0.02,
        "survey_tick_seconds": 0.2,
        **extra,
    }


@asynccontextmanager
async def oa_service(
    url: str, settings: dict[str, Any] | None = None, **emulator: Any
) -> AsyncIterator[tuple[ZaloOAEmulator, RunningService]]:
    """The OA emulator and the service talking to it, its webhook registered with the emulator."""
    emulator = {"app_id": APP_ID, "app_secret": APP_SECRET, "oa_secret_key": SECRET_KEY, **emulator}
    async with (
        ZaloOAEmulator(**emulator) as emu,
        running(url, **oa_settings(emu, **(settings or {}))) as service,
    ):
        emu.webhook_url = service.base_url + "/webhooks/zalo-oa"
        yield emu, service


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def today_window() -> tuple[Any, Any]:
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    return today - timedelta(days=1), today + timedelta(days=1)


async def link(person: Person, token: str) -> None:
    """Follow the OA, send the receipt's code, agree to the notice."""
    await person.follow()
    await person.send_text(f"/start {token}")
    await person.wait_for(lambda p: "Đồng ý" in p.last.button_titles)
    assert person.last.text.startswith("Kính gửi Ông/Bà,")
    await person.press("Đồng ý")
    await person.wait_for(lambda p: any("đã được liên kết" in text for text in p.texts))


async def answer_everything(person: Person, index: int) -> dict[int, int]:
    """Answer each of the 33 questions with a button where one is shown, else by typing its number."""
    pressed: dict[int, int] = {}
    await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=30)
    for number in range(1, 34):
        question = person.last
        assert question.text.startswith(f"Câu {number}/33"), question.text
        choices = [title for title in question.button_titles if title not in CONTROLS]
        if choices:
            label = choices[(index + number) % len(choices)]
            if choices == LEVELS:
                pressed[number] = LEVELS.index(label) + 1
            await person.press(label)
        elif question.button_titles:  # the comment: only the controls
            await person.press("Bỏ qua")
        else:  # more options than the OA's five buttons: numbered text
            assert "\n  1. " in question.text, question.text
            await person.send_text("2")
        done = f"Câu {number + 1}/33" if number < 33 else "Trân trọng cảm ơn"
        await person.wait_for(lambda p, done=done: p.last.text.startswith(done), timeout=30)
    return pressed


async def count(service: RunningService, column: Any) -> int:
    async with service.app.services.uow(read_only=True) as uow:
        return int(await uow.connection.scalar(select(func.count(column))))


async def test_fifty_people_on_the_oa_link_and_answer_every_question(backend: Backend) -> None:
    async with oa_service(backend.url) as (emu, service):
        people: list[Person] = []
        for number in range(50):
            body = await service.put_dossier(
                f"P8-261118-{number:04d}",
                f"Người dân {number}",
                received=now_iso(-timedelta(days=3)),
                due=now_iso(timedelta(days=2)),
            )
            people.append(emu.person(f"24684588352961{number:05d}", display_name=f"Dân {number}"))
            await link(people[-1], body["optin"]["token"])
        for number in range(50):
            await service.event(f"P8-261118-{number:04d}", "returned", now_iso(-timedelta(minutes=1)))
        results = await asyncio.gather(*(answer_everything(p, n) for n, p in enumerate(people)))

        report = await service.report(*today_window())
        criteria = report["criteria"]
        for position, criterion in enumerate(criteria, start=1):
            expected = Counter(result[position] for result in results if position in result)
            assert criterion["counts"] == {str(level): expected.get(level, 0) for level in range(1, 6)}
            assert criterion["n"] == 50
        assert report["surveys"] == {
            "offered": 50,
            "delivered": 50,
            "started": 50,
            "completed": 50,
            "respondents": 50,
            "response_rate": 100.0,
        }
        for person in people:  # one invitation each
            assert sum(text.startswith("Phiếu khảo sát sự hài lòng") for text in person.texts) == 1
        assert not emu.stats.errors, emu.stats
        assert emu.stats.webhook_failures == 0
        assert emu.stats.non_nfc_texts == 0


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(event, ensure_ascii=False).encode()
    mac = signature(str(event["app_id"]), raw, str(event["timestamp"]), SECRET_KEY)
    return raw, {"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"}


async def test_a_forged_unsigned_or_replayed_event_changes_nothing(backend: Backend) -> None:
    async with oa_service(backend.url) as (emu, service):
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        event = {
            "app_id": APP_ID,
            "user_id_by_app": "5521",
            "event_name": "user_send_text",
            "timestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
            "sender": {"id": "2468458835296117922"},
            "recipient": {"id": emu.oa_id},
            "message": {"msg_id": "cb31dff1c39642cc1b83", "text": f"/start {body['optin']['token']}"},
        }
        url = service.base_url + "/webhooks/zalo-oa"
        raw, headers = signed(event)
        old = {**event, "timestamp": str(int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000))}
        old_raw, old_headers = signed(old)
        other_app = {**event, "app_id": "999"}
        other_raw = json.dumps(other_app).encode()
        other_mac = signature("999", other_raw, event["timestamp"], SECRET_KEY)
        refused = [
            (raw, {"Content-Type": "application/json"}),  # unsigned
            (raw, {**headers, "X-ZEvent-Signature": "mac=" + "0" * 64}),  # forged
            (raw.replace(b"cb31", b"cb32"), headers),  # body changed after signing
            (old_raw, old_headers),  # signed, but an hour old: a replay
            (other_raw, {**headers, "X-ZEvent-Signature": other_mac}),  # another app's
            (b"{not json", headers),
        ]
        async with aiohttp.ClientSession() as session:
            for data, hdrs in refused:
                async with session.post(url, data=data, headers=hdrs) as response:
                    assert response.status == 403, data
                    assert (await response.json())["error"]["code"] == "forbidden"
            assert await count(service, InboundEventRow.id) == 0
            assert await count(service, OutboxRow.id) == 0
            for _ in range(3):  # Zalo retries a push it thinks was lost: the same event
                async with session.post(url, data=raw, headers=headers) as response:
                    assert response.status == 200
            bare = raw.decode()
            async with session.post(
                url, data=raw, headers={**headers, "X-ZEvent-Signature": headers["X-ZEvent-Signature"][4:]}
            ) as response:
                assert response.status == 200, bare  # the signature without "mac=" is accepted too
        assert await count(service, InboundEventRow.id) == 1
        assert await count(service, OutboxRow.id) == 1  # one consent notice, however often it came
        assert await count(service, AnswerRow.id) == 0


@pytest.mark.parametrize("button_event", ["user_send_text", "user_click_button"])
async def test_a_press_arrives_as_text_or_as_a_click_and_counts_once(backend: Backend, button_event: str) -> None:
    async with oa_service(backend.url, button_event=button_event) as (emu, service):
        body = await service.put_dossier("P8-1", "Nguyễn Văn An")
        person = emu.person("2468458835296117922", display_name="An")
        await link(person, body["optin"]["token"])
        await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
        await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"))
        event = await person.press("Hài lòng")
        await person.wait_for(lambda p: p.last.text.startswith("Câu 2/33"))
        await emu.push(event)  # the same press delivered again
        await person.send_text("rat hai long")  # a typed label, without accents
        await person.wait_for(lambda p: p.last.text.startswith("Câu 3/33"))
        async with service.app.services.uow(read_only=True) as uow:
            rows = (await uow.connection.execute(select(AnswerRow.question_code, AnswerRow.value))).all()
        assert sorted(rows) == [("TC1", "4"), ("TC2", "5")]


RATING_TEMPLATE = "350001"
RATING_PARAMS = [("ho_ten", 30), ("ma_ho_so", 50), ("thu_tuc", 100), ("ngay_tra", 20)]


async def test_fifty_zns_ratings_duplicated_out_of_order_or_unknown_count_once_each(backend: Backend) -> None:
    async with ZaloOAEmulator(app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY) as emu:
        emu.zns.add_template(RATING_TEMPLATE, params=RATING_PARAMS, rating=True)
        emu.zns.auto_received = False  # the delivery receipts are pushed by hand, some after the rating
        settings = oa_settings(emu, zns_rating_template_id=RATING_TEMPLATE, zns_rate=200.0)
        async with running(backend.url, **settings) as service:
            emu.webhook_url = service.base_url + "/webhooks/zalo-oa"
            phones = [f"0912{number:06d}" for number in range(50)]
            for number, phone in enumerate(phones):
                await service.put_dossier(
                    f"P8-{number:04d}",
                    f"Người dân {number}",
                    received=now_iso(-timedelta(days=3)),
                    due=now_iso(timedelta(days=2)),
                    phone=phone,
                    zalo_optin=True,
                )
                await service.event(f"P8-{number:04d}", "returned", now_iso(-timedelta(minutes=1)))
            recipients = [emu.zns.recipient("84" + phone[1:]) for phone in phones]
            for recipient in recipients:
                await recipient.wait_for(lambda r: bool(r.messages), timeout=30)
            assert all(len(r.messages) == 1 for r in recipients)
            assert recipients[0].last.template_data == {
                "ho_ten": "Người dân 0",
                "ma_ho_so": "P8-0000",
                "thu_tuc": "Đăng ký khai sinh",
                "ngay_tra": datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y"),
            }

            stars = [(number * 7) % 5 + 1 for number in range(50)]
            order = list(range(50))
            random.Random(5).shuffle(order)  # ratings arrive in another order than the messages went
            events = []
            for number in order:
                note = "Cán bộ tận tình" if stars[number] >= 4 else "Chờ lâu"
                events.append(await recipients[number].rate(stars[number], feedbacks=["Đúng hẹn"], note=note))
            for event in events[::5]:  # re-deliveries of ten of them
                assert await emu.push(event) == 200
            for number, recipient in enumerate(recipients[:10]):  # the receipt after the rating
                receipt = {
                    "event_name": "user_received_message",
                    "app_id": APP_ID,
                    "sender": {"id": emu.oa_id},
                    "recipient": {"id": recipient.phone},
                    "message": {"msg_id": recipient.last.msg_id, "tracking_id": recipient.last.tracking_id},
                    "timestamp": str(emu.now_ms()),
                }
                assert await emu.push(receipt) == 200, number
            for number in range(5):  # ratings of messages that are not ours
                stranger = {
                    **events[0],
                    "message": {**events[0]["message"], "msg_id": f"foreign{number}", "tracking_id": f"x-{number}"},
                }
                assert await emu.push(stranger) == 200
            unknown = {**events[0], "message": {**events[0]["message"], "msg_id": "m-9", "tracking_id": "sipas-9999"}}
            assert await emu.push(unknown) == 200

            report = await service.report(*today_window(), form="danh-gia-ho-so")
            [overall] = [c for c in report["criteria"] if c["code"] == "HL"]
            levels = Counter("2" if s <= 2 else "4" if s <= 4 else "5" for s in stars)
            assert overall["counts"] == {"1": 0, "2": levels["2"], "3": 0, "4": levels["4"], "5": levels["5"]}
            assert overall["n"] == 50
            assert report["surveys"]["offered"] == 50
            assert report["surveys"]["completed"] == 50
            assert report["surveys"]["delivered"] == 50
            assert await count(service, AnswerRow.id) == 100  # the rating and the comment of each
            async with service.app.services.uow(read_only=True) as uow:
                comments = await uow.connection.scalars(select(AnswerRow.text).where(AnswerRow.question_code == "YK"))
                assert set(comments) == {"Đúng hẹn; Cán bộ tận tình", "Đúng hẹn; Chờ lâu"}
            assert emu.stats.zns_sent == 50


async def test_a_person_on_telegram_on_the_oa_and_on_zns_gets_one_invitation_per_dossier(backend: Backend) -> None:
    telegram = TelegramEmulator(token=TOKEN, username="sipas_test_bot", per_chat=10.0, global_rate=160.0)
    async with ZaloOAEmulator(app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY) as emu, telegram:
        emu.zns.add_template(RATING_TEMPLATE, params=RATING_PARAMS, rating=True)
        settings = {
            **oa_settings(emu, zns_rating_template_id=RATING_TEMPLATE),
            "telegram_token": TOKEN,
            "telegram_api_url": telegram.api_url,
            **PACE,
        }
        async with running(backend.url, **settings) as service:
            emu.webhook_url = service.base_url + "/webhooks/zalo-oa"
            codes = ["P8-1", "P8-2"]
            tokens = []
            for code in codes:
                body = await service.put_dossier(code, "Nguyễn Văn An", phone="0912345678", zalo_optin=True)
                tokens.append(body["optin"]["token"])
            on_telegram = telegram.person(user_id=4242, first_name="An")
            await on_telegram.send_command("/start", tokens[0])
            await on_telegram.wait_for(lambda p: "Đồng ý" in p.last.button_texts)
            await on_telegram.press("Đồng ý")
            on_zalo = emu.person("2468458835296117922", display_name="An")
            await link(on_zalo, tokens[1])
            for code in codes:
                await service.event(code, "returned", now_iso(-timedelta(minutes=1)))
            await service.jobs.surveys()  # the survey job, now ...
            await service.settled()
            await service.app.invitations.send_due()  # ... may run again: nothing more goes out

            def intros(texts: list[str]) -> int:
                return sum(text.startswith("Phiếu khảo sát sự hài lòng") for text in texts)

            await on_telegram.wait_for(lambda p: intros(p.texts) + intros(on_zalo.texts) == 2, timeout=20)
            await service.settled()  # all that was queued has gone
            assert intros(on_telegram.texts) + intros(on_zalo.texts) == 2  # one per dossier, on one chat each
            assert emu.stats.zns_sent == 0  # a chat was reachable: nothing went to the phone
            async with service.app.services.uow(read_only=True) as uow:
                channels = list(await uow.connection.scalars(select(InvitationRow.channel)))
            assert sorted(channels) == ["telegram", "telegram"]  # the oldest consented chat


async def test_a_closed_reply_window_marks_the_chat_and_the_invitation_goes_to_the_phone(backend: Backend) -> None:
    async with ZaloOAEmulator(app_id=APP_ID, app_secret=APP_SECRET, oa_secret_key=SECRET_KEY) as emu:
        emu.zns.add_template(RATING_TEMPLATE, params=RATING_PARAMS, rating=True)
        settings = oa_settings(emu, zns_rating_template_id=RATING_TEMPLATE)
        async with running(backend.url, **settings) as service:
            emu.webhook_url = service.base_url + "/webhooks/zalo-oa"
            body = await service.put_dossier("P8-1", "Nguyễn Văn An", phone="0912345678", zalo_optin=True)
            person = emu.person("2468458835296117922", display_name="An")
            await link(person, body["optin"]["token"])
            emu.reply_window = 0.0  # the 48 hours since the person last wrote have passed
            await service.event("P8-1", "returned", now_iso(-timedelta(minutes=1)))
            phone = emu.zns.recipient("84912345678")
            await phone.wait_for(lambda r: bool(r.messages), timeout=20)
            assert phone.last.tracking_id.startswith("sipas-")
            assert emu.stats.errors[-213] == 1  # tried once on the OA, then never again
            async with service.app.services.uow(read_only=True) as uow:
                chat_status = await uow.connection.scalar(select(IdentityRow.status))
                invitation = (await uow.connection.execute(select(InvitationRow.status, InvitationRow.channel))).one()
            assert chat_status == "window_closed"
            assert tuple(invitation) == ("sent", "zns")
            emu.reply_window = 48 * 3600.0
            await person.send_text("/trogiup")  # the person writes: the window opens again
            await person.wait_for(lambda p: "/khaosat" in p.last.text)
            async with service.app.services.uow(read_only=True) as uow:
                assert await uow.connection.scalar(select(IdentityRow.status)) == "active"


def oa_channel() -> ZaloOAChannel:
    config = ZaloOAConfig(app_id=APP_ID, app_secret=APP_SECRET, secret_key=SECRET_KEY)
    # verify() and to_inbound() read only the configuration and the clock: no services needed
    return ZaloOAChannel(ZaloApi(config, cast(Services, object())), _unused, clock=lambda: 1_763_434_800.0)


async def _unused(inbound: Inbound) -> Outcome:
    raise AssertionError("nothing comes in here")


def signed_raw(event: dict[str, Any]) -> tuple[bytes, str]:
    raw = json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return raw, "mac=" + signature(APP_ID, raw, str(event["timestamp"]), SECRET_KEY)


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        (b"[" * 100_000, "mac=00"),  # RecursionError before: a 500 on the webhook
        (json.dumps({"app_id": "\ud800", "timestamp": "1"}).encode(), "mac=00"),  # UnicodeEncodeError before
        (json.dumps({"app_id": APP_ID, "timestamp": "\udcff"}).encode(), "mac=00"),
        (
            json.dumps({"app_id": APP_ID, "timestamp": "1763434800000"}).encode(),
            "mac=\udcff\udcfe",
        ),  # a non-UTF-8 header
    ],
)
def test_an_event_that_cannot_be_read_or_matched_is_refused_with_a_permission_error(raw: bytes, header: str) -> None:
    with pytest.raises(PermissionError):
        oa_channel().verify(raw, header)


def test_a_signed_event_with_an_absurd_timestamp_is_refused_not_an_overflow() -> None:
    raw, header = signed_raw({"app_id": APP_ID, "timestamp": "9" * 400, "event_name": "user_send_text"})
    with pytest.raises(PermissionError, match="no timestamp"):
        oa_channel().verify(raw, header)


@pytest.mark.parametrize(
    "event",
    [
        {"event_name": "follow", "follower": True},
        {"event_name": "follow", "follower": {"id": ["1"]}},
        {"event_name": "user_send_text", "sender": "2468458835296117922", "message": {"msg_id": "m1", "text": "hi"}},
        {"event_name": "user_send_text", "sender": {"id": "1"}, "message": ["m1"]},
        {"event_name": "user_send_image", "sender": {"id": "1"}, "message": 5},
        {"event_name": "user_send_text", "sender": {"id": "1 2"}, "message": {"msg_id": "m1"}},
    ],
)
def test_an_event_whose_parts_are_not_objects_is_not_a_chat_event(event: dict[str, Any]) -> None:
    # each of these raised AttributeError (a 500 on the signed webhook) before
    assert to_inbound(event) is None
