"""What staff and leaders do in any chat: join with a code, apologise for a late dossier, answer complaints.

The chat side (``StaffDesk``) takes the commands and buttons that are the staff's; the same unit of work
as the citizen side records every step, and what must reach someone else (the citizen's apology, an
answer to a complaint) is queued in the outbox in that transaction. A staff member's half-finished
apology or answer lives in the ``drafts`` table, so it survives a restart and any web worker can go on.

``Apologies`` issues the one apology a dossier may get, for the chat flow and the REST API alike;
``Alerts`` is what the scheduler runs: dossiers at risk of running late, promised dates missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from handlers import limits
from handlers.admin.roles import leave_other_units
from handlers.chat import typed_actions as typed
from handlers.citizen.survey import fold
from handlers.context import Services
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.messages import Inbound, Option, Reply, nfc, row_id
from handlers.names import channel_name
from handlers.privacy import mask_name, mask_phone, redact
from handlers.staff import steps
from handlers.staff.issuers import issuing_unit, place_of
from handlers.staff.steps import ANSWER_LIMIT, REASON_LIMIT
from storage.uow import UnitOfWork
from storage.values import Apology, Chat, Dossier, Feedback, Role, StaffChat, Unit

if TYPE_CHECKING:
    from handlers.staff.slip import SlipData

log = logging.getLogger(__name__)

ROLES = ("staff", "leader", "admin")
STAFF_ROLES = ("staff", "admin")
LEADER_ROLES = ("leader", "admin")
UNRESOLVED = ("received", "supplement_requested")
ERROR_STATES = ("result_ready", "returned")  # an error apology: for a dossier resolved or returned
APOLOGY_KINDS = ("delay", "error")
ERROR_WORDS = ("saisot", "sai sot", "error", "loi")  # ``/xinloi <mã> saisot``: the error apology
REASONS = ("1", "2", "3", "4")
DATE_CHOICES = 5
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed by hand
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,49}$")
BUTTON_DATE = re.compile(r"[0-9]{8}")  # the date buttons' yyyymmdd
TYPED_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
STAFF_COMMANDS = {"xinloi": "apology", "apology": "apology", "hoso": "dossier", "dossier": "dossier"}
STAFF_COMMANDS |= {"phananh": "complaints", "complaints": "complaints"}
# a complaint's buttons, typed: ``/traloi <n> [nội dung]``, ``/dong <n>`` (n: the number after its "#")
STAFF_COMMANDS |= {"traloi": "answer", "reply": "answer", "dong": "close", "close": "close"}
YES = ("1", "xac nhan", "xac nhan gui", "gui", "dong y", "co", "yes", "ok", "send")
NO = ("2", "huy", "khong", "no", "cancel")


def invite_hash(code: str) -> str:
    """The stored form of an invite code (typed with or without the dash, in any case)."""
    normal = re.sub(r"[^A-Z0-9]", "", code.upper())
    return hashlib.sha256(normal.encode()).hexdigest()


def new_invite_code() -> str:
    """A fresh one-time code, ``XXXX-XXXX`` (about 40 bits)."""
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two officers' names are the same, accents, case and spacing aside."""
    return bool(a and b) and " ".join(fold(a or "").split()) == " ".join(fold(b or "").split())


def applicant_is_organisation(dossier: Dossier, name: str) -> bool:
    """Whether the slip addresses an organisation: as the sender said, or, when nobody said, by its name."""
    if dossier.applicant_kind is not None:
        return dossier.applicant_kind == "organisation"
    from handlers.staff.slip import looks_like_organisation  # the slip's module loads fpdf2: only slips need it

    return looks_like_organisation(name)


class ChatTurn(Protocol):
    """What the staff side needs of the chat turn it joins (see handlers.citizen.conversation)."""

    services: Services
    uow: UnitOfWork
    inbound: Inbound
    now: datetime
    chat: Chat | None
    locale: str
    replies: list[Reply]
    ack: str | None

    def say(self, key: str, **values: object) -> None:
        """Queue a reply from the wording catalog."""

    def t(self, key: str, **values: object) -> str:
        """Wording from the catalog."""


@dataclass(frozen=True)
class IssuedApology:
    """An apology just issued, and the channels the citizen was sent it on."""

    apology: Apology
    dossier: Dossier
    channels: tuple[str, ...]


async def units_below(uow: UnitOfWork, roles: list[Role], wanted: tuple[str, ...]) -> list[int]:
    """Every unit where one of ``roles`` of kind ``wanted`` applies (its unit and the units below)."""
    ids: set[int] = set()
    for role in roles:
        if role.role in wanted:
            ids.update(await uow.units.subtree_ids(role.unit_id))
    return sorted(ids)


async def units_above(uow: UnitOfWork, unit_id: int) -> list[int]:
    """``unit_id`` and the units above it (a role there covers this unit)."""
    chain = [unit_id]
    unit = await uow.units.get(unit_id)
    while unit.parent_id is not None and unit.parent_id not in chain:
        chain.append(unit.parent_id)
        unit = await uow.units.get(unit.parent_id)
    return chain


