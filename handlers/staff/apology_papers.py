"""An apology as its citizen reads it: the chat message, the printed slip (printed once, then kept), its link.

The slip is addressed to the person asked, or to the organisation that applied; it is issued in the name of
the unit that issues the dossier's documents, and names the officer who issued it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from handlers.admin.issuers import issuing_unit, place_of
from handlers.context import Services
from handlers.messages import Reply
from handlers.privacy import mask_phone
from storage.values import Apology, Dossier, Unit

if TYPE_CHECKING:
    from handlers.staff.slip import SlipData


def applicant_is_organisation(dossier: Dossier, name: str) -> bool:
    """Whether the slip addresses an organisation: as the sender said, or, when nobody said, by its name."""
    if dossier.applicant_kind is not None:
        return dossier.applicant_kind == "organisation"
    from handlers.staff.slip import looks_like_organisation  # the slip's module loads fpdf2: only slips need it

    return looks_like_organisation(name)


class ApologyPapers:
    """What an apology says: to the citizen in a chat, on the printed slip, and the slip's message."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def slip_pdf(self, apology_id: int) -> bytes | None:
        """The printable slip of an apology: printed once, on first use, then kept."""
        services = self.services
        async with services.uow(read_only=True) as uow:
            pdf = await uow.apologies.pdf(apology_id=apology_id)
            if pdf is not None:
                return pdf
            apology = await uow.apologies.get(apology_id)
            if apology is None:
                return None
            dossier = await uow.dossiers.get(apology.dossier_id)
            unit = await uow.units.get(dossier.unit_id)
            # the unit it was issued by and numbered in (an apology recorded with none: who would issue it now)
            issuer = await uow.units.get(apology.unit_id) if apology.unit_id else await issuing_unit(uow, unit)
            person = await uow.people.get(dossier.respondent_id) if dossier.respondent_id is not None else None
            applicant = person
            if dossier.applicant_id is not None and dossier.applicant_id != dossier.respondent_id:
                applicant = await uow.people.get(dossier.applicant_id)  # an organisation's representative answers
        data = self.slip_data(unit, dossier, apology, person, applicant, issuer=issuer)
        from handlers.staff.slip import render_slip

        pdf = await asyncio.to_thread(render_slip, data)
        async with services.uow() as uow:
            await uow.apologies.set_pdf(apology_id, pdf)
            await uow.commit()
        return pdf

    def slip_data(
        self,
        unit: Unit,
        dossier: Dossier,
        apology: Apology,
        person: Any,
        applicant: Any = None,
        *,
        issuer: Unit | None = None,
    ) -> SlipData:
        """What the printed slip says: to the person asked (``person``), or to the applicant if an organisation.

        ``issuer``: the unit in whose name it is issued (``unit``, the dossier's, when it issues documents
        itself): its authority, place name, signer; the officer who issued it is printed too.
        """
        from handlers.staff.slip import SlipData

        policy = self.services.policy
        issuer = issuer or unit
        erased = person is None or person.erased_at is not None
        name = "" if erased else (person.name or "")
        owner = applicant if applicant is not None else person
        owner_name = "" if owner is None or owner.erased_at is not None else (owner.name or "")
        organisation = applicant_is_organisation(dossier, owner_name)
        if organisation:
            name = owner_name
        return SlipData(
            authority=policy.apology_authority.replace("{unit}", issuer.name),
            unit_name=issuer.name,
            number=apology.number or "",
            place=place_of(issuer),
            issued_on=policy.local_date(apology.issued_at),
            applicant=name,
            contact=None if erased or not person.phone else mask_phone(person.phone),
            received_on=policy.local_date(dossier.received_at),
            procedure=dossier.procedure_name,
            field=dossier.field,
            dossier_code=dossier.code,
            due_on=policy.local_date(dossier.due_at),
            reason=apology.reason,
            new_due_on=policy.local_date(apology.new_due_at) if apology.new_due_at else None,
            signer_title=(issuer.signer_title or f"{policy.apology_signer}\n{policy.apology_signer_position}"),
            title=policy.apology_error_title if apology.kind == "error" else policy.apology_title,
            signer_name=issuer.signer_name or policy.apology_signer_name,
            organisation=organisation,
            kind=apology.kind,
            officer=apology.issued_by,
            reception_point=unit.name if unit.id != issuer.id else "",
        )

    def citizen_text(self, locale: str, unit: Unit, dossier: Dossier, apology: Apology, name: str | None) -> str:
        """The apology as the citizen reads it in a chat (worded after the official slip)."""
        show = self.services.policy.show_date
        return self.services.texts(
            locale,
            "apology.error.citizen" if apology.kind == "error" else "apology.citizen",
            name=name or "",
            unit=unit.name,
            procedure=dossier.procedure_name,
            field=dossier.field,
            code=dossier.code,
            received=show(dossier.received_at),
            due=show(dossier.due_at),
            reason=apology.reason,
            new_due=show(apology.new_due_at) if apology.new_due_at else "",
            number=apology.number,
        ).replace(" ,", ",")  # no name (erased, or a preview): "Kính gửi Ông/Bà,"

    def slip_reply(self, locale: str, apology: Apology) -> Reply:
        """The printable slip as a message of its own (a file, or its link where files cannot be sent)."""
        texts, public = self.services.texts, self.services.policy.public_url.rstrip("/")
        number = (apology.number or "").replace("/", "-")
        url = f"{public}/phieu/{apology.token}.pdf"
        attachment = {
            "kind": "apology_slip",
            "apology_id": apology.id,
            "filename": f"phieu-xin-loi-{number}.pdf",
            "url": url,
            "link_text": texts(locale, "apology.link", url=url),
        }
        caption = "apology.error.pdf_caption" if apology.kind == "error" else "apology.pdf_caption"
        return Reply(texts(locale, caption, number=apology.number), attachments=(attachment,))
