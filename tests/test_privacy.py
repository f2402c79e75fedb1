"""Personal data masked wherever staff, leaders, logs or exports see it."""

from __future__ import annotations

import pytest

from handlers.privacy import mask_name, mask_phone, redact


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("0912 345 678", "09*****678"), ("+84912345678", "09*****678"), ("84912345678", "09*****678"), (None, "")],
)
def test_a_phone_keeps_only_its_last_three_digits(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_a_name_becomes_initials() -> None:
    assert mask_name("Nguyễn Văn An") == "N. V. A."
    assert mask_name("") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gọi tôi: 0912 345 678", "Gọi tôi: 09*****678"),
        ("số +84912345678 nhé", "số 09*****678 nhé"),
        ("Tôi là Nguyễn Văn A, chờ lâu quá", "Tôi là N. V. A., chờ lâu quá"),
        ("CCCD 012345678901 bị giữ", "CCCD 01********01 bị giữ"),
        ("thư cho an.nguyen@example.vn", "thư cho [email]"),
        ("Cán bộ Trần Thị Bình rất tận tình", "Cán bộ T. T. B. rất tận tình"),
        ("Phường 8 làm việc tốt, đúng hẹn 3 ngày", "Phường 8 làm việc tốt, đúng hẹn 3 ngày"),
    ],
)
def test_redaction_masks_phones_ids_emails_and_names(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_known_names_are_masked_even_without_a_common_surname() -> None:
    assert redact("Ông Ka Sô Liễng hẹn tôi", names=["Ka Sô Liễng"]) == "Ông K. S. L. hẹn tôi"
