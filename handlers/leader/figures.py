"""The report's figures the seeds ask leaders for (docs/METHOD.md, targets), added to the one report for every output.

Online dossiers, repeated supplement requests, on time per field and complaints handled:

- ``dossiers.received_online``: dossiers received in the period through the online channel (``truc_tuyen``);
  ``dossiers.online_rate`` is their share of the dossiers received in the period.
- ``dossiers.supplement_repeated``: dossiers asked for a supplement again (a second or later request) in the period.
- ``on_time_by_field``: per field, the dossiers resolved in the period, on time and late (never suppressed).
- ``complaints``: the complaints (phản ánh) received in the period, how many of them stand answered or closed
  when the report is made, and ``handled_rate`` = (answered + closed) ÷ received.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from handlers.context import Services
from storage.uow import UnitOfWork

Rate = Callable[[int, int], float | None]


async def leader_figures(
    services: Services,
    unit_ids: Sequence[int],
    start: datetime,
    end: datetime,
    rate: Rate,
    uow: UnitOfWork | None = None,
) -> dict[str, Any]:
    """The figures above for ``unit_ids`` over [start, end), as report JSON: ``dossiers`` keys, and new sections.

    Read on ``uow`` when given (a digest reads all its figures on one), else on a unit of work of their own.
    """
    if uow is None:
        async with services.uow(read_only=True) as own:
            return await leader_figures(services, unit_ids, start, end, rate, own)
    intake = await uow.leader_figures.intake(unit_ids, start, end)
    by_field = await uow.leader_figures.on_time_by_field(unit_ids, start, end)
    complaints = await uow.feedback.counts(unit_ids, start, end)
    received = sum(complaints.values())
    answered, closed = complaints.get("answered", 0), complaints.get("closed", 0)
    return {
        "dossiers": {
            "received_online": intake.received_online,
            "online_rate": rate(intake.received_online, intake.received),
            "supplement_repeated": intake.supplement_repeated,
        },
        "on_time_by_field": [
            {
                "field": f.field,
                "resolved": f.resolved,
                "on_time": f.on_time,
                "late": f.late,
                "on_time_rate": rate(f.on_time, f.resolved),
            }
            for f in by_field
        ],
        "complaints": {
            "received": received,
            "answered": answered,
            "closed": closed,
            "handled_rate": rate(answered + closed, received),
        },
    }