class Roles:
    """Invites and roles."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def invite(
        self, role: str, unit_code: str, officer_name: str | None = None, lead: bool = False, days: int = 7
    ) -> str:
        """A one-time code giving ``role`` in the unit; only its hash is kept."""
        if role not in ROLES:
            raise InvalidInput.worded("error.invite_role", roles=", ".join(ROLES))
        if lead and role != "staff":
            raise InvalidInput.worded("error.lead_staff_only")
        if not 1 <= days <= 90:
            raise InvalidInput.worded("error.invite_days")
        now = self.services.clock()
        code = new_invite_code()
        async with self.services.uow() as uow:
            unit = await uow.units.get_by_code(unit_code)
            if unit is None:
                raise NotFound.worded("error.no_unit", unit=unit_code)
            name = nfc(officer_name).strip() if officer_name else None
            actor = self.services.actor
            until = now + timedelta(days=days)
            await uow.invites.add(invite_hash(code), role, unit.id, name, lead, now, until, created_by=actor)
            await uow.audit.add(actor, "invite.create", f"unit:{unit.code}", {"role": role, "lead": lead}, now)
            await uow.commit()
        return code


class Apologies:
    """A dossier's apologies (docs/METHOD.md, the apology rule): checked, numbered, printed and sent.

    At most one for a delay (with the reason and a new date; in time when issued no later than the working
    day before the due date, else still issued but recorded ``in_time`` false) and, apart from it, at most
    one for an error in the dossier's handling (a resolved or returned dossier; no new date).
    """

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
        if kind not in APOLOGY_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(APOLOGY_KINDS)}")
        reason = nfc(reason).strip()
        if not reason:
            raise InvalidInput("reason is required")
        if len(reason) > REASON_LIMIT:
            raise InvalidInput(f"reason is longer than {REASON_LIMIT} characters")
        existing = await uow.dossiers.apology(dossier.id, kind)
        new_due_at: datetime | None = None
        in_time: bool | None = None
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
        else:
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
            new_due_at = datetime.combine(new_due_on, time(23, 59, 59), tzinfo=policy.timezone)  # by that day's end
            in_time = self.in_time(dossier, now)
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
            message = Reply(self.citizen_text(chat.locale, unit, dossier, apology, person.name))
            for part, reply in enumerate((message, self.slip_reply(chat.locale, apology))):
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


class StaffDesk:
    """The staff's and leaders' side of a chat turn."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.apologies = Apologies(services)

    async def takes(self, turn: ChatTurn) -> bool:
        """Handle the turn if it is the staff's (a staff command or button, a draft in progress)."""
        inbound = turn.inbound
        if inbound.kind == "choice":
            kind = inbound.value.partition(":")[0]
            if kind not in ("x", "f"):
                return False
            roles = await self._roles(turn)
            if not roles:
                turn.ack = turn.t("apology.stale")
                return True
            if kind == "x":
                await _ApologyFlow(self, turn, roles).on_button(inbound.value)
            else:
                await _Complaints(self, turn, roles).on_button(inbound.value)
            return True
        if inbound.kind != "text" or not inbound.text:
            return False
        if inbound.text.startswith("/"):
            name, _, args = inbound.text[1:].partition(" ")
            command = fold(name.split("@")[0])
            if command == "join":
                await self.join(turn, args.strip())
                return True
            if command in ("trogiup", "help"):
                roles = await self._roles(turn)
                if not roles:
                    return False
                staff, leader = (any(r.role in wanted for r in roles) for wanted in (STAFF_ROLES, LEADER_ROLES))
                turn.replies.append(Reply(steps.officer_help(turn, staff, leader)))
                return True
            action = STAFF_COMMANDS.get(command)
            if action is None:  # a draft in progress keeps every other command from the citizen side
                return await steps.other_command(turn, command, bool(await self._roles(turn)))
            roles = await self._roles(turn)
            if not any(r.role in STAFF_ROLES for r in roles):
                turn.say("role.refused")
                return True
            if turn.chat is not None:
                await turn.uow.drafts.drop(turn.chat.id)  # a new command abandons what was in progress
            if action == "apology":
                await _ApologyFlow(self, turn, roles).start_by_code(args.strip(), command)
            elif action == "dossier":
                await self.show_dossier(turn, roles, args.strip(), command)
            elif action in ("answer", "close"):
                await _Complaints(self, turn, roles).on_typed(action, args.strip())
            else:
                await _Complaints(self, turn, roles).list_open()
            return True
        if turn.chat is None:
            return False
        draft = await turn.uow.drafts.get(turn.chat.id)
        if draft is None:
            # a number typed by an officer with nothing open (a "1" read under a complaint, where buttons are
            # missing): what to type instead, rather than the citizens' answer
            if typed.stray_number(inbound.text, turn.chat) and await self._roles(turn):
                turn.say("staff.typed_number")
                return True
            return False
        if draft.kind == "complaint":
            return False  # a citizen's complaint step is the citizen side's
        roles = await self._roles(turn)
        if not roles:
            await turn.uow.drafts.drop(turn.chat.id)
            return False
        if steps.cancels(inbound.text):
            await steps.cancel(turn, draft)
            return True
        if draft.kind == "apology":
            await _ApologyFlow(self, turn, roles).on_text(draft.data, inbound.text)
        elif draft.kind == "reply":
            await _Complaints(self, turn, roles).on_answer(int(draft.data["feedback_id"]), inbound.text)
        return True

    async def _roles(self, turn: ChatTurn) -> list[Role]:
        return await turn.uow.roles.of_chat(turn.chat.id) if turn.chat is not None else []

    async def join(self, turn: ChatTurn, code: str) -> None:
        """``/join CODE``: the code's role for this chat."""
        if not code:
            turn.say("role.join_usage")
            return
        if limits.refuses(turn, "join"):
            return  # too many wrong codes from this chat: not even checked
        uow, now = turn.uow, turn.now
        if turn.chat is None:
            identity = turn.inbound.identity
            turn.chat = await uow.chats.add(identity.channel, identity.external_id, turn.locale, now)
        invite = await uow.invites.take(invite_hash(code), turn.chat.id, now)
        if invite is None:
            limits.failed(turn, "join")
            turn.say("role.join_invalid")
            return
        if turn.chat.consent_at is None or turn.chat.status != "active":
            await uow.chats.update(turn.chat.id, now, status="active", consent_at=now, pending=None)
        by = invite.created_by or f"chat:{turn.chat.id}"  # who made the code gave the role
        left = await leave_other_units(self.services, uow, turn.chat.id, invite, by, now)
        await uow.roles.grant(
            turn.chat.id, invite.unit_id, invite.role, invite.officer_name, invite.lead, now, granted_by=by
        )
        unit = await uow.units.get(invite.unit_id)
        await uow.audit.add(
            by,
            "role.grant",
            f"unit:{unit.code}",
            {
                "role": invite.role,
                "officer": invite.officer_name,
                "lead": invite.lead,
                "invite": invite.id,
                "chat": f"chat:{turn.chat.id}",
            },
            now,
            unit_id=unit.id,
        )
        turn.say("role.joined", role=turn.t(f"role.{invite.role}"), unit=unit.name)
        for line in left:
            turn.say("roles.moved", role=turn.t(f"role.{line.role}"), unit=line.unit_name)

    async def dossier_in_reach(self, turn: ChatTurn, roles: list[Role], code: str) -> Dossier | None:
        """The dossier ``code`` when it belongs to one of the units the staff member works for."""
        dossier = await turn.uow.dossiers.get_by_code(nfc(code).strip()) if CODE_RE.fullmatch(code) else None
        if dossier is None or dossier.unit_id not in await units_below(turn.uow, roles, STAFF_ROLES):
            limits.failed(turn, "lookup")  # a code typed wrong, or probed: counted against the chat
            return None
        return dossier

    async def show_dossier(self, turn: ChatTurn, roles: list[Role], code: str, command: str) -> None:
        """``/hoso CODE``: where the dossier stands (the applicant's name masked)."""
        if not code:
            turn.say("dossier.usage", command=command)
            return
        if limits.refuses(turn, "lookup"):
            return
        dossier = await self.dossier_in_reach(turn, roles, code)
        if dossier is None:
            turn.say("dossier.not_found", code=code)
            return
        turn.replies.append(Reply(await self.summary(turn, dossier), heading=True))

    async def summary(self, turn: ChatTurn, dossier: Dossier) -> str:
        """A dossier as staff see it."""
        uow, show = turn.uow, self.services.policy.show_date
        applicant = await uow.people.get(dossier.applicant_id) if dossier.applicant_id else None
        apology = await uow.dossiers.apology(dossier.id)
        apology_line = (
            turn.t(
                "dossier.apology",
                number=apology.number,
                new_due=show(apology.new_due_at) if apology.new_due_at else "—",
                reason=apology.reason,
            )
            if apology
            else turn.t("dossier.no_apology")
        )
        if apology is not None and apology.in_time is False:
            apology_line += " " + turn.t("dossier.apology_late")
        if apology is not None and apology.issued_key:
            by_key = turn.t("dossier.apology_by_key", officer=apology.issued_by, api_key=apology.issued_key)
            apology_line += " " + by_key
        elif apology is not None:
            apology_line += " " + turn.t("dossier.apology_by", officer=apology.issued_by)
        error = await uow.dossiers.apology(dossier.id, "error")
        if error is not None:
            apology_line += "\n" + turn.t("dossier.error_apology", number=error.number, reason=error.reason)
        return turn.t(
            "dossier.summary",
            code=dossier.code,
            procedure=dossier.procedure_name,
            field=dossier.field,
            applicant=_who(applicant),
            received=show(dossier.received_at),
            due=show(dossier.due_at),
            state=turn.t(f"state.{dossier.state}"),
            handler=dossier.handler or "—",
            apology=apology_line,
        )


