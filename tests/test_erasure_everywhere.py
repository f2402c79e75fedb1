"""Erasure that erases: after /xoadulieu nothing in the database, nor any link served, still names the person.

A citizen with a distinctive name, phone and Zalo chat goes through everything that copies them: the dossier
sent by the one-stop-shop software, the chat linked on Zalo, an apology whose slip is fetched by its public
link, the survey with a comment, a complaint, the month's workbook kept for the leaders. Then they ask to be
forgotten, as they would, in the chat; and every table of the database (read from the schema itself, so that
a table added later is searched too) is searched: every text, JSON value and blob, PDFs and workbooks read as
text, for the name (with and without diacritics, composed or not), the phone (0… and +84… forms) and the chat id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import openpyxl
import pypdf
from sqlalchemy import inspect, select

from handlers.admin.invites import Roles
from handlers.citizen.erasure import Retention
from handlers.citizen.traces import Traces
from handlers.context import Services
from handlers.intake.dossiers import DossierHandler
from handlers.leader.reporting import Period
from handlers.staff.apologies import Apologies
from storage.models import ApologyRow
from tests.conftest import Backend, Clock
from tests.emulators.zalo_bot import Person, ZaloBotEmulator
from tests.helpers import Person as ChatPerson
from tests.helpers import add_unit, sample_dossier
from tests.telegram_service import RunningService, running
from tests.test_zalo_bot import TOKEN, bot_settings

MONDAY = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)  # 10:00 on Monday 09/03/2026 in Hà Nội
NAME = "Rơ Châm Ngọc Hiển"  # no common surname: only erasure, not the name-guessing mask, can take it away
PHONE = "0987 654 321"
CHAT = "7a1ce0ffee5e1f00d"  # the Zalo user id (== the chat id)
CODE = "P8-260302-0042"


def fold(text: str) -> str:
    """Lower case, no diacritics (đ → d), whitespace collapsed: NFC and NFD alike."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.lower().split())


FOLDED_NAME = fold(NAME)
_DIGITS = re.sub(r"\D", "", PHONE)[1:]  # 987654321: the number without its 0 or 84
PHONE_RE = re.compile(r"(?:\+?\s*84|0)[\s.\-]*" + r"[\s.\-]*".join(_DIGITS))


