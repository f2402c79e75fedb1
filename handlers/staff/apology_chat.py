"""An apology made in a chat: reason, new date, preview, confirm — each step a button or typed text.

A delay apology asks the reason, then the new date; an error apology (``kind`` "error" in the draft) asks only
its reason, from a list of its own. The preview tells staff when a delay apology is late. The draft lives in the
``drafts`` table, so a half-made apology survives a restart and any web worker can go on with it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from handlers import limits
from handlers.admin.issuers import issuing_unit
from handlers.chat.turn import ChatTurn
from handlers.messages import Option, Reply
from handlers.names import channel_name
from handlers.staff import steps
from handlers.staff.apologies import Apologies
from handlers.staff.apology_rule import ERROR_STATES
from handlers.staff.buttons import REASONS, ApologyButton
from handlers.staff.officers import STAFF_ROLES, dossier_in_reach, units_below
from handlers.staff.steps import REASON_LIMIT
from handlers.words import fold
from storage.values import Apology, Chat, Dossier, Role

ERROR_WORDS = ("saisot", "sai sot", "error", "loi")  # ``/xinloi <mã> saisot``: the error apology
TYPED_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
YES = ("1", "xac nhan", "xac nhan gui", "gui", "dong y", "co", "yes", "ok", "send")
NO = ("2", "huy", "khong", "no", "cancel")


class ApologySteps:
    """The steps of an apology's draft, each asked, checked and kept; the last one issues it."""

    def __init__(self, apologies: Apologies, turn: ChatTurn, roles: list[Role]) -> None:
        self.turn, self.roles = turn, roles
        self.services = apologies.services
        self.apologies, self.rule, self.papers = apologies, apologies.rule, apologies.papers

    @property
    def chat(self) -> Chat:
        """The officer's chat (a staff turn always has one)."""
        assert self.turn.chat is not None
        return self.turn.chat

    async def start(self, dossier: Dossier, kind: str = "delay") -> None:
        """Open the draft of an apology of ``kind`` and ask its reason; or say why the dossier may not have one."""
        turn = self.turn
        refusal = self.rule.refusal(dossier, await turn.uow.dossiers.apology(dossier.id, kind), kind)
        if refusal is not None:
            key, values = refusal
            if "state" in values:
                values["state"] = turn.t(str(values["state"]))
            if kind == "delay" and dossier.state in ERROR_STATES:
                # resolved: no delay apology, but one for an error in its handling may be started here
                offer = await turn.uow.dossiers.apology(dossier.id, "error") is None
                typed_as = turn.t("apology.error.typed", code=dossier.code)
                button = ApologyButton(dossier.id, "e").encode()
                offered = (Option(button, turn.t("apology.error.button"), 1, typed_as),) if offer else ()
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
            due=self.services.policy.show_date(dossier.due_at),
        )
        turn.replies.append(Reply(text, options=options, hint=turn.t("apology.reason_hint")))

    async def _dossier(self, dossier_id: int) -> Dossier | None:
        try:
            dossier = await self.turn.uow.dossiers.get(dossier_id)
        except LookupError:
            return None
        allowed = await units_below(self.turn.uow, self.roles, STAFF_ROLES)
        return dossier if dossier.unit_id in allowed else None

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
        """Ask the new appointment date, the next working days offered as buttons."""
        turn = self.turn
        await self._save({**data, "step": "date"})
        offered = self.rule.offered_dates(dossier, turn.now)
        options = tuple(
            Option(ApologyButton.new_date(dossier.id, day).encode(), _weekday_date(turn, day), number)
            for number, day in enumerate(offered, start=1)
        )
        text = turn.t("apology.date_prompt", reason=data["reason"])
        turn.replies.append(Reply(text, options=options, hint=turn.t("apology.date_hint")))

    async def take_date(self, dossier: Dossier, data: dict[str, Any], day: date) -> None:
        """The new date given: the preview if the rule allows it, else the date asked again."""
        turn = self.turn
        if not self.rule.valid_new_date(dossier, day, turn.now):
            turn.say("apology.date_invalid", date=f"{day:%d/%m/%Y}", due=self.services.policy.show_date(dossier.due_at))
            await self.ask_date(dossier, data)
            return
        data = {**data, "new_due": day.isoformat(), "step": "confirm"}
        await self._save(data)
        await self.preview(dossier, data)

    async def preview(self, dossier: Dossier, data: dict[str, Any]) -> None:
        """What the citizen and the slip will read, to confirm or cancel (a late apology said so first)."""
        turn, uow = self.turn, self.turn.uow
        policy = self.services.policy
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
        message = self.papers.citizen_text(turn.locale, unit, dossier, draft, name)
        on_slip = await steps.slip_name(uow, self.papers, unit, dossier, draft, person)
        options = (
            Option(ApologyButton(dossier.id, "ok").encode(), turn.t("apology.confirm"), 1),
            Option(ApologyButton(dossier.id, "no").encode(), turn.t("apology.cancel"), 2),
        )
        text = turn.t(f"{_prefix(kind)}preview", message=message)
        if on_slip:
            text += "\n\n" + turn.t("apology.slip_name", name=on_slip)
        if kind == "delay" and not self.rule.in_time(dossier, turn.now):
            # still issued (the citizen deserves it), but staff know before they confirm that it is late
            last_day = self.rule.last_permitted_day(dossier)
            warning = turn.t(
                "apology.late_warning", last_day=f"{last_day:%d/%m/%Y}", due=policy.show_date(dossier.due_at)
            )
            text = f"{warning}\n\n{text}"
        turn.replies.append(Reply(text, options=options, hint=turn.t("apology.confirm_hint")))

    async def finish(self, dossier: Dossier, data: dict[str, Any], confirmed: bool) -> None:
        """Issue the apology when confirmed (the rule checked again: a draft may have waited), or drop it."""
        turn, uow = self.turn, self.turn.uow
        await uow.drafts.drop(self.chat.id)
        if not confirmed:
            turn.say("apology.cancelled")
            return
        kind = _kind(data)
        refusal = self.rule.refusal(dossier, await uow.dossiers.apology(dossier.id, kind), kind)
        if refusal is not None:
            key, values = refusal
            if "state" in values:
                values["state"] = turn.t(str(values["state"]))
            turn.say(key, **values)
            return
        day = date.fromisoformat(data["new_due"]) if kind == "delay" else None
        if day is not None and not self.rule.valid_new_date(dossier, day, turn.now):  # a draft left overnight
            turn.say("apology.date_invalid", date=f"{day:%d/%m/%Y}", due=self.services.policy.show_date(dossier.due_at))
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
            new_due=self.services.policy.show_date(apology.new_due_at) if apology.new_due_at else "",
            delivery=delivery,
        )
        if apology.in_time is False:
            text += "\n" + turn.t("apology.issued_late")
        turn.replies += [Reply(text), self.papers.slip_reply(turn.locale, apology)]


