"""The apology slip as the running service prints it: the deployment's wording, the number, an organisation."""

from __future__ import annotations

import asyncio
import io
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pypdf

from tests.conftest import Backend, Clock
from tests.telegram_service import RunningService, running

MONDAY = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)  # 10:00 on Monday 09/03/2026 in Hà Nội
SETTINGS = {
    "apology_signer": "KT. CHỦ TỊCH",
    "apology_signer_position": "PHÓ CHỦ TỊCH",
    "apology_signer_name": "Lê Văn Tâm",
    "apology_number_symbol": "PXL-UBND",
}


def slip_lines(data: bytes) -> list[str]:
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    return [" ".join(line.split()) for line in unicodedata.normalize("NFC", text).splitlines()]


def dossier_body(due: str, applicant: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A building-permit dossier of P8 received on Monday 23 February 2026, as the API takes it."""
    return {
        "unit": "P8",
        "procedure": "Cấp giấy phép xây dựng",
        "field": "Xây dựng",
        "applicant": applicant,
        "received_at": "2026-02-23T08:00:00+07:00",
        "due_at": due,
        "channel": "truc_tiep",
        **more,
    }


async def put(service: RunningService, code: str, due: str, applicant: dict[str, Any], **more: Any) -> None:
    status, answer = await service.api("PUT", f"/api/v1/dossiers/{code}", dossier_body(due, applicant, **more))
    assert status == 201, answer


async def apologise(service: RunningService, key: str, code: str, new_due: str) -> tuple[str, list[str]]:
    """Issue the apology over the API; its number and the slip's lines read back from the PDF."""
    async with service.session.post(
        f"{service.base_url}/api/v1/dossiers/{code}/apology",
        json={"reason": "Chờ ý kiến của Sở Xây dựng", "new_due_at": new_due, "issued_by": "Trần Thị Bình"},
        headers={"Authorization": f"Bearer {key}"},
    ) as response:
        body = await response.json()
        assert response.status == 201, body
    async with service.session.get(body["slip_url"]) as response:
        assert response.status == 200
        return body["apology"]["number"], slip_lines(await response.read())


async def test_the_slip_carries_the_configured_signer_number_and_addresses_an_organisation(backend: Backend) -> None:
    async with running(backend.url, Clock(MONDAY), **SETTINGS) as service:
        key = await service.app.api_keys.create("one-stop-shop", ["apologies:write"], ["all"])
        organisation = {"name": "Công ty TNHH Minh Phát", "phone": "0283 456 7890", "kind": "organisation"}
        director = {"name": "Phạm Văn Đức", "phone": "0912 345 678"}
        await put(service, "P8-ORG", "2026-03-11", organisation, representative=director)
        await put(service, "P8-LATE", "2026-03-06", {"name": "Nguyễn Thị Hoà"})
        await put(service, "P8-HTX", "2026-03-12", {"name": "HTX Nông nghiệp Phú La"})
        await put(service, "P8-SAID", "2026-03-12", {"name": "Công ty Thị Nở", "kind": "person"})

        number, lines = await apologise(service, key, "P8-ORG", "2026-03-17")
        assert number == "01/PXL-UBND"
        assert lines[:4] == [
            "ỦY BAN NHÂN DÂN",
            "PHƯỜNG 8",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
        ]
        assert "Số: 01/PXL-UBND Phường 8, ngày 09 tháng 3 năm 2026" in lines
        text = " ".join(lines)
        assert "Kính gửi: Công ty TNHH Minh Phát (09*****678)" in text  # the organisation; its representative's phone
        assert "Ông/Bà" not in text
        assert "không thể trả kết quả giải quyết hồ sơ cho Quý tổ chức đúng hẹn vào ngày 11/03/2026" in text
        signature = lines[lines.index("KT. CHỦ TỊCH") :]
        assert signature[:2] == ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]
        assert "Lê Văn Tâm" in signature

        number, lines = await apologise(service, key, "P8-LATE", "2026-03-13")
        assert number == "02/PXL-UBND"
        text = " ".join(lines)
        assert "Kính gửi: Ông/Bà Nguyễn Thị Hoà" in text
        assert "Tuy nhiên đến nay, Phường 8 chưa trả kết quả giải quyết hồ sơ cho Ông/Bà đúng hẹn" in text

        _, lines = await apologise(service, key, "P8-HTX", "2026-03-16")  # nobody said: the name tells
        assert "Kính gửi: HTX Nông nghiệp Phú La" in " ".join(lines)
        _, lines = await apologise(service, key, "P8-SAID", "2026-03-16")  # said to be a person: a person
        assert "Kính gửi: Ông/Bà Công ty Thị Nở" in " ".join(lines)


async def test_a_representative_cannot_be_an_organisation_and_a_kind_must_be_known(backend: Backend) -> None:
    async with running(backend.url, Clock(MONDAY)) as service:
        for applicant, representative in (
            ({"name": "Công ty TNHH Minh Phát", "kind": "company"}, None),
            ({"name": "Công ty TNHH Minh Phát"}, {"name": "Công ty Luật ABC", "kind": "organisation"}),
        ):
            more = {"representative": representative} if representative else {}
            body = dossier_body("2026-03-11", applicant, **more)
            status, answer = await service.api("PUT", "/api/v1/dossiers/P8-X", body)
            assert status in (400, 422), answer
            assert set(answer["error"]) == {"code", "message"}


async def test_a_reception_points_slips_over_the_api_are_the_wards_one_series_even_at_the_same_moment(
    backend: Backend,
) -> None:
    async with running(backend.url, Clock(MONDAY), apology_signer_name="Lê Văn Tâm") as service:
        await service.app.units.add("HB", "Điểm tiếp nhận Hàng Bạc", "P8", issues_documents=False)
        key = await service.app.api_keys.create("one-stop-shop", ["apologies:write"], ["all"])
        codes = [f"{unit}-{n}" for n in range(3) for unit in ("P8", "HB")]
        for code in codes:
            await put(service, code, "2026-03-11", {"name": "Nguyễn Thị Hoà"}, unit=code.partition("-")[0])
        # the ward's and its point's officers at the same moment: one series, no number twice, none refused
        issued = await asyncio.gather(*(apologise(service, key, code, "2026-03-17") for code in codes))
        assert sorted(number for number, _ in issued) == [f"0{n}/PXL" for n in range(1, 7)]
        for code, (_, lines) in zip(codes, issued, strict=True):
            assert lines[:2] == ["ỦY BAN NHÂN DÂN", "PHƯỜNG 8"], code
            assert "Phường 8, ngày 09 tháng 3 năm 2026" in " ".join(lines)
            text = " ".join(lines)
            assert ("tiếp nhận hồ sơ tại Điểm tiếp nhận Hàng Bạc" in text) is code.startswith("HB"), code
            assert "Lê Văn Tâm" in lines
            assert "Người lập phiếu: Trần Thị Bình" in lines
