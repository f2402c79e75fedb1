"""The leaders' chat commands: ``/baocao`` (``/report``), a leader's digest on demand, for the day or a period.

The digest itself is built by handlers.leader.digest.digests; the workbooks sent each month and quarter by
handlers.leader.reports.
"""

from __future__ import annotations

from typing import Any

from handlers.chat.routes import Routes
from handlers.context import Services
from handlers.leader.digest.digests import Digests
from handlers.leader.periods import period_kind
from handlers.staff.officers import LEADER_ROLES
from handlers.words import fold

COMMANDS = ("baocao", "report")
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

    def routes(self) -> Routes:
        """The leaders' part of the chat's table."""
        return Routes(commands=dict.fromkeys(COMMANDS, self.on_report))

    async def on_report(self, turn: Any, args: str) -> None:
        """``/baocao [period] [trực thuộc]``: the digest of the leader's unit, refused to a chat that leads nowhere."""
        roles = await turn.uow.roles.of_chat(turn.chat.id) if turn.chat is not None else []
        leading = [r for r in roles if r.role in LEADER_ROLES]
        if not leading:
            turn.say("role.refused_leader")
            return
        args, include_children = children_asked(args)
        kind = period_kind(args) if args.strip() else "day"
        if kind is None:
            turn.say("digest.usage")
            return
        unit = await turn.uow.units.get(leading[0].unit_id)
        today = self.services.policy.local_date(turn.now)
        digest = await self.digests.build(unit.code, today, kind, turn.locale, include_children=include_children)
        name = f"bao-cao-{unit.code}-{kind}-{today:%Y%m%d}.png"
        delivery = self.digests.delivery
        stored = await delivery.keep(
            turn.uow, "digest_chart", unit.id, f"{kind}:{today.isoformat()}", name, "image/png", digest.chart, turn.now
        )
        turn.replies += delivery.replies(digest.text, stored, turn.locale)
