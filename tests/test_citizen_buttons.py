"""A citizen's buttons keep the spellings already in people's chats, and a survey button names its message's turn."""

from __future__ import annotations

import pytest

from handlers.chat.callbacks import StaleButton, decode
from handlers.citizen.buttons import (
    ComplaintSend,
    Consent,
    EraseConfirm,
    StartSurvey,
    SurveyBack,
    SurveyDone,
    SurveyPick,
    SurveyRef,
    SurveySkip,
    SurveyTick,
)


@pytest.mark.parametrize(
    ("data", "button"),
    [
        ("c:yes", Consent(True)),
        ("c:no", Consent(False)),
        ("e:yes", EraseConfirm(True)),
        ("e:no", EraseConfirm(False)),
        ("p:yes", ComplaintSend(True)),
        ("p:no", ComplaintSend(False)),
        ("k:start", StartSurvey("start")),
        ("a:12.3:TT1:4", SurveyPick(SurveyRef(12, 3), "TT1", "4")),
        ("m:12.3:YK:khac", SurveyTick(SurveyRef(12, 3), "YK", "khac")),
        ("d:12.3:YK", SurveyDone(SurveyRef(12, 3), "YK")),
        ("s:7.1:CC2", SurveySkip(SurveyRef(7, 1), "CC2")),
        ("b:7.1:CC2", SurveyBack(SurveyRef(7, 1), "CC2")),
        ("a:12:TT1:4", SurveyPick(SurveyRef(12, 0), "TT1", "4")),  # sent before turns were kept: turn 0
    ],
)
def test_each_citizen_button_reads_and_writes_the_spelling_people_have(data: str, button: object) -> None:
    assert decode(data) == button
    assert decode(data).encode() == data


@pytest.mark.parametrize(
    "data",
    [
        "c",
        "c:maybe",
        "e:",
        "p:yes:no",
        "k",
        "k:stop",
        "a:12.3:TT1",  # a pick names its option
        "d:12.3:YK:khac",  # done names none
        "a:012:TT1:4",
        "a:12.0:TT1:4",  # a turn is never 0 when written
        "a:12.03:TT1:4",
        "a:12.3.4:TT1:4",
        "a:12.:TT1:4",
        "s:x.1:CC2",
        "b:7.1:C C2",
    ],
)
def test_a_citizen_button_never_offered_is_stale(data: str) -> None:
    with pytest.raises(StaleButton):
        decode(data)
