"""The apology rule (docs/METHOD.md): which dossier may get which apology, and by when it is in time.

At most one apology for a delay (with its reason and a new date; in time when issued no later than the working
day before the due date, else still issued but recorded ``in_time`` false) and, apart from it, at most one for
an error in the dossier's handling (a resolved or returned dossier; no new date).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import islice

from handlers.context import Services
from handlers.errors import Conflict, InvalidInput
from handlers.messages import nfc
from handlers.staff.steps import REASON_LIMIT
from storage.values import Apology, Dossier

UNRESOLVED = ("received", "supplement_requested")
ERROR_STATES = ("result_ready", "returned")  # an error apology: for a dossier resolved or returned
APOLOGY_KINDS = ("delay", "error")
DATE_CHOICES = 5


class ApologyRule:
    """The rule applied to one dossier: the last day in time, the dates a new appointment may take, refusals."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def last_permitted_day(self, dossier: Dossier) -> date:
        """The last day a delay apology is in time: the working day before the due date."""
        calendar = self.services.calendar
        day = self.services.policy.local_date(dossier.due_at) - timedelta(days=1)
        for _ in range(366):  # a year without a working day is no calendar at all
            if calendar.is_working_day(day):
                return day
            day -= timedelta(days=1)
        return day

    def in_time(self, dossier: Dossier, now: datetime) -> bool:
        """Whether a delay apology issued at ``now`` is in time (its local date by the last permitted day)."""
        return self.services.policy.local_date(now) <= self.last_permitted_day(dossier)

    def valid_new_date(self, dossier: Dossier, day: date, now: datetime) -> bool:
        """A working day after today and after the original appointment."""
        policy = self.services.policy
        today, due = policy.local_date(now), policy.local_date(dossier.due_at)
        return day > today and day > due and self.services.calendar.is_working_day(day)

    def offered_dates(self, dossier: Dossier, now: datetime) -> list[date]:
        """The next working days a new appointment may take."""
        policy = self.services.policy
        start = max(policy.local_date(now), policy.local_date(dossier.due_at))
        return list(islice(self.services.calendar.working_days_after(start), DATE_CHOICES))

    def refusal(
        self, dossier: Dossier, existing: Apology | None, kind: str = "delay"
    ) -> tuple[str, dict[str, object]] | None:
        """Why this dossier cannot get an apology of ``kind`` now (a wording key and its values), or None."""
        show = self.services.policy.show_date
        if kind == "error":
            if existing is not None:
                return "apology.error.exists", {"code": dossier.code, "number": existing.number}
            if dossier.state not in ERROR_STATES:
                return "apology.error.unresolved", {"code": dossier.code, "state": f"state.{dossier.state}"}
            return None
        if existing is not None:
            return "apology.exists", {
                "code": dossier.code,
                "number": existing.number,
                "new_due": show(existing.new_due_at) if existing.new_due_at else "—",
            }
        if dossier.state not in UNRESOLVED:
            return "apology.resolved", {"code": dossier.code, "state": f"state.{dossier.state}"}
        return None

    def checked_reason(self, kind: str, reason: str) -> str:
        """The reason as it will be printed: InvalidInput for an unknown kind, no reason or too long a one."""
        if kind not in APOLOGY_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(APOLOGY_KINDS)}")
        reason = nfc(reason).strip()
        if not reason:
            raise InvalidInput("reason is required")
        if len(reason) > REASON_LIMIT:
            raise InvalidInput(f"reason is longer than {REASON_LIMIT} characters")
        return reason

    def checked_date(
        self, dossier: Dossier, existing: Apology | None, kind: str, new_due_on: date | None, now: datetime
    ) -> tuple[datetime | None, bool | None]:
        """The new appointment (by that day's end) and whether the apology is in time; Conflict or InvalidInput.

        An error apology takes no new date and is not timed (both None).
        """
        if kind == "error":
            if existing is not None:
                raise Conflict(
                    f"dossier {dossier.code} already has error apology {existing.number}", code="apology_exists"
                )
            if dossier.state not in ERROR_STATES:
                raise Conflict(
                    f"dossier {dossier.code} is not resolved: an error apology is for a resolved or returned dossier",
                    code="invalid_transition",
                )
            if new_due_on is not None:
                raise InvalidInput("new_due_at: an error apology sets no new date")
            return None, None
        if existing is not None:
            raise Conflict(
                f"dossier {dossier.code} already has apology {existing.number}: an appointment moves only once",
                code="apology_exists",
            )
        if dossier.state not in UNRESOLVED:
            raise Conflict(f"dossier {dossier.code} is resolved: no apology is needed", code="invalid_transition")
        if new_due_on is None:
            raise InvalidInput("new_due_at is required for a delay apology")
        if not self.valid_new_date(dossier, new_due_on, now):
            raise InvalidInput(
                f"new_due_at: {new_due_on:%d/%m/%Y} is not a working day after today and after the due date"
            )
        new_due_at = datetime.combine(new_due_on, time(23, 59, 59), tzinfo=self.services.policy.timezone)
        return new_due_at, self.in_time(dossier, now)
