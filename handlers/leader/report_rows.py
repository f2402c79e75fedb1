"""The workbook's rows, made from what storage lists: late dossiers, answers, officers, receivers, apologies.

Loaded with the workbook (openpyxl) only by the process that builds one. Officers' and receivers' satisfaction
is scored like every report's and hidden under n = 5; answers are numbered, never tied to an invitation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from handlers.leader.workbook.book import AnswerRow, ApologySheetRow, LateRow, OfficerRow, ReceiverRow, issuer
from handlers.privacy import redact
from handlers.texts import Texts
from storage.values import (
    ApologyLine,
    OfficerAnswerCount,
    OfficerCounts,
    RawAnswer,
    ReceiverAnswerCount,
    ReceiverCounts,
)
from survey_forms.schema import Form
from survey_forms.scoring import OverallScore, half_up, score_form

# the states a late dossier can be in, each worded by the catalogs (``late.state.*``)
LATE_STATES = ("received", "supplement_requested", "result_ready", "returned", "cancelled")
LocalDate = Callable[[datetime], date]


def late_rows(rows: Sequence[Any], local: LocalDate, texts: Texts, locale: str) -> list[LateRow]:
    """The dossiers resolved late, or still open past their due date, in the period."""
    return [
        LateRow(
            code=r.code,
            procedure=r.procedure_name,
            field=r.field,
            handler=r.handler,
            received=local(r.received_at),
            due=local(r.due_at),
            finished=local(r.finished_at) if r.finished_at else None,
            state=texts(locale, f"late.state.{r.state}") if r.state in LATE_STATES else r.state,
            apology_number=r.number,
            new_due=local(r.new_due_at) if r.new_due_at else None,
            reason=r.reason,
        )
        for r in rows
    ]


def answer_rows(raw: Sequence[RawAnswer], local: LocalDate) -> list[AnswerRow]:
    """One row per respondent (at least one item answered in the period): exactly the answers scored."""
    answers: dict[int, dict[str, Any]] = {}
    for a in raw:
        completed = local(a.completed_at) if a.completed_at is not None else None
        entry = answers.setdefault(
            a.invitation_id,
            {"completed": completed, "field": a.field, "channel": a.channel or "", "values": {}, "scored": False},
        )
        entry["values"][a.question_code] = a.value if a.value is not None else redact(a.text)
        entry["scored"] = entry["scored"] or a.value is not None
    respondents = [e for e in answers.values() if e["scored"]]
    return [
        AnswerRow(f"PK-{number:06d}", e["completed"], e["field"], e["channel"], e["values"])
        for number, e in enumerate(respondents, start=1)  # pseudonymous: numbered, not the invitation id
    ]


def officer_rows(
    form: Form,
    resolved: Sequence[OfficerCounts],
    answers: Sequence[OfficerAnswerCount],
    issued: Sequence[ApologyLine],
    unnamed: str,
) -> list[OfficerRow]:
    """Each handling officer: dossiers resolved, on time and late, apologies issued, satisfaction (n < 5 hidden).

    The apologies are those issued in the period for the officer's dossiers, resolved yet or not; an officer
    with no name recorded is shown as ``unnamed``.
    """
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for o in answers:
        if o.value is not None:
            counts[o.handler][o.question_code][o.value] += o.count
    issued_by_handler: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for line in issued:
        tally = issued_by_handler[line.handler or ""]
        tally[0 if line.kind == "delay" else 2] += 1
        tally[1] += int(line.kind == "delay" and line.in_time is False)
    resolved_by = {row.handler: row for row in resolved}
    rows = []
    for handler in sorted(set(resolved_by) | set(issued_by_handler)):
        row = resolved_by.get(handler)
        overall = score_form(form, counts.get(handler, {})).overall
        delay, late_apologies, error = issued_by_handler.get(handler, [0, 0, 0])
        rows.append(
            OfficerRow(
                name=handler or unnamed,
                resolved=row.resolved if row else 0,
                on_time=row.on_time if row else 0,
                late=row.late if row else 0,
                apologies=delay,
                satisfaction=published(overall),
                n=overall.n,
                suppressed=overall.suppressed,
                apologies_late=late_apologies,
                apologies_error=error,
            )
        )
    return rows


def apology_rows(issued: Sequence[ApologyLine], local: LocalDate, zone: tzinfo) -> list[ApologySheetRow]:
    """The apologies issued in the period, each with its dossier's dates."""
    return [
        ApologySheetRow(
            code=line.code,
            handler=line.handler,
            issued_by=issuer(line.issued_by, line.issued_key),
            issued_at=line.issued_at.astimezone(zone),
            due=local(line.due_at),
            new_due=local(line.new_due_at) if line.new_due_at else None,
            reason=line.reason,
            kind=line.kind,
            in_time=line.in_time,
            number=line.number,
        )
        for line in issued
    ]


def receiver_rows(
    form: Form, received: Sequence[ReceiverCounts], answers: Sequence[ReceiverAnswerCount]
) -> list[ReceiverRow]:
    """Each receiving officer with dossiers taken in or answers in the period: counts, satisfaction (n < 5 hidden)."""
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for a in answers:
        if a.value is not None:
            counts[a.receiver][a.question_code][a.value] += a.count
    taken = {r.receiver: r.received for r in received}
    rows = []
    for name in sorted(set(taken) | set(counts)):
        overall = score_form(form, counts.get(name, {})).overall
        rows.append(
            ReceiverRow(
                name=name,
                received=taken.get(name, 0),
                satisfaction=published(overall),
                n=overall.n,
                suppressed=overall.suppressed,
            )
        )
    return rows


def published(overall: OverallScore) -> float | None:
    """An officer's overall index as published: None when suppressed, else rounded once from its exact value."""
    if overall.suppressed:
        return None
    return half_up(overall.exact if overall.exact is not None else overall.index)
