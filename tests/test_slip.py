"""The apology slip as an official checking it would read it: text extracted from the PDF with pypdf."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import unicodedata
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader

from handlers.slip import SlipData, render_slip

LONG_REASON = (
    "Hồ sơ cần lấy ý kiến xác minh của Ủy ban nhân dân xã nơi người yêu cầu đăng ký thường trú trước đây "
    "về nguồn gốc thửa đất; văn bản trả lời của cơ quan được hỏi ý kiến đến ngày 14/03/2026 mới được gửi về, "
    "nên công chức tiếp nhận chưa đủ căn cứ để trình lãnh đạo ký duyệt kết quả giải quyết đúng thời hạn."
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def flat(text: str) -> str:
    """NFC, whitespace collapsed: pypdf breaks lines where the PDF wrapped them and widens justified spaces."""
    return " ".join(nfc(text).split())


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, without the page number printed at the top of the second and later pages."""
    texts = []
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, start=1):
        lines = nfc(page.extract_text()).splitlines()
        if number > 1 and lines and lines[0].strip() == str(number):
            lines = lines[1:]
        texts.append("\n".join(lines))
    return texts


def text_of(pdf: bytes) -> str:
    return "\n".join(pages_text(pdf))


def make_slip(**changes: Any) -> SlipData:
    data = SlipData(
        authority="UBND Phường 8",
        unit_name="Phường 8",
        number="12/PXL",
        place="Phường 8",
        issued_on=date(2026, 3, 9),
        applicant="Nguyễn Thị Hoà",
        contact="09xx xxx 123",
        received_on=date(2026, 2, 23),
        procedure="Đăng ký khai sinh kết hợp nhận cha, mẹ, con",
        field="Hộ tịch",
        dossier_code="000.00.08.H29-260223-0001",
        due_on=date(2026, 3, 10),
        reason=LONG_REASON,
        new_due_on=date(2026, 3, 17),
        signer_title="TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH",
    )
    return dataclasses.replace(data, **changes)


def test_slip_shows_what_an_official_checks(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        text = text_of(render_slip(make_slip()))
    assert not [r for r in caplog.records if "missing" in r.getMessage()]  # every glyph was in the font

    lines = [line.strip() for line in text.splitlines()]
    assert "UBND PHƯỜNG 8" in lines  # the authority, upper-case
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in lines
    assert "Độc lập - Tự do - Hạnh phúc" in lines
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in lines
    assert "TM. ỦY BAN NHÂN DÂN" in lines
    assert "CHỦ TỊCH" in lines
    assert "Nơi nhận:" in lines
    flat_text = flat(text)
    for expected in [
        "Số: 12/PXL",
        "Phường 8, ngày 09 tháng 03 năm 2026",
        "Kính gửi: Ông/Bà Nguyễn Thị Hoà (09xx xxx 123)",
        "Ngày 23/02/2026, Phường 8 tiếp nhận hồ sơ đề nghị giải quyết thủ tục hành chính "
        "“Đăng ký khai sinh kết hợp nhận cha, mẹ, con” thuộc lĩnh vực Hộ tịch của Ông/Bà",
        "mã hồ sơ: 000.00.08.H29-260223-0001.",
        "Thời gian hẹn trả kết quả giải quyết hồ sơ: ngày 10/03/2026.",
        "chưa trả kết quả giải quyết hồ sơ cho Ông/Bà đúng hẹn",
        "Lý do: " + LONG_REASON,
        "Phường 8 xin lỗi Ông/Bà và kính mong Ông/Bà thông cảm.",
        "Phường 8 xin hẹn trả kết quả giải quyết hồ sơ cho Ông/Bà vào ngày 17/03/2026.",
        "Xin trân trọng cảm ơn!",
        "(Ký, ghi rõ họ tên và đóng dấu)",
        "- Như trên; - Lưu: VT.",
    ]:
        assert flat(expected) in flat_text


def test_long_reason_wraps_onto_several_lines() -> None:
    text = text_of(render_slip(make_slip()))
    start = text.index("Lý do:")
    reason_lines = text[start : text.index("Sự chậm trễ")].strip().splitlines()
    assert len(reason_lines) >= 3
    assert flat(" ".join(reason_lines)) == flat("Lý do: " + LONG_REASON)


def test_slip_is_one_a4_page() -> None:
    reader = PdfReader(io.BytesIO(render_slip(make_slip())))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.width) == pytest.approx(595, abs=1)
    assert float(box.height) == pytest.approx(842, abs=1)


