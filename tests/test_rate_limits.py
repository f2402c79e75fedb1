"""Rate limits (issue 15, point 2), driven as a hostile caller would: the real service over loopback HTTP, and chats
through the Zalo Bot emulator. The service's clock is the test's: time moves by hand, nothing sleeps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.web.limits import client_address, networks
from handlers.context import Services
from tests.conftest import Backend, Clock
from tests.emulators.zalo_bot import Person, ZaloBotEmulator
from tests.helpers import Person as ChatPerson
from tests.helpers import add_unit, returned_dossier, sample_dossier
from tests.telegram_service import RunningService, running

TOKEN = "1459232241454765289:secret-abc"
SECRET = "mykey-abcxyz"
NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Hà Nội
INVALID_CODE = "Mã này không đúng, đã được dùng hoặc đã hết hạn."
SLOWED = "Ông/Bà đã nhập sai nhiều lần. Để bảo vệ thông tin, xin vui lòng chờ "
LOCKED = "Ông/Bà đã nhập sai quá nhiều lần nên chức năng này tạm dừng với cuộc trò chuyện này."
JOINED = "Ông/Bà đã được cấp quyền cán bộ"


@asynccontextmanager
async def service(backend: Backend, clock: Clock, **settings: Any) -> AsyncIterator[RunningService]:
    async with running(backend.url, clock, **settings) as running_service:
        yield running_service


@asynccontextmanager
async def zalo(backend: Backend, clock: Clock) -> AsyncIterator[tuple[ZaloBotEmulator, RunningService]]:
    """`sipasbot run` with the Zalo Bot in webhook mode: every guess is a push to our webhook from one address."""
    async with ZaloBotEmulator(token=TOKEN) as emu:
        settings = {
            "zalo_bot_token": TOKEN,
            "zalo_bot_api_url": emu.api_url,
            "zalo_bot_mode": "webhook",
            "zalo_bot_webhook_secret": SECRET,
            "zalo_bot_rate": 1000.0,
            "zalo_chat_interval": 0.0,
            "survey_tick_seconds": 3600,
        }
        async with service(backend, clock, **settings) as running_service:
            yield emu, running_service


async def get(running_service: RunningService, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with running_service.session.get(running_service.base_url + path, headers=headers or {}) as response:
        body = await response.json() if response.content_type == "application/json" else await response.read()
        if response.status == 429:
            assert response.headers["Retry-After"].isdigit(), response.headers
            assert int(response.headers["Retry-After"]) >= 1
            assert body == {"error": {"code": "too_many_requests", "message": body["error"]["message"]}}
        return response.status, body


async def guesses(person: Person, texts: list[str]) -> list[str]:
    """Type each of ``texts``; the bot's answers to them, one each."""
    before = len(person.texts)
    for text in texts:
        await person.send_text(text)
    await person.wait_for(lambda p: len(p.texts) >= before + len(texts), timeout=60)
    return person.texts[before:]


# --- HTTP


async def test_three_hundred_lookups_in_one_second_with_one_key_are_refused_with_429_and_retry_after(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOW)
    caplog.set_level(logging.INFO)
    async with service(backend, clock) as running_service:
        statuses = []
        for number in range(300):
            clock.advance(seconds=1 / 300)
            status, _ = await get(
                running_service,
                f"/api/v1/dossiers/P9-261118-{number:04d}",
                {"Authorization": f"Bearer {running_service.key}"},
            )
            statuses.append(status)
        assert statuses[:200] == [404] * 200  # the burst: each probe answered
        assert statuses.count(429) >= 80  # then about 20 a second
        assert set(statuses) == {404, 429}
        status, _ = await get(running_service, "/api/v1/dossiers/P9-261118-0001", {"Authorization": "Bearer x"})
        assert status == 401  # another caller (no valid key: its address) is not refused for this key's excess
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.web.limits"]
        assert len(lines) == 1, lines  # one line when the key starts being refused, not one per refusal (1 s)
        assert "'test'" in lines[0]
        assert running_service.key not in caplog.text
        clock.advance(seconds=10)
        status, _ = await get(
            running_service, "/api/v1/dossiers/P9-261118-0001", {"Authorization": f"Bearer {running_service.key}"}
        )
        assert status == 404  # refilled


async def test_a_five_hundred_dossier_import_at_the_documented_pace_is_never_refused(backend: Backend) -> None:
    clock = Clock(NOW)
    async with service(backend, clock) as running_service:
        for number in range(500):
            clock.advance(seconds=1 / 20)  # 20 requests a second, the sustained rate of a key
            status, body = await running_service.api(
                "PUT",
                f"/api/v1/dossiers/P8-261118-{number:04d}",
                {
                    "unit": "P8",
                    "procedure": "Đăng ký khai sinh",
                    "field": "Hộ tịch",
                    "applicant": {"name": f"Người dân {number}"},
                    "received_at": "2026-11-16T08:00:00+07:00",
                    "due_at": "2026-11-20",
                    "channel": "truc_tiep",
                },
            )
            assert status == 201, (number, body)


