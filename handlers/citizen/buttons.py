"""The buttons a citizen presses, typed (handlers.chat.callbacks): consent, erasure, complaint, and the survey's.

The spellings are the ones already in people's chats: ``c:yes|no`` (consent), ``e:yes|no`` (erase my data),
``p:yes|no`` (send as a complaint), ``k:start`` (start the survey), and on a survey message
``a|m:<invitation>.<turn>:<question>:<value>`` (pick, tick) and ``d|s|b:<invitation>.<turn>:<question>`` (done,
skip, back). A survey button names the invitation and the turn of the message it is on: only the newest survey
message's turn is live, so a press on any older message is known as stale.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal, Self

from handlers.chat.callbacks import Button
from handlers.messages import row_id

_TURN = re.compile(r"[1-9][0-9]{0,8}")


@dataclasses.dataclass(frozen=True)
class Consent(Button):
    """The consent notice's "Đồng ý" / "Không đồng ý"."""

    KIND = "c"
    agreed: bool


@dataclasses.dataclass(frozen=True)
class EraseConfirm(Button):
    """The erasure's "Xóa" / "Giữ lại"."""

    KIND = "e"
    confirmed: bool


@dataclasses.dataclass(frozen=True)
class ComplaintSend(Button):
    """The complaint step's "Có" / "Không": send what the person wrote to the officers, or not."""

    KIND = "p"
    send: bool


@dataclasses.dataclass(frozen=True)
class StartSurvey(Button):
    """The "Bắt đầu khảo sát" button under a survey waiting to be answered."""

    KIND = "k"
    action: Literal["start"]


@dataclasses.dataclass(frozen=True)
class SurveyRef:
    """The invitation a survey button is about and the turn of the message it is on (``<invitation>.<turn>``).

    A button sent before turns were kept names only the invitation: turn 0.
    """

    invitation_id: int
    turn: int = 0

    def encode(self) -> str:
        """``<invitation>.<turn>``, or the invitation alone at turn 0."""
        return f"{self.invitation_id}.{self.turn}" if self.turn else str(self.invitation_id)

    @classmethod
    def decode(cls, text: str) -> Self:
        """The reference ``encode`` wrote; ``ValueError`` for anything else."""
        invitation, dot, turn = text.partition(".")
        wanted = row_id(invitation)
        if wanted is None or (dot and not _TURN.fullmatch(turn)):
            raise ValueError(text)
        return cls(wanted, int(turn) if dot else 0)


@dataclasses.dataclass(frozen=True)
class SurveyButton(Button):
    """A button on a survey message: the message it is on, and the question it asks."""

    ref: SurveyRef
    question: str


@dataclasses.dataclass(frozen=True)
class SurveyPick(SurveyButton):
    """Pick an option of a single-choice question (and move on)."""

    KIND = "a"
    value: str


@dataclasses.dataclass(frozen=True)
class SurveyTick(SurveyButton):
    """Tick or untick an option of a multiple-choice question."""

    KIND = "m"
    value: str


@dataclasses.dataclass(frozen=True)
class SurveyDone(SurveyButton):
    """Finish a multiple-choice question."""

    KIND = "d"


@dataclasses.dataclass(frozen=True)
class SurveySkip(SurveyButton):
    """Skip the question."""

    KIND = "s"


@dataclasses.dataclass(frozen=True)
class SurveyBack(SurveyButton):
    """Go back to the previous question."""

    KIND = "b"
