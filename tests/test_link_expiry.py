"""Links that carry personal data expire: an apology slip (``/phieu``) and a kept workbook or chart (``/tep``)
work for SIPAS_LINK_DAYS days (30 by default), then answer 410 ``link_expired`` in the API's error shape."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import Backend, Clock
from tests.telegram_service import running
from tests.test_slip_service import put

MONDAY = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)  # 10:00 on Monday 09/03/2026 in Hà Nội


async def test_a_slips_and_a_workbooks_links_stop_working_after_the_days_set(backend: Backend) -> None:
    clock = Clock(MONDAY)
    async with running(backend.url, clock, link_days=7) as service:
        key = await service.app.api_keys.create("one-stop-shop", ["apologies:write"], ["all"])
        await put(service, "P8-1", "2026-03-11", {"name": "Nguyễn Thị Hoà"})
        async with service.session.post(
            f"{service.base_url}/api/v1/dossiers/P8-1/apology",
            json={"reason": "Chờ ý kiến của Sở Xây dựng", "new_due_at": "2026-03-17", "issued_by": "Trần Thị Bình"},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            slip_url = (await response.json())["slip_url"]
        async with service.app.services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code("P8")
        assert unit is not None
        async with service.app.services.uow() as uow:  # a month's workbook, kept for the leaders
            stored = await uow.files.add(
                "monthly_report", unit.id, "2026-03", "bao-cao-2026-03.xlsx", "application/octet-stream",
                "t0k3n-of-the-workbook", b"PK...", clock.now,
            )  # fmt: skip
            await uow.commit()
        file_url = f"{service.base_url}/tep/{stored.token}/{stored.name}"

        clock.advance(days=7)  # the last moment: still works
        for url in (slip_url, file_url):
            async with service.session.get(url) as response:
                assert response.status == 200, url
        clock.advance(minutes=1)
        for url in (slip_url, file_url):
            async with service.session.get(url) as response:
                assert response.status == 410, url
                body = await response.json()
                assert body["error"]["code"] == "link_expired"
                assert "expired" in body["error"]["message"]
