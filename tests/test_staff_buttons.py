"""The staff room's and the roles' buttons keep the spellings already in officers' chats, and refuse the rest."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.admin.buttons import RoleButton
from handlers.chat.callbacks import Button, StaleButton, decode
from handlers.citizen.buttons import Consent
from handlers.staff.buttons import ApologyButton, ComplaintButton


@pytest.mark.parametrize(
    ("button", "data"),
    [
        (ApologyButton(12, "s"), "x:12:s"),
        (ApologyButton(12, "e"), "x:12:e"),
        (ApologyButton(12, "ok"), "x:12:ok"),
        (ApologyButton(12, "no"), "x:12:no"),
        (ApologyButton.reason(12, "3"), "x:12:r:3"),
        (ApologyButton.reason(12, "other"), "x:12:r:other"),
        (ApologyButton.new_date(12, date(2026, 12, 7)), "x:12:d:20261207"),
        (ComplaintButton(5, "r"), "f:5:r"),
        (ComplaintButton(5, "c"), "f:5:c"),
        (RoleButton(9), "q:9"),
        (RoleButton(9, "ok"), "q:9:ok"),
        (RoleButton(9, "no"), "q:9:no"),
    ],
)
def test_a_button_is_spelt_as_before_and_reads_back(button: Button, data: str) -> None:
    assert button.encode() == data
    assert decode(data) == button


def test_a_date_button_reads_its_day() -> None:
    button = decode("x:12:d:20261231")
    assert isinstance(button, ApologyButton)
    assert button.day == date(2026, 12, 31)


@pytest.mark.parametrize(
    "data",
    [
        "x",
        "x:12",
        "x:012:s",
        "x:12:s:1",
        "x:12:r",
        "x:12:r:5",
        "x:12:r:1:2",
        "x:12:d",
        "x:12:d:2026123",
        "x:12:d:20261332",
        "x:12:d:２０２６１２３１",
        "x:12:ok:yes",
        "x:12:maybe",
        "f:5",
        "f:5:x",
        "f:٥:r",
        "f:5:r:1",
        "q",
        "q:0",
        "q:9:yes",
        "q:9:ok:1",
    ],
)
def test_data_never_offered_is_stale_but_still_known_by_its_room(data: str) -> None:
    with pytest.raises(StaleButton) as refused:
        decode(data)
    # answered by its room (the dispatcher's table, by the kind), in its room's words
    expected = {"x": ApologyButton, "f": ComplaintButton, "q": RoleButton}[data.split(":")[0]]
    assert refused.value.kind is expected


def test_other_rooms_data_is_not_the_staff_rooms() -> None:
    assert decode("c:yes") == Consent(True)  # another room's kind, known in this process: not the staff room's
    for data in ("a:1", "xx:1:s", "fq:1", ""):
        with pytest.raises(StaleButton) as refused:
            decode(data)
        assert refused.value.kind not in (ApologyButton, ComplaintButton, RoleButton)
    assert type(decode("x:1:s")) is ApologyButton
    assert type(decode("f:1:r")) is ComplaintButton
