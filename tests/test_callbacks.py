"""The button codec: every kind writes the spelling buttons already in people's chats carry, within 64 bytes."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Literal

import pytest

from handlers.chat.callbacks import Button, StaleButton, decode


@dataclasses.dataclass(frozen=True)
class _Vote(Button):
    KIND = "zz-vote"
    row: int
    agreed: bool
    action: Literal["ok", "no"] | None = None


@dataclasses.dataclass(frozen=True)
class _Day(Button):
    KIND = "zz-day"
    row: int
    day: date


def test_a_button_reads_back_as_it_was_written() -> None:
    for button in (_Vote(12, True), _Vote(7, False, "ok"), _Day(3, date(2026, 12, 31))):
        assert decode(button.encode()) == button
    assert _Vote(12, True).encode() == "zz-vote:12:yes"
    assert _Day(3, date(2026, 1, 2)).encode() == "zz-day:3:20260102"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "zz-vote",
        "zz-vote:12",
        "zz-vote:012:yes",
        "zz-vote:١٢:yes",
        "zz-vote:12:maybe",
        "zz-vote:12:yes:later",
        "zz-vote:12:yes:ok:extra",
        "zz-day:3:2026123",
        "zz-day:3:20261332",
        "nobody:1",
    ],
)
def test_data_never_offered_is_a_stale_button(data: str) -> None:
    with pytest.raises(StaleButton):
        decode(data)


def test_no_button_writes_more_than_telegram_carries() -> None:
    @dataclasses.dataclass(frozen=True)
    class _Long(Button):
        KIND = "zz-long"
        text: str

    assert decode(_Long("a" * 40).encode()) == _Long("a" * 40)
    with pytest.raises(ValueError, match="not a token"):
        _Long("a" * 48 + "b" * 10).encode()  # not a token: longer than a field may be
    with pytest.raises(ValueError, match="not a token"):
        _Long("a:b").encode()


def test_two_kinds_cannot_share_a_name() -> None:
    with pytest.raises(TypeError):

        @dataclasses.dataclass(frozen=True)
        class _Other(Button):
            KIND = "zz-vote"
            row: int
