"""The staff room's buttons, typed: an apology's steps (kind ``x``) and a complaint's answer or close (kind ``f``).

The data keeps the spellings sent before the codec, so a button already in an officer's chat still works:
``x:<dossier>:s|e|ok|no``, ``x:<dossier>:r:<reason|other>``, ``x:<dossier>:d:<YYYYMMDD>`` and ``f:<feedback>:r|c``.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime
from typing import Literal

from handlers.chat.callbacks import Button

REASONS = ("1", "2", "3", "4")  # the reasons offered at an apology's first step, by number
_DAY = re.compile(r"[0-9]{8}")  # strptime takes fewer digits, and digits of any script

ApologyStep = Literal["s", "e", "r", "d", "ok", "no"]


@dataclasses.dataclass(frozen=True)
class ApologyButton(Button):
    """A step of an apology: start one (``s`` for a delay, ``e`` for an error), a reason, a new date, confirm or not.

    ``choice`` is the reason's number (or ``other``) after ``r`` and the day as ``YYYYMMDD`` after ``d``; the
    other steps carry none. Anything else is refused when read (a :class:`~handlers.chat.callbacks.StaleButton`).
    """

    KIND = "x"
    dossier: int
    step: ApologyStep
    choice: str | None = None

    def __post_init__(self) -> None:
        if self.step == "r":
            if self.choice not in (*REASONS, "other"):
                raise ValueError(f"reason {self.choice!r}")
        elif self.step == "d":
            self.day  # noqa: B018 - read it: a day that is no date is refused here
        elif self.choice is not None:
            raise ValueError(f"step {self.step!r} takes no choice")

    @classmethod
    def reason(cls, dossier: int, reason: str) -> ApologyButton:
        """The button of one reason (``1``…``4``, or ``other``)."""
        return cls(dossier, "r", reason)

    @classmethod
    def new_date(cls, dossier: int, day: date) -> ApologyButton:
        """The button of one new appointment date."""
        return cls(dossier, "d", f"{day:%Y%m%d}")

    @property
    def day(self) -> date:
        """The date a ``d`` button offers (``ValueError`` for any other)."""
        if self.step != "d" or self.choice is None or not _DAY.fullmatch(self.choice):
            raise ValueError(f"no date in {self!r}")
        return datetime.strptime(self.choice, "%Y%m%d").date()


@dataclasses.dataclass(frozen=True)
class ComplaintButton(Button):
    """Under a complaint: answer it (``r``) or close it (``c``)."""

    KIND = "f"
    feedback: int
    action: Literal["r", "c"]
