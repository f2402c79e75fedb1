"""What the workbook shows beyond the unit's report: its issuer, the answers' labels, the units below, complaints.

Gathered for handlers.leader.desk's PeriodReports, which builds the workbook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.admin.issuers import issuing_unit, place_of
from handlers.leader.reporting import Period, Reporter
from handlers.leader.workbook.filing import ComplaintBacklog
from handlers.texts import DEFAULT_LOCALE
from storage.values import Unit
from survey_forms.schema import Form


@dataclass(frozen=True)
class WorkbookExtras:
    """The header's authority lines, the answers' labels, each unit right below's report, the complaints waiting."""

    authority: list[str]
    options: dict[str, dict[str, str]]
    children: list[dict[str, Any]]
    complaints_open: ComplaintBacklog
    place: str  # where the summary is signed: the place name of the unit that issues the unit's documents


def authority_lines(template: str, unit: Unit, parent: Unit | None) -> list[str]:
    """The header's left block (Nghị định 30/2020): the body above, then the unit itself.

    ``template`` is the authority the unit's papers are issued by ("ỦY BAN NHÂN DÂN|{unit}", "|" between lines).
    A unit at the top is that authority ("Ủy ban nhân dân" / "Phường 8"); a unit below another is named under its
    parent's authority, on one line ("Ủy ban nhân dân Phường 8" / "Khu phố 1").
    """
    if parent is None:
        return [line.strip() for line in template.replace("{unit}", unit.name).split("|") if line.strip()]
    above = " ".join(line.strip() for line in template.replace("{unit}", parent.name).split("|") if line.strip())
    return [above, unit.name]


def option_labels(form: Form, locale: str = "vi") -> dict[str, dict[str, str]]:
    """Each question's answers by value, as people read them: ``{"GT": {"nam": "Nam", "nu": "Nữ"}, …}``."""
    return {
        q.code: {o.value: o.label.get(locale) for o in form.options_of(q)} for q in form.questions if form.options_of(q)
    }


async def gather_extras(
    reporter: Reporter,
    unit: Unit,
    unit_ids: Sequence[int],
    period: Period,
    include_children: bool,
    form: Form,
    as_of: datetime,
    locale: str = DEFAULT_LOCALE,
) -> WorkbookExtras:
    """Everything above for the workbook of ``unit`` over ``period`` (``unit_ids``: the units its figures cover).

    Each unit right below gets its own report, covering the units below it too when the workbook does (as the
    digest ranks them). The complaints waiting are those of ``unit_ids`` at ``as_of``; the answers' labels are in
    ``locale`` where the form has them. The data is read through the reporter's services.
    """
    services = reporter.services
    async with services.uow(read_only=True) as uow:
        parent = await uow.units.get(unit.parent_id) if unit.parent_id is not None else None
        children = await uow.units.children(unit.id)
        subtrees = [await uow.units.subtree_ids(c.id) if include_children else [c.id] for c in children]
        count, oldest = await uow.feedback.backlog(unit_ids, as_of)
        place = place_of(await issuing_unit(uow, unit))
    reports = await asyncio.gather(
        *(reporter.of_unit(c, ids, period, include_children) for c, ids in zip(children, subtrees, strict=True))
    )
    local = as_of.astimezone(services.policy.timezone)
    backlog = ComplaintBacklog(count, services.policy.local_date(oldest) if oldest is not None else None, local)
    return WorkbookExtras(
        authority=authority_lines(services.policy.apology_authority, unit, parent),
        options=option_labels(form, locale),
        children=list(reports),
        complaints_open=backlog,
        place=place,
    )