def _who(person: Any) -> str:
    """A citizen as staff see them: initials and the last digits of the phone."""
    if person is None or person.erased_at is not None:
        return "—"
    parts = [mask_name(person.name), mask_phone(person.phone)]
    return " · ".join(p for p in parts if p) or "—"


class _ApologyFlow:
    """Reason, new date, preview, confirm — each step a button or typed text, the draft kept in the database.

    A delay apology asks the reason, then the new date; an error apology (``kind`` "error" in the draft)
    asks only its reason, from a list of its own. The preview tells staff when a delay apology is late.
    """

    def __init__(self, desk: StaffDesk, turn: ChatTurn, roles: list[Role]) -> None:
        self.desk, self.turn, self.roles = desk, turn, roles
        self.apologies = desk.apologies

    @property
    def chat(self) -> Chat:
        assert self.turn.chat is not None
        return self.turn.chat

    async def start_by_code(self, args: str, command: str) -> None:
        code, _, rest = args.partition(" ")
        if not code:
            self.turn.say("dossier.usage", command=command)
            return
        if limits.refuses(self.turn, "lookup"):
            return
        dossier = await self.desk.dossier_in_reach(self.turn, self.roles, code)
        if dossier is None:
            self.turn.say("dossier.not_found", code=code)
            return
        await self.start(dossier, "error" if fold(rest).strip() in ERROR_WORDS else "delay")

    async def start(self, dossier: Dossier, kind: str = "delay") -> None:
        turn = self.turn
        refusal = self.apologies.refusal(dossier, await turn.uow.dossiers.apology(dossier.id, kind), kind)
        if refusal is not None:
            key, values = refusal
            if "state" in values:
                values["state"] = turn.t(str(values["state"]))
            if kind == "delay" and dossier.state in ERROR_STATES:
                # resolved: no delay apology, but one for an error in its handling may be started here
                offer = await turn.uow.dossiers.apology(dossier.id, "error") is None
                typed_as = turn.t("apology.error.typed", code=dossier.code)
                offered = (Option(f"x:{dossier.id}:e", turn.t("apology.error.button"), 1, typed_as),) if offer else ()
                text = turn.t(key, **values) + (
                    "\n" + turn.t("apology.error.offer", code=dossier.code) if offer else ""
                )
                turn.replies.append(Reply(text, options=offered))
                return
            turn.say(key, **values)
            return
        data = {"dossier_id": dossier.id, "step": "reason", "kind": kind}
        await turn.uow.drafts.put(self.chat.id, "apology", data, turn.now)
        prefix = _prefix(kind)
        options = steps.reason_options(turn, dossier.id, prefix, REASONS)
        text = turn.t(
            f"{prefix}reason_prompt",
            code=dossier.code,
            procedure=dossier.procedure_name,
            due=self.desk.services.policy.show_date(dossier.due_at),
        )
        turn.replies.append(Reply(text, options=options, hint=turn.t("apology.reason_hint")))

    async def _dossier(self, dossier_id: int) -> Dossier | None:
        try:
            dossier = await self.turn.uow.dossiers.get(dossier_id)
        except LookupError:
            return None
        allowed = await units_below(self.turn.uow, self.roles, STAFF_ROLES)
        return dossier if dossier.unit_id in allowed else None

    async def on_button(self, value: str) -> None:
        turn = self.turn
        parts = value.split(":")
        dossier_id = row_id(parts[1]) if len(parts) >= 3 else None
        dossier = await self._dossier(dossier_id) if dossier_id is not None else None
        if dossier is None:
            turn.ack = turn.t("apology.stale")
            return
        action = parts[2]
        if action in ("s", "e"):  # the warning's button, the offer of an error apology: start over
            await self.start(dossier, "error" if action == "e" else "delay")
            return
        draft = await turn.uow.drafts.get(self.chat.id)
        data = draft.data if draft is not None and draft.kind == "apology" else None
        if data is None or data.get("dossier_id") != dossier.id:
            turn.ack = turn.t("apology.stale")
            return
        if action == "r" and len(parts) == 4 and data["step"] in ("reason", "reason_text"):
            if parts[3] == "other":
                await self._save({**data, "step": "reason_text"})
                turn.say(f"{_prefix(_kind(data))}reason_text")
            elif parts[3] in REASONS:
                await self.take_reason(dossier, data, turn.t(f"{_prefix(_kind(data))}reason.{parts[3]}"))
            else:
                turn.ack = turn.t("apology.stale")
        elif action == "d" and len(parts) == 4 and data["step"] == "date":
            try:
                if not BUTTON_DATE.fullmatch(parts[3]):  # strptime takes fewer digits, and digits of any script
                    raise ValueError(parts[3])
                day = datetime.strptime(parts[3], "%Y%m%d").date()
            except ValueError:
                turn.ack = turn.t("apology.stale")
                return
            await self.take_date(dossier, data, day)
        elif action in ("ok", "no") and data["step"] == "confirm":
            await self.finish(dossier, data, action == "ok")
        else:
            turn.ack = turn.t("apology.stale")

    async def on_text(self, data: dict[str, Any], text: str) -> None:
        turn = self.turn
        dossier = await self._dossier(int(data["dossier_id"]))
        if dossier is None:
            await turn.uow.drafts.drop(self.chat.id)
            turn.say("apology.stale")
            return
        step, folded = data["step"], fold(text)
        prefix = _prefix(_kind(data))
        if step in ("reason", "reason_text"):
            if step == "reason" and folded in REASONS:
                await self.take_reason(dossier, data, turn.t(f"{prefix}reason.{folded}"))
            elif step == "reason" and folded == str(len(REASONS) + 1):
                await self._save({**data, "step": "reason_text"})
                turn.say(f"{prefix}reason_text")
            elif len(text) > REASON_LIMIT:
                turn.say("apology.reason_long", max=REASON_LIMIT)
            elif not steps.has_words(text):  # "9", "0", "ok": not a reason, and not an option offered
                expected = steps.expectation(turn, "apology", step)
                if step == "reason":
                    expected = Reply(expected.text, options=steps.reason_options(turn, dossier.id, prefix, REASONS))
                turn.replies.append(expected)
            else:
                await self.take_reason(dossier, data, text)
        elif step == "date":
            offered = self.apologies.offered_dates(dossier, turn.now)
            if re.fullmatch(r"[0-9]{1,3}", folded):
                if 1 <= int(folded) <= len(offered):
                    await self.take_date(dossier, data, offered[int(folded) - 1])
                else:  # a number, but not one of the dates offered
                    turn.replies.append(steps.expectation(turn, "apology", step, count=len(offered)))
                    await self.ask_date(dossier, data)
                return
            match = TYPED_DATE.fullmatch(text.strip())
            try:
                day = date(int(match[3]), int(match[2]), int(match[1])) if match else None
            except ValueError:
                day = None
            if day is None:
                turn.say("apology.date_unreadable")
                await self.ask_date(dossier, data)
                return
            await self.take_date(dossier, data, day)
        elif step == "confirm":
            if folded in YES:
                await self.finish(dossier, data, True)
            elif folded in NO:
                await self.finish(dossier, data, False)
            else:
                turn.replies.append(steps.expectation(turn, "apology", step, subject={"dossier_id": dossier.id}))

    async def _save(self, data: dict[str, Any]) -> None:
        await self.turn.uow.drafts.put(self.chat.id, "apology", data, self.turn.now)

    async def take_reason(self, dossier: Dossier, data: dict[str, Any], reason: str) -> None:
        """The reason given: a delay apology goes on to its new date, an error apology to its preview."""
        data = {**data, "reason": reason}
        if _kind(data) == "error":
            data["step"] = "confirm"
            await self._save(data)
            await self.preview(dossier, data)
        else:
            await self.ask_date(dossier, data)

    async def ask_date(self, dossier: Dossier, data: dict[str, Any]) -> None:
        turn = self.turn
        await self._save({**data, "step": "date"})
        offered = self.apologies.offered_dates(dossier, turn.now)
        options = tuple(
            Option(f"x:{dossier.id}:d:{day:%Y%m%d}", _weekday_date(day, turn.locale), number)
            for number, day in enumerate(offered, start=1)
        )
        text = turn.t("apology.date_prompt", reason=data["reason"])
        turn.replies.append(Reply(text, options=options, hint=turn.t("apology.date_hint")))

    async def take_date(self, dossier: Dossier, data: dict[str, Any], day: date) -> None:
        turn = self.turn
        if not self.apologies.valid_new_date(dossier, day, turn.now):
            turn.say(
                "apology.date_invalid", date=f"{day:%d/%m/%Y}", due=self.desk.services.policy.show_date(dossier.due_at)
            )
            await self.ask_date(dossier, data)
            return
        data = {**data, "new_due": day.isoformat(), "step": "confirm"}
        await self._save(data)
        await self.preview(dossier, data)

    async def preview(self, dossier: Dossier, data: dict[str, Any]) -> None:
        turn, uow = self.turn, self.turn.uow
        policy = self.desk.services.policy
        unit = await issuing_unit(uow, await uow.units.get(dossier.unit_id))  # the slip's and the message's
        person = await uow.people.get(dossier.respondent_id) if dossier.respondent_id is not None else None
        kind = _kind(data)
        new_due = (
            datetime.combine(date.fromisoformat(data["new_due"]), datetime.min.time(), tzinfo=policy.timezone)
            if kind == "delay"
            else None
        )
        draft = Apology(0, dossier.id, "…/PXL", str(data["reason"]), new_due, "", turn.now, None, kind)
        # the officer issuing it is authorised to see what the citizen and the slip will read, names in full
        name = person.name if person is not None and person.erased_at is None else None
        message = self.apologies.citizen_text(turn.locale, unit, dossier, draft, name)
        on_slip = await steps.slip_name(uow, self.apologies, unit, dossier, draft, person)
        options = (
            Option(f"x:{dossier.id}:ok", turn.t("apology.confirm"), 1),
            Option(f"x:{dossier.id}:no", turn.t("apology.cancel"), 2),
        )
        text = turn.t(f"{_prefix(kind)}preview", message=message)
        if on_slip:
            text += "\n\n" + turn.t("apology.slip_name", name=on_slip)
        if kind == "delay" and not self.apologies.in_time(dossier, turn.now):
            # still issued (the citizen deserves it), but staff know before they confirm that it is late
            last_day = self.apologies.last_permitted_day(dossier)
            warning = turn.t(
                "apology.late_warning", last_day=f"{last_day:%d/%m/%Y}", due=policy.show_date(dossier.due_at)
            )
            text = f"{warning}\n\n{text}"
        turn.replies.append(Reply(text, options=options, hint=turn.t("apology.confirm_hint")))

    async def finish(self, dossier: Dossier, data: dict[str, Any], confirmed: bool) -> None:
        turn, uow = self.turn, self.turn.uow
        await uow.drafts.drop(self.chat.id)
        if not confirmed:
            turn.say("apology.cancelled")
            return
        kind = _kind(data)
        refusal = self.apologies.refusal(dossier, await uow.dossiers.apology(dossier.id, kind), kind)
        if refusal is not None:
            key, values = refusal
            if "state" in values:
                values["state"] = turn.t(str(values["state"]))
            turn.say(key, **values)
            return
        day = date.fromisoformat(data["new_due"]) if kind == "delay" else None
        if day is not None and not self.apologies.valid_new_date(dossier, day, turn.now):  # a draft left overnight
            turn.say(
                "apology.date_invalid", date=f"{day:%d/%m/%Y}", due=self.desk.services.policy.show_date(dossier.due_at)
            )
            await self.ask_date(dossier, data)
            return
        issuer = next((r.officer_name for r in self.roles if r.officer_name), None) or f"chat:{self.chat.id}"
        issued = await self.apologies.issue(
            uow, dossier, str(data["reason"]), day, issuer, turn.now, kind, actor=f"chat:{self.chat.id}"
        )
        apology = issued.apology
        delivery = (
            turn.t("apology.delivered_to", channels=", ".join(channel_name(c, turn.locale) for c in issued.channels))
            if issued.channels
            else turn.t("apology.not_delivered")
        )
        text = turn.t(
            f"{_prefix(kind)}issued",
            number=apology.number,
            code=dossier.code,
            new_due=self.desk.services.policy.show_date(apology.new_due_at) if apology.new_due_at else "",
            delivery=delivery,
        )
        if apology.in_time is False:
            text += "\n" + turn.t("apology.issued_late")
        turn.replies += [Reply(text), self.apologies.slip_reply(turn.locale, apology)]


