"""Operating the service: /healthz says when nobody delivers, /metrics counts what happened."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.app import App
from bot.config import load_settings
from bot.web.server import build_web_app
from handlers.messages import Identity, Inbound
from tests.conftest import Backend
from tests.telegram_service import running


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_health_is_ok_while_an_instance_delivers_and_fails_when_none_does(backend: Backend) -> None:
    async with running(backend.url) as service:
        await service.service.leading.wait()
        status, body = await get(service.base_url + "/healthz")
        assert status == 200, body
        assert '"delivery": "ok"' in body
        assert '"channels": {"delivery": "this instance"}' in body
    async with running(backend.url, role="web") as web_only:
        status, body = await get(web_only.base_url + "/healthz")
        assert status == 503  # the delivering instance stopped: nobody sends what is queued
        assert '"delivery": "nobody delivers"' in body
        assert '"database": "ok"' in body


async def test_metrics_count_inbound_events_deliveries_and_what_waits(backend: Backend) -> None:
    async with running(backend.url) as service:
        await service.service.leading.wait()
        body = await service.put_dossier("P8-1", "Nguyễn Văn An", phone="0912 345 678")
        handle = service.service.handle
        chat = Identity("console", "metrics-1")
        await handle(Inbound(chat, "m1", "text", text=f"/start {body['optin']['token']}"))
        await handle(Inbound(chat, "m1", "text", text=f"/start {body['optin']['token']}"))  # a re-delivery
        delivered = 'sipas_deliveries_total{channel="console",outcome="delivered"} 1.0'
        deadline = asyncio.get_running_loop().time() + 10
        while delivered not in (await get(service.base_url + "/metrics"))[1]:
            assert asyncio.get_running_loop().time() < deadline, "the console message was not delivered"
            await asyncio.sleep(0.05)
        status, text = await get(service.base_url + "/metrics")
    assert status == 200
    assert 'sipas_inbound_events_total{channel="console",outcome="handled"} 1.0' in text
    assert 'sipas_inbound_events_total{channel="console",outcome="duplicate"} 1.0' in text
    # the service delivers console messages to the console's inbox (the shell shows them): none waits
    assert 'sipas_outbox_pending{channel="console"}' not in text
    assert "sipas_delivery_lock_held 1.0" in text
    assert 'sipas_job_runs{job="at_risk",status="done"}' in text
    assert "0912" not in text
    assert "Nguyễn" not in text


async def test_health_fails_when_the_database_is_gone(aiohttp_client: object) -> None:
    app = App(load_settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"))
    try:
        client = await aiohttp_client(build_web_app(app))  # type: ignore[operator]
        async with client.get("/healthz") as response:
            assert response.status == 503
            assert await response.json() == {"status": "unavailable", "database": "unreachable"}
        async with client.get("/metrics") as response:
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "unavailable"
    finally:
        await app.close()