def found_in(text: str) -> list[str]:
    """Which of the person's data ``text`` holds."""
    hits = []
    if FOLDED_NAME in fold(text) or FOLDED_NAME.replace(" ", "") in fold(text).replace(" ", ""):
        hits.append("name")
    if PHONE_RE.search(text):
        hits.append("phone")
    if CHAT.lower() in text.lower():
        hits.append("chat id")
    return hits


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def workbook_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    cells = [str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    book.close()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # and every part as stored (properties, shared strings…)
        parts = [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    return "\n".join(cells + parts)


def texts_of(value: Any) -> Iterator[str]:
    """Every text a stored value holds: JSON decoded (escapes and all), PDFs and workbooks read as text."""
    if value is None or isinstance(value, bool | int | float | datetime | date):
        if value is not None:
            yield str(value)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from texts_of(item)
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from texts_of(item)
        return
    if isinstance(value, memoryview | bytearray | bytes):
        data = bytes(value)
        if data.startswith(b"%PDF"):
            yield pdf_text(data)
        elif data.startswith(b"PK"):
            yield workbook_text(data)
        yield data.decode("utf-8", "replace")
        yield data.decode("latin-1")
        return
    text = str(value)
    yield text
    if text[:1] in '{["':
        try:
            decoded = json.loads(text)
        except ValueError:
            return
        yield from texts_of(decoded)


async def search_database(services: Services) -> list[str]:
    """Every (table.column: what) of the whole database that holds something of the person."""
    findings = []
    async with services.uow(read_only=True) as uow:
        connection = uow.connection
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert {"people", "outbox", "apologies", "files", "feedback", "inbox", "audit_log"} <= set(tables)
        for table in tables:
            result = await connection.exec_driver_sql(f'SELECT * FROM "{table}"')
            columns = list(result.keys())
            for row in result.all():
                for column, value in zip(columns, row, strict=True):
                    for text in texts_of(value):
                        findings += [f"{table}.{column}: {hit}" for hit in found_in(text)]
    return sorted(set(findings))


async def wait_for_nothing(service: RunningService, seconds: float = 10.0) -> list[str]:
    """The findings once the last message (the erasure's confirmation) has gone and been forgotten."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        findings = await search_database(service.app.services)
        if not findings or asyncio.get_running_loop().time() > deadline:
            return findings
        await asyncio.sleep(0.2)


async def answer_survey(person: Person, comment: str) -> None:
    """All questions answered by typing; the comment at the end."""
    await person.wait_for(lambda p: p.last.text.startswith("Câu 1/33"), timeout=30)
    for number in range(1, 34):
        question = person.last.text
        assert question.startswith(f"Câu {number}/33"), question
        await person.send_text(comment if number == 33 else ("5" if "  5. Rất hài lòng" in question else "1"))
        done = f"Câu {number + 1}/33" if number < 33 else "Gửi phản ánh tới cán bộ"
        await person.wait_for(lambda p, done=done: done in p.last.text, timeout=30)


async def test_erasure_leaves_nothing_of_the_person_in_the_database_nor_behind_any_link(backend: Backend) -> None:
    clock = Clock(MONDAY)
    async with (
        ZaloBotEmulator(token=TOKEN) as emu,
        running(backend.url, clock, **bot_settings(emu, "polling")) as service,
    ):
        apologies_key = await service.app.api_keys.create("one-stop-shop", ["apologies:write"], ["all"])
        dossier = await service.put_dossier(
            CODE, NAME, received="2026-03-02T08:00:00+07:00", due="2026-03-11", phone=PHONE, handler="Trần Thị Bình"
        )
        person = emu.person(CHAT, display_name=NAME)
        await person.send_text(f"/start {dossier['optin']['token']}")
        await person.wait_for(lambda p: "1. Đồng ý" in p.last.text)
        await person.send_text("đồng ý")
        await person.wait_for(lambda p: any("đã được liên kết" in text for text in p.texts))

        # an apology, its reason naming the person as officers write them; the slip fetched by its link
        async with service.session.post(
            f"{service.base_url}/api/v1/dossiers/{CODE}/apology",
            json={
                "reason": f"Chờ Ông/Bà {NAME} (SĐT {PHONE}) bổ sung giấy xác nhận cư trú",
                "new_due_at": "2026-03-13",
                "issued_by": "Trần Thị Bình",
            },
            headers={"Authorization": f"Bearer {apologies_key}"},
        ) as response:
            issued = await response.json()
            assert response.status == 201, issued
        slip_url = issued["slip_url"]
        async with service.session.get(slip_url) as response:
            assert response.status == 200
            assert "name" in found_in(pdf_text(await response.read()))
        await person.wait_for(lambda p: any(f"Kính gửi Ông/Bà {NAME}" in text for text in p.texts))

        # returned: the survey on Zalo, a comment with the name and phone, then sent on as a complaint
        await service.event(CODE, "returned", "2026-03-09T09:00:00+07:00")
        await answer_survey(person, f"Tôi là {NAME}, số điện thoại {PHONE}, mong được gọi lại")
        await person.send_text("có")
        await person.wait_for(lambda p: "Phản ánh (mã hồ sơ" in p.last.text)

        # the month's workbook, kept for the leaders (it lists the apology's reason and the raw comments)
        async with service.app.services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code("P8")
        assert unit is not None
        march = Period(date(2026, 3, 1), date(2026, 3, 31))
        assert await service.app.period_reports.send(unit, "monthly_report", march, clock.now)
        async with service.app.services.uow(read_only=True) as uow:
            stored = await uow.files.latest(unit.id, "monthly_report", "2026-03")
        assert stored is not None
        file_url = f"{service.base_url}/tep/{stored.token}/{stored.name}"

        before = await search_database(service.app.services)
        copies = ("people.name", "people.phone", "channel_identities.external_id", "apologies.pdf", "files.content")
        for where in copies:  # the search finds what is there
            assert any(f.startswith(where) for f in before), (where, before)
        assert any(f.startswith("outbox.payload: name") for f in before), before
        report_before = await service.report(date(2026, 3, 1), date(2026, 3, 31))
        assert report_before["surveys"]["completed"] == 1

        # forgotten, as the person asks
        await person.send_text("/xoadulieu")
        await person.wait_for(lambda p: "Gõ 1 để xoá" in p.last.text)
        await person.send_text("1")
        await person.wait_for(lambda p: "đã được xoá" in p.last.text)

        left = await wait_for_nothing(service)
        assert left == [], "\n".join(left)
        async with service.session.get(slip_url) as response:
            assert response.status == 404
        async with service.session.get(file_url) as response:  # the leaders' workbook: still theirs, without the person
            assert response.status == 200
            served = await response.read()
        assert found_in(workbook_text(served)) == []
        assert "Chờ Ông/Bà *** (SĐT ***) bổ sung giấy xác nhận cư trú" in workbook_text(served)
        # the statistics keep their counts: the answers stay, anonymous
        report_after = await service.report(date(2026, 3, 1), date(2026, 3, 31))
        assert report_after["surveys"] == report_before["surveys"]
        assert report_after["satisfaction"] == report_before["satisfaction"]
        assert report_after["dossiers"] == report_before["dossiers"]


async def test_retention_takes_the_person_out_of_what_officers_were_sent_and_kept(
    services: Services, clock: Clock
) -> None:
    services = dataclasses.replace(services, policy=dataclasses.replace(services.policy, zns_apology_template="701"))
    await add_unit(services)
    received, due = datetime(2026, 11, 12, 2, 0, tzinfo=UTC), datetime(2026, 11, 19, 16, 59, 59, tzinfo=UTC)
    data = dataclasses.replace(
        sample_dossier(code=CODE, name=NAME, phone=PHONE, received_at=received, due_at=due), zalo_optin=True
    )
    dossiers = DossierHandler(services)
    await dossiers.upsert(data)
    async with services.uow(read_only=True) as uow:
        found = await uow.dossiers.get_by_code(CODE)
    assert found is not None
    citizen = ChatPerson(services, CHAT)
    await citizen.link(found.optin_token)

    # an officer's apology in chat, its reason naming the person: the draft, the preview and the slip carry it
    officer = ChatPerson(services, "officer-1")
    await officer.type(f"/join {await Roles(services).invite('staff', 'P8', 'Trần Thị Bình')}")
    await officer.type(f"/xinloi {CODE}")
    await officer.press_label("Lý do khác (nhập nội dung)")
    await officer.type(f"Chờ Ông/Bà {NAME} (SĐT {PHONE}) bổ sung giấy xác nhận cư trú")
    await officer.press(next(o.value for o in officer.last.options if ":d:" in o.value))
    assert "name" in found_in(officer.last.text)  # the preview quotes the reason
    await officer.press_label("Xác nhận gửi")
    async with services.uow(read_only=True) as uow:
        apology_id, token = (await uow.connection.execute(select(ApologyRow.id, ApologyRow.token))).one()
    assert "name" in found_in(pdf_text(await Apologies(services).slip_pdf(apology_id) or b""))

    ready_at = clock.now - timedelta(hours=1)  # events are never in the future
    await dossiers.add_event(CODE, "result_ready", ready_at, note=f"Đã gọi {PHONE} báo {NAME.upper()} đến nhận")
    await dossiers.add_event(CODE, "returned", clock.now)
    before = await search_database(services)
    for where in ("outbox.payload: name", "outbox.recipient: phone", "dossier_events.note: phone", "apologies.pdf"):
        assert any(f.startswith(where) for f in before), (where, before)

    clock.advance(days=400)
    assert await Retention(services).purge() == 1
    left = await search_database(services)
    assert left == [], "\n".join(left)
    async with services.uow(read_only=True) as uow:
        new_token = await uow.connection.scalar(select(ApologyRow.token))
    assert new_token is not None
    assert new_token != token  # the old link is dead
    reprinted = pdf_text(await Apologies(services).slip_pdf(apology_id) or b"")  # asked for again: printed afresh
    assert "Kính gửi: Ông/Bà" in " ".join(reprinted.split())
    assert found_in(reprinted) == []


def test_a_name_and_a_phone_number_are_taken_out_however_written() -> None:
    traces = Traces.of([NAME, None], ["84987654321", ""])
    spellings = [NAME, NAME.upper(), fold(NAME), unicodedata.normalize("NFD", NAME), "Rơ  Châm\nNgọc Hiển"]
    spellings += ["0987654321", "0987 654 321", "+84 987.654.321", "84-987-654-321", "(+84) 987654321"]
    for written in spellings:
        assert traces.clean(f"Gọi {written} ngay") == "Gọi *** ngay", written
    for other in ("Mã 10987654321", "Rơ Châm Ngọc Hiểnh", "09876543210", "Châm Ngọc Hiển"):
        assert traces.clean(other) == other
    assert traces.clean_value({"a": [f"Ông {NAME}", 1, None], NAME: True}) == {"a": ["Ông ***", 1, None], "***": True}

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Phiếu xin lỗi")
    sheet.append(["P8-1", f"Chờ {NAME} (0987 654 321) bổ sung", "Trần Thị Bình"])
    written = io.BytesIO()
    book.save(written)
    cleaned = traces.clean_workbook(written.getvalue())
    assert cleaned is not None
    assert found_in(workbook_text(cleaned)) == []
    rows = list(openpyxl.load_workbook(io.BytesIO(cleaned)).active.iter_rows(values_only=True))
    assert rows == [("P8-1", "Chờ *** (***) bổ sung", "Trần Thị Bình")]
    assert traces.clean_workbook(cleaned) is None  # nothing left to take out