def _kind(data: dict[str, Any]) -> str:
    """The kind of apology a draft is for (drafts from before error apologies are for a delay)."""
    return "error" if data.get("kind") == "error" else "delay"


def _prefix(kind: str) -> str:
    """Where the wording of a step lives: ``apology.`` for a delay, ``apology.error.`` for an error."""
    return "apology.error." if kind == "error" else "apology."


_WEEKDAYS = {
    "vi": ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def _weekday_date(day: date, locale: str) -> str:
    names = _WEEKDAYS.get(locale, _WEEKDAYS["vi"])
    return f"{names[day.weekday()]} {day:%d/%m/%Y}"


class _Complaints:
    """Answering and closing feedback from the chat."""

    def __init__(self, desk: StaffDesk, turn: ChatTurn, roles: list[Role]) -> None:
        self.desk, self.turn, self.roles = desk, turn, roles

    async def _feedback(self, feedback_id: int) -> Feedback | None:
        feedback = await self.turn.uow.feedback.get(feedback_id)
        if feedback is None or feedback.unit_id not in await units_below(self.turn.uow, self.roles, STAFF_ROLES):
            return None
        return feedback

    async def list_open(self) -> None:
        turn = self.turn
        units = await units_below(turn.uow, self.roles, STAFF_ROLES)
        open_ = await turn.uow.feedback.open_for(units, 10)
        if not open_:
            turn.say("feedback.none")
            return
        turn.replies.append(Reply(turn.t("feedback.list", count=len(open_)), hint=turn.t("feedback.list_hint")))
        for feedback in open_:
            turn.replies.append(await self.card(feedback))

    async def card(self, feedback: Feedback) -> Reply:
        turn = self.turn
        dossier = await turn.uow.dossiers.get(feedback.dossier_id) if feedback.dossier_id else None
        text = turn.t(
            "feedback.item",
            id=feedback.id,
            created=self.desk.services.policy.show(feedback.created_at),
            status=turn.t(f"feedback.status.{feedback.status}"),
            code=dossier.code if dossier else turn.t("feedback.no_dossier"),
            text=redact(feedback.text),
        )
        return Reply(text, options=feedback_buttons(turn.t, feedback.id))

    async def on_button(self, value: str) -> None:
        turn = self.turn
        parts = value.split(":")
        feedback_id = row_id(parts[1]) if len(parts) == 3 else None
        feedback = await self._feedback(feedback_id) if feedback_id is not None else None
        if feedback is None or feedback.status == "closed":
            turn.ack = turn.t("feedback.stale")
            return
        if parts[2] == "r":
            await self.ask_answer(feedback)
        elif parts[2] == "c":
            await self.close(feedback)
        else:
            turn.ack = turn.t("feedback.stale")

    async def on_typed(self, action: str, args: str) -> None:
        """``/traloi <n> [nội dung]``, ``/dong <n>``: what the buttons of complaint #n do, typed.

        The number is the complaint's own (the one after its "#"), so it is the same in the list, in the
        notice of a new complaint and in any later message; another unit's is not found, as a wrong one is.
        """
        turn = self.turn
        number, _, text = args.partition(" ")
        feedback_id = row_id(number.removeprefix("#"))
        if feedback_id is None:
            turn.say("feedback.usage.reply" if action == "answer" else "feedback.usage.close")
            return
        if limits.refuses(turn, "lookup"):
            return
        feedback = await self._feedback(feedback_id)
        if feedback is None:
            limits.failed(turn, "lookup")  # a number typed wrong, or probed: counted against the chat
            turn.say("feedback.not_found", id=feedback_id)
            return
        if feedback.status == "closed":
            turn.say("feedback.stale")
        elif action == "close":
            await self.close(feedback)
        elif text.strip():
            await self.on_answer(feedback.id, text.strip())
        else:
            await self.ask_answer(feedback)

    async def ask_answer(self, feedback: Feedback) -> None:
        """The answer's text comes next: the draft says which complaint it is for."""
        turn = self.turn
        assert turn.chat is not None
        await turn.uow.drafts.put(turn.chat.id, "reply", {"feedback_id": feedback.id}, turn.now)
        turn.say("feedback.reply_prompt", id=feedback.id)

    async def close(self, feedback: Feedback) -> None:
        turn = self.turn
        assert turn.chat is not None
        await turn.uow.feedback.close(feedback.id, turn.now)
        await turn.uow.audit.add(f"chat:{turn.chat.id}", "feedback.close", f"feedback:{feedback.id}", None, turn.now)
        turn.say("feedback.closed", id=feedback.id)

    async def on_answer(self, feedback_id: int, text: str) -> None:
        turn, uow = self.turn, self.turn.uow
        assert turn.chat is not None
        await uow.drafts.drop(turn.chat.id)
        feedback = await self._feedback(feedback_id)
        if feedback is None or feedback.status == "closed":
            turn.say("feedback.stale")
            return
        if len(text) > ANSWER_LIMIT or not steps.has_words(text):  # the draft is kept: the step is asked again
            await uow.drafts.put(turn.chat.id, "reply", {"feedback_id": feedback.id}, turn.now)
            if len(text) > ANSWER_LIMIT:
                turn.say("feedback.answer_long", max=ANSWER_LIMIT)
            turn.replies.append(steps.expectation(turn, "reply", "reply", subject={"id": feedback.id}))
            return
        answer = text
        by = next((r.officer_name for r in self.roles if r.officer_name), None) or f"chat:{turn.chat.id}"
        await uow.feedback.answer(feedback.id, answer, by, turn.now)
        await uow.audit.add(f"chat:{turn.chat.id}", "feedback.answer", f"feedback:{feedback.id}", {"by": by}, turn.now)
        unit = await uow.units.get(feedback.unit_id)
        reached = 0
        if feedback.person_id is not None:
            for chat in await uow.chats.for_person(feedback.person_id):
                if chat.status not in ("active", "window_closed") or chat.consent_at is None:
                    continue
                message = self.desk.services.texts(
                    chat.locale, "feedback.answer_citizen", unit=unit.name, answer=answer
                )
                # the answer to the citizen's own complaint: before any bulk (docs/CHANNELS.md)
                await uow.outbox.to_chat(chat, Reply(message).to_payload(), turn.now, interactive=True)
                reached += 1
        turn.say("feedback.answered" if reached else "feedback.unreachable", id=feedback.id)


def feedback_buttons(t: Any, feedback_id: int) -> tuple[Option, ...]:
    """The buttons under a complaint: answer it, close it (typed, where there are no buttons: with its number)."""
    return (
        Option(f"f:{feedback_id}:r", t("feedback.reply"), 1, t("feedback.typed.reply", id=feedback_id)),
        Option(f"f:{feedback_id}:c", t("feedback.close"), 2, t("feedback.typed.close", id=feedback_id)),
    )


async def staff_to_tell(uow: UnitOfWork, dossier: Dossier | None, unit_id: int) -> list[StaffChat]:
    """Whom to tell about a dossier: its handling officer and the one-stop-shop leads, else the unit's staff."""
    units = await units_above(uow, unit_id)
    staff = await uow.roles.chats(units, STAFF_ROLES)
    chosen = [
        s
        for s in staff
        if s.role.lead
        or (dossier is not None and s.role.unit_id == unit_id and same_person(s.role.officer_name, dossier.handler))
    ]
    if not chosen:
        chosen = [s for s in staff if s.role.unit_id == unit_id] or staff
    unique: dict[int, StaffChat] = {}
    for s in chosen:
        unique.setdefault(s.chat.id, s)
    return list(unique.values())


class Feedbacks:
    """Feedback for a unit, recorded from a citizen's chat or rating, and its officers told at once."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def record(
        self,
        uow: UnitOfWork,
        *,
        source: str,
        text: str,
        person_id: int | None,
        dossier: Dossier | None,
        unit_id: int,
        invitation_id: int | None,
        now: datetime,
    ) -> Feedback:
        """Keep the feedback and queue its notice to the staff who must answer it."""
        feedback = await uow.feedback.add(
            now,
            unit_id=unit_id,
            dossier_id=dossier.id if dossier else None,
            invitation_id=invitation_id,
            person_id=person_id,
            source=source,
            text=nfc(text)[:ANSWER_LIMIT],
        )
        unit = await uow.units.get(unit_id)
        person = await uow.people.get(person_id) if person_id is not None else None
        known = [person.name] if person is not None and person.name else []
        for staff in await staff_to_tell(uow, dossier, unit_id):
            t = _texts_for(self.services, staff.chat.locale)
            message = t(
                "feedback.notify",
                id=feedback.id,
                unit=unit.name,
                code=dossier.code if dossier else t("feedback.no_dossier"),
                who=_who(person),
                text=redact(feedback.text, names=known),
            )
            reply = Reply(message, options=feedback_buttons(t, feedback.id))
            await uow.outbox.to_chat(
                staff.chat, reply.to_payload(), now, dedupe_key=f"feedback:{feedback.id}:{staff.chat.id}"
            )
        return feedback


def _working_days_between(calendar: Any, first: date, last: date) -> int:
    """The working days from ``first`` to ``last``, both included (0 when ``last`` is before ``first``)."""
    if last < first:
        return 0
    count = int(calendar.is_working_day(first))
    for day in calendar.working_days_after(first):
        if day > last:
            break
        count += 1
    return count


def _texts_for(services: Services, locale: str) -> Any:
    return lambda key, **values: services.texts(locale, key, **values)


class Alerts:
    """The jobs that warn people in time: dossiers at risk of running late, promised dates missed."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def scan_at_risk(self, now: datetime | None = None) -> int:
        """Warn about unresolved dossiers that may run late, twice each at most; how many warnings went.

        The last permitted day of a dossier is the working day before its due date (an apology after it is
        not in time). The first warning (``at_risk``) goes when ``policy.apology_warn_working_days`` working
        days or fewer are left to apologise in time, counting today and the last permitted day; the second
        (``at_risk_last``) on the last permitted day itself — or at once when that day has passed. The first
        goes on a working day only. Each is claimed per dossier, so whichever run (or instance) finds it first
        sends it, once.
        """
        services = self.services
        now = now or services.clock()
        policy, calendar = services.policy, services.calendar
        apologies = Apologies(services)
        today = policy.local_date(now)
        warn_days = max(1, policy.apology_warn_working_days)
        # a last permitted day at most ``warn_days`` working days ahead means a due date no later than the
        # working day after it: due before the day after the (warn_days + 1)-th working day from today
        ahead = list(islice(calendar.working_days_after(today), warn_days + 1))
        due_before = policy.day_start(ahead[-1] + timedelta(days=1))
        warned = 0
        async with services.uow() as uow:
            for dossier_id in await uow.alerts.at_risk(due_before, 500, kinds=("at_risk_last",)):
                dossier = await uow.dossiers.get(dossier_id)
                last_day = apologies.last_permitted_day(dossier)
                left = _working_days_between(calendar, today, last_day)
                if today >= last_day:
                    # the last day (or later): the first warning is not sent any more once this one is
                    if not await uow.alerts.claim(dossier_id, "at_risk_last", now):
                        continue
                    await uow.alerts.claim(dossier_id, "at_risk", now)
                    key = (
                        "risk.overdue"
                        if dossier.due_at < now
                        else "risk.last_day"
                        if today == last_day
                        else "risk.late"
                    )
                    stage = "last"
                elif left <= warn_days and calendar.is_working_day(today):  # read when there is time to act
                    if not await uow.alerts.claim(dossier_id, "at_risk", now):
                        continue
                    key, stage = "risk.warning", "first"
                else:
                    continue
                applicant = await uow.people.get(dossier.applicant_id) if dossier.applicant_id else None
                for staff in await staff_to_tell(uow, dossier, dossier.unit_id):
                    t = _texts_for(services, staff.chat.locale)
                    text = t(
                        key,
                        code=dossier.code,
                        procedure=dossier.procedure_name,
                        applicant=_who(applicant),
                        due=policy.show_date(dossier.due_at),
                        handler=dossier.handler or "—",
                        last_day=f"{last_day:%d/%m/%Y}",
                        left=left,
                    )
                    start = Option(f"x:{dossier.id}:s", t("risk.button"), 1, t("risk.typed", code=dossier.code))
                    reply = Reply(text, options=(start,), heading=True)
                    await uow.outbox.to_chat(
                        staff.chat,
                        reply.to_payload(),
                        now,
                        dedupe_key=f"risk:{stage}:{dossier.id}:{staff.chat.id}",
                    )
                warned += 1
            await uow.commit()
        if warned:
            log.info("at-risk scan: %d warning(s) about dossiers at risk", warned)
        return warned

    async def scan_promises(self, now: datetime | None = None) -> int:
        """Tell the unit's leaders at once about every promised new date that passed; how many."""
        services = self.services
        now = now or services.clock()
        told = 0
        async with services.uow() as uow:
            for dossier_id in await uow.alerts.promises_missed(now, 500):
                if not await uow.alerts.claim(dossier_id, "promise_missed", now):
                    continue
                dossier = await uow.dossiers.get(dossier_id)
                apology = await uow.dossiers.apology(dossier.id)
                assert apology is not None
                assert apology.new_due_at is not None
                leaders = await uow.roles.chats(await units_above(uow, dossier.unit_id), LEADER_ROLES)
                for leader in {s.chat.id: s for s in leaders}.values():
                    t = _texts_for(services, leader.chat.locale)
                    text = t(
                        "promise.missed",
                        code=dossier.code,
                        procedure=dossier.procedure_name,
                        new_due=services.policy.show_date(apology.new_due_at),
                        number=apology.number,
                        handler=dossier.handler or "—",
                    )
                    await uow.outbox.to_chat(
                        leader.chat, Reply(text).to_payload(), now, dedupe_key=f"promise:{dossier.id}:{leader.chat.id}"
                    )
                told += 1
            await uow.commit()
        return told
