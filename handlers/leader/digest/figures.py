"""What a digest is made of: the figures of its periods, the lists it names, the targets it judges them by.

Read all at once (digest.digests), then worded for each reader (digest.text): the figures
never depend on who reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from handlers.leader.periods import Period
from handlers.leader.targets import TargetBook
from storage.leader_figures import ComplaintBacklog
from storage.values import FeedbackLine, LateDossier, Unit

T = TypeVar("T")


@dataclass(frozen=True)
class Targets:
    """A unit's targets, in percent (docs/METHOD.md, targets: defaults 95% satisfaction, 95% on time)."""

    satisfaction: float = 95.0
    on_time: float = 95.0


@dataclass(frozen=True)
class Section:
    """The figures of one period of a digest, from the one report."""

    period: Period
    report: dict[str, Any]

    @property
    def satisfaction(self) -> tuple[float | None, int]:
        """The overall index (None when suppressed) and its n."""
        overall = self.report["satisfaction"]
        return (None if overall["suppressed"] else overall["index"]), int(overall["n"])

    @property
    def on_time(self) -> tuple[float | None, int]:
        """The on-time rate and the dossiers it rests on."""
        dossiers = self.report["dossiers"]
        return dossiers["on_time_rate"], int(dossiers["resolved"])


@dataclass(frozen=True)
class Listed(Generic[T]):
    """Some of a list a digest names, and how many it holds in all."""

    total: int
    shown: list[T]


@dataclass(frozen=True)
class DigestFigures:
    """Everything a digest says, as read for ``unit`` on ``today``.

    ``month`` is the month to date and the same days before, given with the daily digest; ``children`` are the
    units below, each with its figures for the period the weakest criteria are taken from.
    """

    unit: Unit
    kind: str
    today: date
    current: Section
    previous: Section
    month: tuple[Section, Section] | None
    targets: Targets
    book: TargetBook
    overdue: Listed[LateDossier]
    new_dues: dict[str, datetime]
    late: Listed[LateDossier]
    complaints: Listed[FeedbackLine]
    handled: dict[str, int]
    comments: Listed[str]
    backlog: ComplaintBacklog
    children: list[tuple[Unit, Section]]

    @property
    def weakest_from(self) -> Section:
        """The section the channels, fields and weakest criteria are read from: the month with the daily digest."""
        return self.month[0] if self.month is not None else self.current