def test_empty_applicant_prints_ong_ba_without_a_blank_name() -> None:
    text = text_of(render_slip(make_slip(applicant="", contact=None)))
    lines = [line.strip() for line in text.splitlines()]
    assert "Kính gửi: Ông/Bà" in lines
    assert not re.search(r"Ông/Bà[ \t]+\n", text)


def test_empty_applicant_with_contact_puts_the_contact_after_ong_ba() -> None:
    text = flat(text_of(render_slip(make_slip(applicant=" ", contact="Khu phố 3, Phường 8"))))
    assert "Kính gửi: Ông/Bà (Khu phố 3, Phường 8)" in text


def test_no_contact_prints_no_parentheses() -> None:
    lines = [line.strip() for line in text_of(render_slip(make_slip(contact=None))).splitlines()]
    assert "Kính gửi: Ông/Bà Nguyễn Thị Hoà" in lines


def test_same_data_gives_identical_bytes() -> None:
    assert render_slip(make_slip()) == render_slip(make_slip())


def test_creation_date_is_the_issue_date() -> None:
    metadata = PdfReader(io.BytesIO(render_slip(make_slip()))).metadata
    assert metadata is not None
    assert metadata.creation_date is not None
    assert metadata.creation_date.date() == date(2026, 3, 9)


def test_reason_of_3000_characters_renders_entirely_on_more_pages() -> None:
    sentence = "Hồ sơ phải lấy ý kiến của Sở Nông nghiệp và Môi trường về nguồn gốc đất, ranh giới thửa đất; "
    reason = (sentence * 40)[:2999] + "."
    assert len(reason) == 3000
    pdf = render_slip(make_slip(reason=reason))
    pages = pages_text(pdf)
    assert len(pages) > 1
    text = flat("\n".join(pages))
    assert flat("Lý do: " + reason) in text
    assert "ngày 17/03/2026" in text
    assert "TM. ỦY BAN NHÂN DÂN" in text  # the signature block is still printed, after the reason
    for page in PdfReader(io.BytesIO(pdf)).pages:
        assert float(page.mediabox.width) == pytest.approx(595, abs=1)
        assert float(page.mediabox.height) == pytest.approx(842, abs=1)


def test_reason_keeps_its_line_breaks() -> None:
    text = text_of(render_slip(make_slip(reason="Thiếu bản sao giấy chứng sinh.\n\nĐã liên hệ bổ sung.")))
    lines = [line.strip() for line in text.splitlines()]
    assert "Lý do: Thiếu bản sao giấy chứng sinh." in lines
    assert "Đã liên hệ bổ sung." in lines


def test_decomposed_input_is_printed_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Chứng thực bản sao từ bản chính")
    assert decomposed != nfc(decomposed)
    text = text_of(render_slip(make_slip(procedure=decomposed)))
    assert "“Chứng thực bản sao từ bản chính”" in flat(text)


def test_reason_with_characters_dejavu_serif_lacks_still_comes_back() -> None:
    reason = "Đã kiểm tra ✓ bản gốc; còn chờ ý kiến của cơ quan thuế"
    assert flat("Lý do: " + reason) in flat(text_of(render_slip(make_slip(reason=reason))))


def test_control_characters_in_the_reason_do_not_break_the_slip() -> None:
    text = flat(text_of(render_slip(make_slip(reason="Chờ\tbổ sung\x00 hồ sơ\r\ngốc"))))
    assert "Lý do: Chờ bổ sung hồ sơ gốc" in text


def test_title_is_configurable() -> None:
    title = "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT"
    text = text_of(render_slip(make_slip(title=title)))
    assert flat(title) in flat(text)
    assert "PHIẾU XIN LỖI" not in text