async def test_two_hundred_wrong_keys_from_one_address_are_refused_but_a_valid_key_there_is_not(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOW)
    async with service(backend, clock) as running_service:
        statuses = []
        for number in range(200):
            wrong = f"sipas_0000{number:04d}_guessedguessedguessedguessedguessed"
            status, _ = await get(running_service, "/api/v1/dossiers/P8-1", {"Authorization": f"Bearer {wrong}"})
            statuses.append(status)
        assert statuses[:60] == [401] * 60
        assert statuses[60:] == [429] * 140
        status, _ = await get(running_service, "/cong-khai/P8")
        assert status == 429  # the address is refused everywhere a key is not what counts
        status, _ = await get(
            running_service, "/api/v1/dossiers/P8-1", {"Authorization": f"Bearer {running_service.key}"}
        )
        assert status == 404
        assert "guessed" not in caplog.text


async def test_a_spoofed_x_forwarded_for_does_not_escape_the_limit_without_a_trusted_proxy(backend: Backend) -> None:
    clock = Clock(NOW)
    async with service(backend, clock) as running_service:
        statuses = []
        for number in range(100):
            headers = {"Authorization": "Bearer wrong", "X-Forwarded-For": f"203.0.113.{number}"}
            statuses.append((await get(running_service, "/api/v1/dossiers/P8-1", headers))[0])
        assert statuses[:60] == [401] * 60
        assert statuses[60:] == [429] * 40


async def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_allowance(backend: Backend) -> None:
    clock = Clock(NOW)
    limits = {"trusted_proxies": "10.0.0.0/8, 127.0.0.1", "rate_address_burst": 5}
    async with service(backend, clock, **limits) as running_service:
        for _ in range(5):
            assert (await get(running_service, "/cong-khai/P8", {"X-Forwarded-For": "203.0.113.7"}))[0] == 200
        assert (await get(running_service, "/cong-khai/P8", {"X-Forwarded-For": "203.0.113.7"}))[0] == 429
        # what the client writes in front of the header is not believed: the proxy appended the real address
        spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
        assert (await get(running_service, "/cong-khai/P8", spoofed))[0] == 429
        # a chain of trusted proxies is walked back to the first address that is not one of them
        chained = {"X-Forwarded-For": "203.0.113.7, 10.1.2.3"}
        assert (await get(running_service, "/cong-khai/P8", chained))[0] == 429
        assert (await get(running_service, "/cong-khai/P8", {"X-Forwarded-For": "203.0.113.8"}))[0] == 200
        assert (await get(running_service, "/cong-khai/P8"))[0] == 200  # the proxy itself, without the header


def test_the_caller_address_is_the_nearest_untrusted_hop() -> None:
    trusted = networks("10.0.0.0/8,::1")
    assert client_address("127.0.0.1", ["203.0.113.7"], trusted) == "127.0.0.1"  # not a trusted peer
    assert client_address("10.0.0.2", ["198.51.100.1, 203.0.113.7"], trusted) == "203.0.113.7"
    assert client_address("10.0.0.2", ["203.0.113.7", "10.0.0.9"], trusted) == "203.0.113.7"  # two headers
    assert client_address("::1", ["nonsense, 10.0.0.3"], trusted) == "10.0.0.3"  # a bad hop stops the walk
    assert client_address("10.0.0.2", [], trusted) == "10.0.0.2"
    assert client_address("10.0.0.2", ["203.0.113.7:41234"], trusted) == "203.0.113.7"
    assert client_address("10.0.0.2", ["[2001:db8::1]:41234"], trusted) == "2001:db8::1"


