"""The Zalo OA's token chain revoked in the middle of a run: replies wait, nothing is lost, nothing repeats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from storage.models import AnswerRow, OutboxRow
from tests.conftest import Backend
from tests.emulators.zalo_oa import Person
from tests.test_zalo_oa import LEVELS, link, oa_service, today_window


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def test_a_token_revoked_mid_run_holds_the_replies_until_access_is_granted_again(backend: Backend) -> None:
    async with oa_service(backend.url, {"zalo_oa_token_check_seconds": 0.2}) as (emu, service):
        people: list[Person] = []
        for number in range(10):
            body = await service.put_dossier(f"P8-{number}", f"Người dân {number}")
            people.append(emu.person(f"24684588352961{number:05d}", display_name=f"Dân {number}"))
            await link(people[-1], body["optin"]["token"])
            await service.event(f"P8-{number}", "returned", now_iso(-timedelta(minutes=1)))
        for person in people:
            await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=30)
            await person.press("Hài lòng")
            await person.wait_for(lambda p: p.last.text.startswith("Câu 2/33"), timeout=30)

        # the OA's administrator revokes the app: the access token and the refresh token stop working
        emu.expire_access_token()
        emu.expire_refresh_token()
        for person in people:  # the answers still come in by webhook, and are kept
            await person.press(LEVELS[4])
        async with asyncio.timeout(30):  # every answer kept, and a reply refused for want of access
            while True:
                async with service.app.services.uow(read_only=True) as uow:
                    kept = await uow.connection.scalar(select(func.count(AnswerRow.id)))
                health = await service.session.get(service.base_url + "/healthz")
                if kept == 20 and (await health.json())["channels"]["zalo_oa"] == "reauthorise":
                    break
                await asyncio.sleep(0.1)
        assert all(p.last.text.startswith("Câu 2/33") for p in people)  # the next questions wait

        # access granted again, the new pair stored as `sipasbot zalo-oa tokens` does
        access, refresh = emu.grant()
        services = service.app.services
        async with services.uow() as uow:
            await uow.tokens.replace(
                "zalo_oa", access, refresh, services.clock() + timedelta(hours=25), services.clock()
            )
            await uow.commit()
        for person in people:
            await person.wait_for(lambda p: p.last.text.startswith("Câu 3/33"), timeout=30)
        for person in people:
            assert sum(t.startswith("Câu 3/33") for t in person.texts) == 1  # each held reply sent once

        async with asyncio.timeout(10):  # the last sends' outcomes are being committed
            while True:
                async with services.uow(read_only=True) as uow:
                    answers = await uow.connection.scalar(select(func.count(AnswerRow.id)))
                    pending = await uow.connection.scalar(
                        select(func.count(OutboxRow.id)).where(OutboxRow.status == "pending")
                    )
                if not pending:
                    break
                await asyncio.sleep(0.1)
        assert answers == 20
        report = await service.report(*today_window())
        assert report["criteria"][1]["counts"]["5"] == 10
