"""Lines of the leaders' digest that need more than a figure: the complaints backlog, dates labelled, ties ranked equal.

- The **complaints backlog** is a stock, like the overdue dossiers: the complaints received before the digest's day
  that stand neither answered nor closed when it is made, whatever period they came in, with the age in days of the
  oldest (docs/FIGURES.md).
- A dossier on a list shows its dates labelled: "hạn 10/11", and "hạn 10/11 · hẹn lại 14/11" once a delay apology
  gave it a new appointment (the year only when it is not the digest's).
- Units are ranked by the published satisfaction index; equal figures share a place (1, 2, 2, 4), and the units with
  no figure share the place after the last one with a figure.
- A criterion is named by the short label its form writes for it, never by its statement cut short.
- A rate is read with a decimal comma (91,9%); one resting on fewer than five answers is not shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TypeVar

from handlers.collation import vietnamese_key
from handlers.context import Services
from storage.leader_figures import ComplaintBacklog
from survey_forms.schema import Form

T = TypeVar("T")
SMALL = 5  # fewer answers (or dossiers) than this: "not enough data"


def percent(value: float | None, n: int, none: str) -> str:
    """A rate as people read it (91,9%), or ``none`` when it rests on fewer than five."""
    if value is None or n < SMALL:
        return none
    return f"{value:.1f}".replace(".", ",") + "%"


def count_rate(value: float | None, none: str) -> str:
    """A rate over counted dossiers (a census, never suppressed): 66,7%, or ``none`` when nothing was counted."""
    if value is None:
        return none
    return f"{value:.1f}".replace(".", ",") + "%"


def span(first: date, last: date) -> str:
    """A period as its lines head it: ``01/12–15/12/2026``."""
    return f"{first:%d/%m}–{last:%d/%m/%Y}"


def day_text(day: date, today: date) -> str:
    """``10/11`` within the digest's year, ``10/11/2025`` otherwise."""
    return f"{day:%d/%m}" if day.year == today.year else f"{day:%d/%m/%Y}"


def dated(services: Services, locale: str, today: date, due_at: datetime, new_due_at: datetime | None) -> str:
    """A dossier's dates as a list shows them: "hạn 10/11" or "hạn 10/11 · hẹn lại 14/11"."""
    local = services.policy.local_date
    due = day_text(local(due_at), today)
    if new_due_at is None:
        return services.texts(locale, "digest.due", due=due)
    return services.texts(locale, "digest.due_again", due=due, new_due=day_text(local(new_due_at), today))


def backlog_line(services: Services, locale: str, backlog: ComplaintBacklog, today: date) -> str:
    """The open complaints: how many, and how many days the oldest has waited (since the day it came in)."""
    if not backlog.count or backlog.oldest_at is None:
        return services.texts(locale, "digest.complaint_backlog_none")
    since = services.policy.local_date(backlog.oldest_at)
    return services.texts(
        locale,
        "digest.complaint_backlog",
        count=backlog.count,
        days=(today - since).days,
        since=day_text(since, today),
    )


def ranked(items: Sequence[T], figure: Callable[[T], float | None], name: Callable[[T], str]) -> list[tuple[int, T]]:
    """``items`` best figure first, each with its place.

    Ties share a place (1, 2, 2, 4); those with no figure come last, sharing the place after the others; within a
    place, by name in Vietnamese order.
    """
    ordered = sorted(items, key=lambda item: (figure(item) is None, -(figure(item) or 0.0), vietnamese_key(name(item))))
    places: list[tuple[int, T]] = []
    for position, item in enumerate(ordered, start=1):
        if places and figure(places[-1][1]) == figure(item):
            places.append((places[-1][0], item))
        else:
            places.append((position, item))
    return places


def weakest_label(form: Form, code: str, locale: str) -> str:
    """How the digest names criterion ``code``: its short label; a form without one gives its whole statement."""
    short = form.short_label(code, locale)
    if short is not None:
        return short
    question = next((q for q in form.questions if q.code == code), None)
    return "" if question is None else " ".join(question.text.get(locale).split()).rstrip(" .")