async def test_the_public_pages_are_limited_per_address_and_the_documentation_tells_of_429(backend: Backend) -> None:
    clock = Clock(NOW)
    async with service(backend, clock, rate_address_burst=5, rate_address_per_second=0.5) as running_service:
        statuses = [(await get(running_service, "/cong-khai/P8"))[0] for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        assert (await get(running_service, "/healthz"))[0] == 200  # monitoring is never refused
        clock.advance(seconds=2)
        status, document = await get(running_service, "/api/v1/openapi.json")
        assert status == 200
        for item in document["paths"].values():
            for operation in item.values():
                assert "Retry-After" in operation["responses"]["429"]["headers"]


# --- chats


async def test_two_hundred_join_guesses_in_a_zalo_chat_are_refused_after_five_then_for_a_while(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOW)
    caplog.set_level(logging.INFO)
    async with zalo(backend, clock) as (emu, running_service):
        code = await running_service.app.roles.invite("staff", "P8")
        guesser = emu.person("6ede9afa66b88fe6d6a9", display_name="Kẻ dò mã")
        answers = await guesses(guesser, [f"/join ABCD-{number:04d}" for number in range(200)])
        assert [a.startswith(INVALID_CODE) for a in answers].count(True) == 5  # every webhook push was answered
        assert all(a.startswith(INVALID_CODE) for a in answers[:5])
        assert all(a.startswith(SLOWED) and "30 giây" in a for a in answers[5:]), answers[5]
        # refused without being checked: even the right code is not tried now
        assert (await guesses(guesser, [f"/join {code}"]))[0].startswith(SLOWED)
        for _ in range(5):  # one guess every 30 seconds is checked, until ten have failed
            clock.advance(seconds=30)
            assert (await guesses(guesser, ["/join WXYZ-0000"]))[0].startswith(INVALID_CODE)
        clock.advance(seconds=1)
        locked = (await guesses(guesser, [f"/join {code}"]))[0]
        assert locked.startswith(LOCKED), locked
        assert "15 phút" in locked
        clock.advance(minutes=14)
        assert (await guesses(guesser, [f"/join {code}"]))[0].startswith(LOCKED)
        other = emu.person("6ede9afa66b88fe6d6b0", display_name="Cán bộ")  # another chat is not held back
        assert (await guesses(other, ["/join ABCD-0000"]))[0].startswith(INVALID_CODE)
        clock.advance(minutes=1)
        assert (await guesses(guesser, [f"/join {code}"]))[0].startswith(JOINED)
    logged = [r for r in caplog.records if r.name == "handlers.limits"]
    assert any(r.levelno == logging.WARNING and "refused for 900 s" in r.getMessage() for r in logged), logged
    assert "ABCD" not in caplog.text
    assert code not in caplog.text


async def test_hoso_lookups_of_unknown_dossiers_in_a_zalo_chat_are_slowed_then_refused(backend: Backend) -> None:
    clock = Clock(NOW)
    async with zalo(backend, clock) as (emu, running_service):
        await running_service.put_dossier("P8-261118-0001", "Nguyễn Văn An")
        officer = emu.person("6ede9afa66b88fe6d6c1", display_name="Cán bộ")
        code = await running_service.app.roles.invite("staff", "P8")
        assert (await guesses(officer, [f"/join {code}"]))[0].startswith(JOINED)
        known = await guesses(officer, ["/hoso P8-261118-0001"] * 20)
        assert all("P8-261118-0001" in a and not a.startswith(SLOWED) for a in known)  # finding is never slowed
        answers = await guesses(officer, [f"/hoso P9-261118-{number:04d}" for number in range(200)])
        assert all(a.startswith("Không tìm thấy hồ sơ P9-261118-") for a in answers[:5]), answers[:5]
        assert all(a.startswith(SLOWED) for a in answers[5:]), answers[5]
        assert (await guesses(officer, ["/xinloi P9-261118-0001"]))[0].startswith(SLOWED)
        clock.advance(seconds=30)
        assert "P8-261118-0001" in (await guesses(officer, ["/hoso P8-261118-0001"]))[0]


async def test_receipt_links_guessed_in_a_zalo_chat_are_slowed(backend: Backend) -> None:
    clock = Clock(NOW)
    async with zalo(backend, clock) as (emu, running_service):
        body = await running_service.put_dossier("P8-261118-0001", "Nguyễn Văn An")
        citizen = emu.person("6ede9afa66b88fe6d6d2", display_name="Dân")
        answers = await guesses(citizen, [f"/start guess{number}" for number in range(20)])
        assert all(a.startswith("Đường liên kết này không đúng") for a in answers[:5]), answers[:5]
        assert all(a.startswith(SLOWED) for a in answers[5:]), answers[5]
        assert (await guesses(citizen, [f"/start {body['optin']['token']}"]))[0].startswith(SLOWED)
        clock.advance(seconds=30)
        assert (await guesses(citizen, [f"/start {body['optin']['token']}"]))[0].startswith("Kính gửi Ông/Bà")


async def test_phone_numbers_shared_in_a_chat_are_slowed_and_the_right_one_is_not_checked_meanwhile(
    services: Services, clock: Clock
) -> None:
    await add_unit(services)
    token = await returned_dossier(services, sample_dossier(), clock.now)
    await returned_dossier(services, sample_dossier(code="HS-9", phone="0977 111 222", name="Đỗ Văn Em"), clock.now)
    person = ChatPerson(services, "doan-so")
    await person.link(token)
    for number in range(5):
        (reply,) = await person.share_contact(f"09000000{number:02d}")
        assert reply.text.startswith("Chúng tôi không tìm thấy"), reply.text
    (reply,) = await person.share_contact("+84977111222")
    assert reply.text.startswith(SLOWED), reply.text
    clock.advance(seconds=30)
    assert "Đã liên kết 1 hồ sơ" in (await person.share_contact("+84977111222"))[0].text