class ApologyFlow(ApologySteps):
    """What an officer sends while making an apology: ``/xinloi CODE``, a button of the flow, typed text."""

    async def start_by_code(self, args: str, command: str) -> None:
        """``/xinloi CODE [saisot]``: the apology of a dossier in the officer's units (an error one with ``saisot``)."""
        code, _, rest = args.partition(" ")
        if not code:
            self.turn.say("dossier.usage", command=command)
            return
        if limits.refuses(self.turn, "lookup"):
            return
        dossier = await dossier_in_reach(self.turn, self.roles, code)
        if dossier is None:
            self.turn.say("dossier.not_found", code=code)
            return
        await self.start(dossier, "error" if fold(rest).strip() in ERROR_WORDS else "delay")

    async def on_button(self, button: ApologyButton | None) -> None:
        """A button of the flow (None: data no apology button carries now)."""
        turn = self.turn
        dossier = await self._dossier(button.dossier) if button is not None else None
        if button is None or dossier is None:
            turn.ack = turn.t("apology.stale")
            return
        if button.step in ("s", "e"):  # the warning's button, the offer of an error apology: start over
            await self.start(dossier, "error" if button.step == "e" else "delay")
            return
        draft = await turn.uow.drafts.get(self.chat.id)
        data = draft.data if draft is not None and draft.kind == "apology" else None
        if data is None or data.get("dossier_id") != dossier.id:
            turn.ack = turn.t("apology.stale")
            return
        if button.step == "r" and data["step"] in ("reason", "reason_text"):
            if button.choice == "other":
                await self._save({**data, "step": "reason_text"})
                turn.say(f"{_prefix(_kind(data))}reason_text")
            else:
                await self.take_reason(dossier, data, turn.t(f"{_prefix(_kind(data))}reason.{button.choice}"))
        elif button.step == "d" and data["step"] == "date":
            await self.take_date(dossier, data, button.day)
        elif button.step in ("ok", "no") and data["step"] == "confirm":
            await self.finish(dossier, data, button.step == "ok")
        else:
            turn.ack = turn.t("apology.stale")

    async def on_text(self, data: dict[str, Any], text: str) -> None:
        """Typed text at the draft's step: a reason, a date's number or the date itself, yes or no."""
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
            offered = self.rule.offered_dates(dossier, turn.now)
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


def _kind(data: dict[str, Any]) -> str:
    """The kind of apology a draft is for (drafts from before error apologies are for a delay)."""
    return "error" if data.get("kind") == "error" else "delay"


def _prefix(kind: str) -> str:
    """Where the wording of a step lives: ``apology.`` for a delay, ``apology.error.`` for an error."""
    return "apology.error." if kind == "error" else "apology."


def _weekday_date(turn: ChatTurn, day: date) -> str:
    """A date offered for the new appointment, with its weekday: "Thứ Hai 07/12/2026"."""
    return f"{turn.t(f'apology.weekday.{day.weekday()}')} {day:%d/%m/%Y}"
