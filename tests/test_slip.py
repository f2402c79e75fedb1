"""The apology slip as an official checking it would read it: text extracted from the PDF with pypdf."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from handlers.staff import slip
from handlers.staff.slip import SlipData, looks_like_organisation, render_slip

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
        authority="Ủy ban nhân dân\nPhường 8",
        unit_name="Phường 8",
        number="01/PXL",
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
    # the authority in two lines of capitals, then the national header
    assert lines[:4] == [
        "ỦY BAN NHÂN DÂN",
        "PHƯỜNG 8",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in lines
    assert "TM. ỦY BAN NHÂN DÂN" in lines
    assert "CHỦ TỊCH" in lines
    assert "Nơi nhận:" in lines
    flat_text = flat(text)
    for expected in [
        "Số: 01/PXL",
        "Phường 8, ngày 09 tháng 3 năm 2026",
        "Kính gửi: Ông/Bà Nguyễn Thị Hoà (09xx xxx 123)",
        "Ngày 23/02/2026, Phường 8 tiếp nhận hồ sơ đề nghị giải quyết thủ tục hành chính "
        "“Đăng ký khai sinh kết hợp nhận cha, mẹ, con” thuộc lĩnh vực Hộ tịch của Ông/Bà.",
        "Mã hồ sơ: 000.00.08.H29-260223-0001.",
        "Thời gian hẹn trả kết quả giải quyết hồ sơ: ngày 10/03/2026.",
        "không thể trả kết quả giải quyết hồ sơ cho Ông/Bà đúng hẹn vào ngày 10/03/2026",
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
    end = re.search(r"Sự\s+chậm\s+trễ", text)
    assert end is not None
    reason_lines = text[start : end.start()].strip().splitlines()
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


def lines_of(pdf: bytes) -> list[str]:
    return [line.strip() for line in text_of(pdf).splitlines()]


def drawn(pdf: bytes) -> list[tuple[str, str, float, float]]:
    """Each piece of text drawn on the first page: its text, its font's name, its x and y (points from the foot)."""
    found: list[tuple[str, str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            name = str(font.get("/BaseFont", "")) if font else ""
            found.append((nfc(text.strip()), name, tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


# Nghị định 30/2020: a leading zero for days 1–9 and for months 1 and 2 only
@pytest.mark.parametrize(
    ("issued", "line"),
    [
        (date(2026, 3, 9), "Phường 8, ngày 09 tháng 3 năm 2026"),
        (date(2026, 11, 15), "Phường 8, ngày 15 tháng 11 năm 2026"),
        (date(2026, 2, 5), "Phường 8, ngày 05 tháng 02 năm 2026"),
        (date(2027, 1, 20), "Phường 8, ngày 20 tháng 01 năm 2027"),
        (date(2026, 12, 1), "Phường 8, ngày 01 tháng 12 năm 2026"),
    ],
)
def test_the_date_is_written_as_decree_30_2020_writes_it(issued: date, line: str) -> None:
    due = issued + timedelta(days=3)
    slip = make_slip(issued_on=issued, due_on=due, new_due_on=due + timedelta(days=3))
    assert line in [text for text, *_ in drawn(render_slip(slip))]


# A slip for March and one for November, each issued before the due date and after it
CASES = [
    (date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 17), "before"),
    (date(2026, 3, 16), date(2026, 3, 10), date(2026, 3, 19), "after"),
    (date(2026, 11, 12), date(2026, 11, 13), date(2026, 11, 20), "before"),
    (date(2026, 11, 18), date(2026, 11, 13), date(2026, 11, 25), "after"),
]


@pytest.mark.parametrize(("issued", "due_on", "new_due", "when"), CASES)
def test_the_slip_says_cannot_before_the_due_date_and_was_not_after_it(
    issued: date, due_on: date, new_due: date, when: str
) -> None:
    due = f"{due_on:%d/%m/%Y}"
    slip = make_slip(issued_on=issued, due_on=due_on, new_due_on=new_due, number="07/PXL")
    pdf = render_slip(slip)
    lines, text, pieces = lines_of(pdf), flat(text_of(pdf)), [piece for piece, *_ in drawn(pdf)]
    assert lines[:4] == [
        "ỦY BAN NHÂN DÂN",
        "PHƯỜNG 8",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    assert "Số: 07/PXL" in pieces
    assert f"Phường 8, ngày {issued:%d} tháng {issued.month} năm {issued:%Y}" in pieces  # March, November
    assert "TM. ỦY BAN NHÂN DÂN" in lines
    assert "CHỦ TỊCH" in lines
    assert f"Thời gian hẹn trả kết quả giải quyết hồ sơ: ngày {due}." in text
    cannot = f"Tuy nhiên, Phường 8 không thể trả kết quả giải quyết hồ sơ cho Ông/Bà đúng hẹn vào ngày {due}"
    was_not = "Tuy nhiên đến nay, Phường 8 chưa trả kết quả giải quyết hồ sơ cho Ông/Bà đúng hẹn"
    if when == "before":
        assert cannot in text
        assert was_not not in text
        assert "Sự chậm trễ này gây phiền hà" in text
    else:
        assert was_not in text
        assert "không thể trả" not in text
        assert "Sự chậm trễ này đã gây phiền hà" in text
    assert f"vào ngày {new_due:%d/%m/%Y}." in text


def test_on_the_due_date_itself_the_result_cannot_be_returned_on_time() -> None:
    text = flat(text_of(render_slip(make_slip(issued_on=date(2026, 3, 10), due_on=date(2026, 3, 10)))))
    assert "không thể trả kết quả giải quyết hồ sơ cho Ông/Bà đúng hẹn vào ngày 10/03/2026" in text


def test_the_authority_is_two_centred_lines_of_bold_capitals() -> None:
    pieces = drawn(render_slip(make_slip()))
    authority = [(text, font, x) for text, font, x, _ in pieces if text in ("ỦY BAN NHÂN DÂN", "PHƯỜNG 8")]
    assert [text for text, _, _ in authority] == ["ỦY BAN NHÂN DÂN", "PHƯỜNG 8"]
    assert all("Bold" in font for _, font, _ in authority)
    assert authority[1][2] > authority[0][2]  # the shorter line starts further right: both centred
    assert not any(text.startswith("UBND") or text == "Phường 8" for text, *_ in pieces)


@pytest.mark.parametrize(
    "position", [("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"), ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH")], ids=["tm", "kt"]
)
def test_the_signature_block_has_its_position_lines_room_to_sign_and_the_name(position: tuple[str, str]) -> None:
    pdf = render_slip(make_slip(signer_title="\n".join(position), signer_name="Nguyễn Văn Minh"))
    lines = lines_of(pdf)
    at = lines.index(position[0])
    assert lines[at + 1] == position[1]
    assert "Nguyễn Văn Minh" in lines
    assert "(Ký, ghi rõ họ tên và đóng dấu)" not in lines  # the name is printed: no instruction to write it
    pieces = {text: (font, y) for text, font, _, y in drawn(pdf)}
    assert all("Bold" in pieces[text][0] for text in (*position, "Nguyễn Văn Minh"))
    room = (pieces[position[1]][1] - pieces["Nguyễn Văn Minh"][1]) * 25.4 / 72
    assert room >= 25  # millimetres left to sign and seal
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_without_a_signer_name_the_room_for_it_stays_blank() -> None:
    pdf = render_slip(make_slip())
    lines = lines_of(pdf)
    assert lines[lines.index("CHỦ TỊCH") + 1] == "(Ký, ghi rõ họ tên và đóng dấu)"


def test_an_organisation_is_addressed_by_its_name() -> None:
    slip = make_slip(applicant="Công ty TNHH Minh Phát", contact="02xx xxx 456", organisation=True)
    text = flat(text_of(render_slip(slip)))
    assert "Kính gửi: Công ty TNHH Minh Phát (02xx xxx 456)" in text
    assert "Ông/Bà" not in text
    assert "thuộc lĩnh vực Hộ tịch của Công ty TNHH Minh Phát. Mã hồ sơ: 000.00.08.H29-260223-0001." in text
    assert "Phường 8 xin lỗi Quý tổ chức và kính mong Quý tổ chức thông cảm." in text


@pytest.mark.parametrize(
    ("name", "organisation"),
    [
        ("Công ty TNHH Minh Phát", True),
        ("CÔNG TY CỔ PHẦN XÂY DỰNG SỐ 8", True),
        ("Cty TNHH An Bình", True),
        ("Doanh nghiệp tư nhân Hoàng Long", True),
        ("DNTN Thanh Bình", True),
        ("HTX Nông nghiệp Phú La", True),
        ("Hợp tác xã Dịch vụ Tân Phú", True),
        ("Chi nhánh Công ty CP Sữa Việt Nam", True),
        ("Nguyễn Văn Công", False),
        ("Trần Thị Doanh", False),
        ("Công Thị Hợp", False),
        ("", False),
    ],
)
def test_an_organisation_is_known_by_its_name_when_nobody_said(name: str, organisation: bool) -> None:
    assert looks_like_organisation(name) is organisation


def test_a_long_unit_name_is_set_smaller_rather_than_broken() -> None:
    name = "Phường Nguyễn Thái Bình"
    slip = make_slip(authority=f"Ủy ban nhân dân\n{name}", unit_name=name, place=name, issued_on=date(2026, 11, 15))
    pieces = [text for text, *_ in drawn(render_slip(slip))]
    assert pieces[:2] == ["ỦY BAN NHÂN DÂN", "PHƯỜNG NGUYỄN THÁI BÌNH"]
    assert "Phường Nguyễn Thái Bình, ngày 15 tháng 11 năm 2026" in pieces


# issue 16, point 9: the header's two blocks never touch, no name is broken in a word, the shipped serif
def font_file(base_font: str) -> Path:
    """The TrueType file of a font a PDF names ("/ABCDEF+LiberationSerifBold", its full name without spaces)."""
    import matplotlib

    name = base_font.partition("+")[2] or base_font.lstrip("/")
    for folder in (slip.FONT_DIR, Path(matplotlib.get_data_path()) / "fonts" / "ttf"):
        for path in sorted(folder.glob("*.ttf")):
            with TTFont(path, lazy=True) as font:
                if re.sub(r"[ ()]", "", font["name"].getBestFullName()) == name:
                    return path
    raise AssertionError(f"no font file for {base_font}")


def width_mm(text: str, base_font: str, size: float) -> float:
    """How wide ``text`` is, in millimetres, in the font the PDF names, at ``size`` points."""
    with TTFont(font_file(base_font)) as font:
        glyphs, advances = font.getBestCmap(), font["hmtx"]
        units = sum(advances[glyphs[ord(char)]][0] for char in text)
        return float(units * size / font["head"].unitsPerEm) * 25.4 / 72


def placed(pdf: bytes) -> list[tuple[str, float, float, float]]:
    """Each line drawn on the first page: its text, left and right edge and height from the top (millimetres)."""
    found: list[tuple[str, float, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            x = (tm[4] * cm[0] + cm[4]) * 25.4 / 72
            y = 297 - (tm[5] * cm[3] + cm[5]) * 25.4 / 72
            found.append((nfc(text.strip()), x, x + width_mm(text.strip(), str(font["/BaseFont"]), size * tm[0]), y))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


NATIONAL = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")


@pytest.mark.parametrize(
    "name",
    [
        "Phường Bình Hưng Hòa",
        "Phường Điện Biên Phủ",
        "Xã Thượng Phúc Lộc",
        "Điểm tiếp nhận Hàng Bạc",
        "Trung tâm Phục vụ hành chính công Phường Nguyễn Thái Bình",
        "Phường Đông-Hưng-Thuận-Tân-Thới-Nhất-Trung-Mỹ-Tây",  # one word wider than the column at 9 pt
    ],
)
def test_the_header_blocks_never_touch_and_no_name_breaks_in_a_word(name: str) -> None:
    signer = "Tôn Thất Nguyễn Hoàng Phương Nam Bình Định Quảng Ngãi"
    officer = "Công Tằng Tôn Nữ Thị Phương Thảo"
    slip = make_slip(
        authority=f"Ủy ban nhân dân\n{name}", unit_name=name, place=name, signer_name=signer, officer=officer
    )
    pdf = render_slip(slip)
    pieces = placed(pdf)
    authority_words = f"ỦY BAN NHÂN DÂN {name.upper()}".split()
    number_at = next(y for text, _, _, y in pieces if text.startswith("Số:"))
    header = [p for p in pieces if p[3] < number_at - 3]  # the two blocks at the top of the page, above the number
    left = [p for p in header if p[0] not in NATIONAL]
    right = [p for p in header if p[0] in NATIONAL]
    assert [word for text, *_ in left for word in text.split()] == authority_words  # every word whole, in order
    assert len(right) == 2
    assert min(x for _, x, _, _ in right) - max(end for _, _, end, _ in left) >= 3  # millimetres apart
    assert max(end for _, _, end, _ in left) <= 30 + 60  # the authority within its column
    foot = [p for p in pieces if p[3] > 190]  # "Nơi nhận", the officer, the signature block
    assert all(end <= 210 - 15 + 0.01 for _, _, end, _ in [*header, *foot])  # nothing past the right margin
    foot_texts = [text for text, *_ in foot]
    signed = [text for text in foot_texts if set(text.split()) <= set(signer.split())]
    assert " ".join(signed) == signer  # the signer's name on whole-word lines
    by = [text for text in foot_texts if set(text.split()) <= set(f"Người lập phiếu: {officer}".split())]
    assert " ".join(by) == f"Người lập phiếu: {officer}"  # the officer's name on whole-word lines
    dated = [text for text, _, _, y in pieces if number_at - 3 <= y < number_at + 12 and not text.startswith("Số:")]
    assert " ".join(dated).split() == f"{name}, ngày 09 tháng 3 năm 2026".split()


def test_the_slip_is_set_in_the_shipped_liberation_serif_embedded() -> None:
    pdf = render_slip(make_slip(officer="Trần Thị Bình"))
    fonts = {name for _, name, _, _ in drawn(pdf)}
    assert {name.partition("+")[2] for name in fonts} == {
        "LiberationSerif",
        "LiberationSerifBold",
        "LiberationSerifItalic",
        "LiberationSerifBoldItalic",
    }
    for name in fonts:
        assert font_file(name).parent == slip.FONT_DIR
    assert (slip.FONT_DIR / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE")
    assert "Người lập phiếu: Trần Thị Bình" in lines_of(pdf)
