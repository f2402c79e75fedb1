"""The leaders' chat commands: ``/baocao`` (``/report``), a leader's digest on demand, for the day or a period.

The digest itself is built by handlers.leader.digest.digests; the workbooks sent each month and quarter by
handlers.leader.reports.
"""

from __future__ import annotations

from typing import Any

from handlers.context import Services
from handlers.leader.digest.digests import Digests
from handlers.leader.periods import period_kind
from handlers.staff.officers import LEADER_ROLES
from handlers.words import fold

CHILDREN_WORDS = ("gom don vi truc thuoc", "gom truc thuoc", "truc thuoc", "children")  # folded, longest first


def children_asked(args: str) -> tuple[str, bool]:
    """``"tháng trực thuộc"`` → (``"tháng"``, True): the units below are included only when asked for."""
    folded = fold(args).strip()
    for words in CHILDREN_WORDS:
        if folded == words or folded.endswith(" " + words):
            return " ".join(args.split()[: -len(words.split())]), True
    return args, False


class LeaderDesk:
    """``/baocao [ngày|tuần|tháng|quý|6 tháng|9 tháng|năm]``: a leader's report on demand, in the chat."""

    def __init__(self, services: Services, digests: Digests) -> None:
        self.services = services
        self.digests = digests

    async def takes(self, turn: Any) -> bool:
        """Handle ``/baocao`` (and ``/report``); anything else is not the leaders'."""
        inbound = turn.inbound
        if inbound.kind != "text" or not inbound.text.startswith("/"):
            return False
        name, _, args = inbound.text[1:].partition(" ")
        if fold(name.split("@")[0]) not in ("baocao", "report"):
            return False
        roles = await turn.uow.roles.of_chat(turn.chat.id) if turn.chat is not None else []
        leading = [r for r in roles if r.role in LEADER_ROLES]
        if not leading:
            turn.say("role.refused_leader")
            return True
        args, include_children = children_asked(args)
        kind = period_kind(args) if args.strip() else "day"
        if kind is None:
            turn.say("digest.usage")
            return True
        unit = await turn.uow.units.get(leading[0].unit_id)
        today = self.services.policy.local_date(turn.now)
        digest = await self.digests.build(unit.code, today, kind, turn.locale, include_children=include_children)
        name = f"bao-cao-{unit.code}-{kind}-{today:%Y%m%d}.png"
        delivery = self.digests.delivery
        stored = await delivery.keep(
            turn.uow, "digest_chart", unit.id, f"{kind}:{today.isoformat()}", name, "image/png", digest.chart, turn.now
        )
        turn.replies += delivery.replies(digest.text, stored, turn.locale)
        return True
