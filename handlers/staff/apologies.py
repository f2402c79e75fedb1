"""Issuing an apology, for the chat flow and the REST API alike: checked, numbered, recorded, sent to the citizen.

The rule (:class:`~handlers.staff.apology_rule.ApologyRule`) says whether the dossier may have it; the apology is
numbered in the series of the unit that issues the dossier's documents, recorded with the audit log's line,
and queued, in the same transaction, on every chat of the citizen's (and by ZNS where configured) with its slip.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from handlers.admin.issuers import issuing_unit
from handlers.context import Services
from handlers.errors import Conflict
from handlers.messages import Reply, nfc
from handlers.staff.apology_papers import ApologyPapers
from handlers.staff.apology_rule import ApologyRule
from storage.uow import UnitOfWork
from storage.values import Apology, Dossier, Unit


@dataclass(frozen=True)
class IssuedApology:
    """An apology just issued, and the channels the citizen was sent it on."""

    apology: Apology
    dossier: Dossier
    channels: tuple[str, ...]


class Apologies:
    """A dossier's apologies: the rule, the papers, and issuing one (docs/METHOD.md, the apology rule)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.rule = ApologyRule(services)
        self.papers = ApologyPapers(services)

    async def issue(
        self,
        uow: UnitOfWork,
        dossier: Dossier,
        reason: str,
        new_due_on: date | None,
        issued_by: str,
        now: datetime,
        kind: str = "delay",
        *,
        actor: str | None = None,
        issued_key: str | None = None,
    ) -> IssuedApology:
        """Issue the dossier's apology of ``kind`` inside ``uow``: Conflict if it has one, InvalidInput if bad.

        A delay apology needs a new date and is recorded ``in_time`` or not (a late one is still issued);
        an error apology takes no new date and is for a resolved or returned dossier. The audit log names
        ``actor`` as who issued it (the chat, the API key), else the officer named.
        """
        policy = self.services.policy
        reason = self.rule.checked_reason(kind, reason)
        existing = await uow.dossiers.apology(dossier.id, kind)
        new_due_at, in_time = self.rule.checked_date(dossier, existing, kind, new_due_on, now)
        # issued in the name of the nearest unit that issues documents (a reception point's, by its ward), in
        # that unit's one series per year
        issuer = await issuing_unit(uow, await uow.units.get(dossier.unit_id))
        year = policy.local_date(now).year
        seq = await uow.apologies.next_seq(issuer.id, year)
        number = f"{seq:02d}/{policy.apology_number_symbol}"  # "01/PXL": two digits at least
        apology = await uow.apologies.add(
            now,
            dossier_id=dossier.id,
            kind=kind,
            in_time=in_time,
            number=number,
            reason=reason,
            new_due_at=new_due_at,
            issued_by=nfc(issued_by).strip()[:100] or "?",
            issued_key=issued_key,
            unit_id=issuer.id,
            year=year,
            seq=seq,
            token=secrets.token_urlsafe(16),
        )
        if apology is None:  # another request won the race for this dossier
            raise Conflict(f"dossier {dossier.code} already has an apology", code="apology_exists")
        person = await uow.people.get(dossier.respondent_id) if dossier.respondent_id is not None else None
        # the PDF is printed when first sent (``slip_pdf``), outside this transaction: printing takes a while
        channels = await self._send_to_citizen(uow, issuer, dossier, apology, person, now)
        await uow.audit.add(
            actor or (f"apikey:{issued_key}"[:100] if issued_key else apology.issued_by),
            "apology.issue",
            f"dossier:{dossier.code}",
            {
                "issued_by": apology.issued_by,
                "officer": apology.issued_by,
                "issued_key": issued_key,
                "number": number,
                "issuer": issuer.code,
                "kind": kind,
                "new_due": new_due_on.isoformat() if new_due_on else None,
                "in_time": in_time,
                "channels": list(channels),
            },
            now,
        )
        return IssuedApology(apology, dossier, channels)

    async def slip_pdf(self, apology_id: int) -> bytes | None:
        """The printable slip of an apology: printed once, on first use, then kept."""
        return await self.papers.slip_pdf(apology_id)

    async def _send_to_citizen(
        self, uow: UnitOfWork, unit: Unit, dossier: Dossier, apology: Apology, person: Any, now: datetime
    ) -> tuple[str, ...]:
        """Queue the apology on every chat linked to the dossier's person, and by ZNS where configured."""
        if person is None or person.erased_at is not None:
            return ()
        policy = self.services.policy
        at = policy.allowed_at(now)  # unsolicited: never in the quiet hours
        sent: list[str] = []
        for chat in await uow.chats.for_person(person.id):
            if chat.status not in ("active", "window_closed") or chat.consent_at is None:
                continue
            message = Reply(self.papers.citizen_text(chat.locale, unit, dossier, apology, person.name))
            for part, reply in enumerate((message, self.papers.slip_reply(chat.locale, apology))):
                await uow.outbox.add(
                    chat.channel,
                    chat.external_id,
                    reply.to_payload(),
                    now,
                    identity_id=chat.id,
                    dedupe_key=f"apology:{apology.id}:{chat.id}:{part}",
                    not_before=at,
                )
            sent.append(chat.channel)
        template = policy.zns_apology_template
        # the ZNS template is registered for the delay apology's wording (its new date): an error one goes by chat
        if template and dossier.zalo_optin and person.phone and apology.new_due_at is not None:
            show = policy.show_date
            reply = Reply(
                self.services.texts("vi", "apology.pdf_caption", number=apology.number),
                template={
                    "template_id": template,
                    "tracking_id": f"apology-{apology.id}",
                    "data": {
                        "ho_ten": person.name or "",
                        "ma_ho_so": dossier.code,
                        "ngay_hen_cu": show(dossier.due_at),
                        "ngay_hen_moi": show(apology.new_due_at),
                        "ly_do": apology.reason[:100],
                    },
                },
            )
            queued = await uow.outbox.add(
                "zns", person.phone, reply.to_payload(), now, dedupe_key=f"apology:{apology.id}:zns", not_before=at
            )
            if queued:
                sent.append("zns")
        return tuple(dict.fromkeys(sent))
