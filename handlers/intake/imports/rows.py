"""One row of an export checked and normalised into a plan, or refused with its reason.

A plan is the dossier as the REST API would be sent it, and the events its status and dates imply
(docs/METHOD.md). A bad row is refused alone, its reason in the run's wording.

Within a file, the first row with a dossier code wins (a later one is refused) and a phone number is one person
(the first row's name stands): importing the same file twice then changes nothing the second time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from handlers.context import Services
from handlers.intake.dossiers import CLOCK_SKEW, CODE_RE, ContactInput, DossierInput, local_moment
from handlers.intake.imports.cells import (
    STATUS_STATES,
    Cell,
    Moment,
    cell_text,
    parse_applicant_kind,
    parse_channel,
    parse_moment,
    parse_phone,
    parse_status,
)
from handlers.intake.imports.header_aliases import column_numbers
from handlers.intake.imports.report import ImportWords, RowError
from handlers.words import fold
from storage.values import Unit

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# optional columns whose absence from a file keeps what is stored (an empty cell in a present column clears it)
_KEPT = ("procedure_code", "handler", "channel", "receiver")
_T = TypeVar("_T")


class RowFault(Exception):
    """One row cannot be imported; the message says why (in the run's wording)."""


@dataclass(frozen=True)
class Plan:
    """What one row asks for: the dossier as the API would be sent it, then its events in order."""

    row: int
    data: DossierInput
    phone: str | None  # the applicant's phone, normalised (to compare with what is stored)
    events: tuple[tuple[str, datetime], ...]
    absent: frozenset[str]  # optional columns the file does not have (what is stored is kept)


class UnitCodes:
    """The code of the unit a cell names: its code, or its code or name without accents or case, if only one."""

    def __init__(self, units: dict[str, Unit]) -> None:
        self.codes: dict[str, str | None] = {code: code for code in units}
        named: dict[str, set[str]] = {}
        for unit in units.values():
            for text in (unit.code, unit.name):
                named.setdefault(fold(text), set()).add(unit.code)
        self.named = {text: next(iter(codes)) if len(codes) == 1 else None for text, codes in named.items()}

    def __call__(self, text: str) -> str | None:
        """The code of the unit ``text`` names; None when it names none, or more than one."""
        if text not in self.codes:
            self.codes[text] = self.named.get(fold(text))
        return self.codes[text]


def implied_events(
    say: ImportWords,
    status: int | None,
    received_at: datetime,
    finished_at: datetime | None,
    returned_at: datetime | None,
) -> tuple[tuple[str, datetime], ...]:
    """The events a row's status (or, without one, its dates) implies, in order; RowFault when a date is lacking."""
    if status is None:
        state = "returned" if returned_at else "result_ready" if finished_at else "received"
    else:
        state = STATUS_STATES[status]
    if state == "returned":
        if returned_at is None:
            raise RowFault(say("row.status_needs", status=say.status(10), column=say.column("returned")))
        ready = (("result_ready", finished_at),) if finished_at else ()
        return (*ready, ("returned", returned_at))
    if state == "result_ready":
        at = finished_at or returned_at
        if at is None:
            raise RowFault(
                say(
                    "row.status_needs_either",
                    status=say.status(9),
                    column=say.column("finished"),
                    other=say.column("returned"),
                )
            )
        return (("result_ready", at),)
    if state in ("supplement_requested", "cancelled"):
        # the export gives no date of its own for these: the latest date the row gives
        return ((state, max(d for d in (received_at, finished_at, returned_at) if d is not None)),)
    return ()


class _Cells:
    """The cells of one row by column key, read or refused with the column named."""

    def __init__(self, say: ImportWords, values: Sequence[Cell], columns: dict[str, int]) -> None:
        self.say, self.values, self.columns = say, values, columns

    def cell(self, key: str) -> Cell:
        index = self.columns.get(key)
        return self.values[index] if index is not None and index < len(self.values) else None

    def text(self, key: str, required: bool = False) -> str | None:
        value = cell_text(self.cell(key))
        if value is None and required:
            raise RowFault(self.say("row.missing", column=self.say.column(key)))
        return value

    def required(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def moment(self, key: str, required: bool = False) -> Moment | None:
        try:
            value = parse_moment(self.cell(key))
        except (ValueError, OverflowError):
            column = self.say.column(key)
            raise RowFault(self.say("row.not_a_date", column=column, value=cell_text(self.cell(key)))) from None
        if value is None and required:
            raise RowFault(self.say("row.missing", column=self.say.column(key)))
        return value

    def parsed(self, key: str, parse: Callable[[Cell], _T], refusal: str) -> _T:
        """The cell read by ``parse``, or the row refused with ``refusal`` (its column and value named)."""
        try:
            return parse(self.cell(key))
        except ValueError:
            raise RowFault(self.say(refusal, column=self.say.column(key), value=self.text(key))) from None


class RowReader:
    """Turns the rows of one file into plans, or into the errors of the rows refused."""

    def __init__(
        self,
        services: Services,
        say: ImportWords,
        header_row: int,
        columns: dict[str, int],
        unit_code: Callable[[str], str | None],
        default_unit: str | None,
    ) -> None:
        self.services, self.say = services, say
        self.header_row, self.columns = header_row, columns
        self.unit_code, self.default_unit = unit_code, default_unit
        self.first_rows: dict[str, int] = {}  # dossier code -> the row that brought it first: a later one is refused
        self.contacts: dict[str, ContactInput] = {}  # phone -> the applicant as the file first gives them

    def read(self, batch: Sequence[tuple[int, Sequence[Cell]]]) -> tuple[list[Plan], list[RowError]]:
        """The plans of a batch of rows, and the errors of the rows refused (blank rows are skipped)."""
        plans: list[Plan] = []
        errors: list[RowError] = []
        for number, values in batch:
            if all(cell_text(value) is None for value in values):
                continue
            if number == self.header_row + 1 and column_numbers(values):
                continue  # the row of column numbers, (1) (2) (3) …, that official forms put under the headers
            repeated = self._repeated(number, values)
            if repeated is not None:
                errors.append(repeated)
                continue
            try:
                plans.append(self._one_person_per_phone(self.plan(number, values)))
            except RowFault as fault:
                errors.append(RowError(number, str(fault)))
        return plans, errors

    def plan(self, number: int, values: Sequence[Cell]) -> Plan:
        """The plan of one row; RowFault when the row cannot be imported."""
        say, row = self.say, _Cells(self.say, values, self.columns)
        code = row.required("code")
        if not CODE_RE.fullmatch(code):
            raise RowFault(say("row.bad_code", column=say.column("code"), code=code))
        procedure, field, name = row.required("procedure"), row.required("field"), row.required("applicant")
        unit_text = row.text("unit") or self.default_unit
        if unit_text is None:
            raise RowFault(say("row.missing", column=say.column("unit")))
        unit = self.unit_code(unit_text)
        if unit is None:
            raise RowFault(say("no_such_unit", unit=unit_text))
        try:
            phone = parse_phone(row.cell("phone"))
        except ValueError:
            raise RowFault(say("row.bad_phone", column=say.column("phone"))) from None
        email = row.text("email")
        if email is not None and not _EMAIL.fullmatch(email):
            raise RowFault(say("row.bad_email", column=say.column("email")))
        channel = row.parsed("channel", parse_channel, "row.bad_channel")
        kind = row.parsed("applicant_kind", parse_applicant_kind, "row.bad_kind")
        status = row.parsed("status", parse_status, "row.bad_status") if row.text("status") is not None else None

        zone = self.services.policy.timezone
        received_value, due_value = row.moment("received", required=True), row.moment("due", required=True)
        finished_value, returned_value = row.moment("finished"), row.moment("returned")
        assert received_value is not None
        assert due_value is not None
        received_at = local_moment(received_value, zone)
        self._not_future(received_at, "received")
        due_at = local_moment(due_value, zone, end_of_day=True)
        if due_at < received_at:
            raise RowFault(say("row.before", column=say.column("due"), earlier=say.column("received")))
        finished_at = self._after(finished_value, received_at, "finished", "received")
        returned_at = self._after(
            returned_value, finished_at or received_at, "returned", "finished" if finished_at else "received"
        )
        self._not_future(finished_at, "finished")
        self._not_future(returned_at, "returned")

        events = implied_events(say, status, received_at, finished_at, returned_at)
        data = DossierInput(
            code=code,
            unit=unit,
            procedure=procedure,
            procedure_code=row.text("procedure_code"),
            field=field,
            applicant=ContactInput(name=name, phone=phone, email=email, kind=kind),
            received_at=received_at,
            due_at=due_at,
            channel=channel,
            handler=row.text("handler"),
            receiver=row.text("receiver"),
        )
        return Plan(number, data, phone, events, frozenset(key for key in _KEPT if key not in self.columns))

    def _not_future(self, at: datetime | None, key: str) -> None:
        """A reception, a result or a return dated after now is refused, its column named (a due date may be)."""
        now = self.services.clock()
        if at is not None and at > now + CLOCK_SKEW:
            show = self.services.policy.show
            raise RowFault(self.say("row.in_future", column=self.say.column(key), at=show(at), now=show(now)))

    def _after(self, value: Moment | None, bound: datetime, key: str, bound_key: str) -> datetime | None:
        """``value`` as a moment no earlier than ``bound``; a date alone on the bound's own day is the bound."""
        if value is None:
            return None
        at = local_moment(value, self.services.policy.timezone)
        if at >= bound:
            return at
        policy = self.services.policy
        if not isinstance(value, datetime) and value == policy.local_date(bound):
            return bound  # a date without a time, on the day the earlier step happened: right after it
        raise RowFault(self.say("row.before", column=self.say.column(key), earlier=self.say.column(bound_key)))

    def _repeated(self, number: int, values: Sequence[Cell]) -> RowError | None:
        """The error for a row whose dossier code an earlier row of the file gave (whatever became of that row).

        Applying both would let the later row silently overwrite the earlier one, and every import of the same
        file would report the dossier updated again: the first row wins and the file's author is told.
        """
        index = self.columns["code"]
        code = cell_text(values[index]) if index < len(values) else None
        if code is None:
            return None
        first = self.first_rows.setdefault(code, number)
        if first == number:
            return None
        return RowError(number, self.say("row.repeated", column=self.say.column("code"), code=code, first=first))

    def _one_person_per_phone(self, plan: Plan) -> Plan:
        """``plan`` with its applicant as the file's first row with the same phone named them.

        A phone number is one person (the dossier handler finds people by it). Two rows of a file that give one
        number under two names (a parent filing for a child, say) would otherwise rename the person back and forth,
        and every import of the same file would report both dossiers updated: the first row's name stands, and a
        later row only adds an e-mail address the first did not give.
        """
        if plan.phone is None:
            return plan
        first = self.contacts.get(plan.phone)
        if first is None:
            self.contacts[plan.phone] = plan.data.applicant
            return plan
        applicant = replace(first, email=first.email or plan.data.applicant.email)
        self.contacts[plan.phone] = applicant
        return replace(plan, data=replace(plan.data, applicant=applicant))
