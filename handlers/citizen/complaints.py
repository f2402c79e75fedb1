"""A citizen's complaint: offered when they write to us or finish a survey, filed only if they say so.

Nothing a person writes reaches the officers by itself: they are asked "Gửi phản ánh tới cán bộ, kèm mã hồ sơ?"
and what would be sent is kept as the chat's draft meanwhile. Once sent it goes to the unit's officers with the
dossier's code (handlers.staff.desk.Feedbacks).
"""

from __future__ import annotations

from handlers.chat.turn import Turn
from handlers.citizen.buttons import ComplaintSend
from handlers.messages import Option, Reply
from handlers.staff.complaints import Feedbacks
from handlers.words import fold
from storage.values import Dossier

COMPLAINT_YES_WORDS = ("1", "co", "yes", "gui", "dong y", "ok")
COMPLAINT_NO_WORDS = ("2", "khong", "no", "thoi")


async def on_free_message(turn: Turn, text: str) -> None:
    """A message that is not an answer: offered as a complaint, filed only if the person says so."""
    assert turn.chat is not None
    assert turn.chat.person_id is not None
    dossier = await turn.uow.dossiers.latest_for_person(turn.chat.person_id)
    if dossier is None or len(fold(text)) < 2:
        turn.say("unknown")
        return
    turn.replies.append(await offer(turn, dossier, "message", text))


async def offer(turn: Turn, dossier: Dossier, source: str, text: str | None, lead: str = "") -> Reply:
    """Ask "Gửi phản ánh tới cán bộ, kèm mã hồ sơ?" and remember what would be sent."""
    assert turn.chat is not None
    data = {"dossier_id": dossier.id, "source": source, "text": text, "step": "confirm"}
    await turn.uow.drafts.put(turn.chat.id, "complaint", data, turn.now)
    unit = await turn.uow.units.get(dossier.unit_id)
    key = {"message": "complaint.offer_message", "comment": "complaint.offer_comment"}.get(
        source, "complaint.offer_survey"
    )
    offered = turn.t(key, text=(text or "")[:300], code=dossier.code, unit=unit.name)
    options = (
        Option(ComplaintSend(True).encode(), turn.t("complaint.yes"), 1),
        Option(ComplaintSend(False).encode(), turn.t("complaint.no"), 2),
    )
    text = "\n\n".join(part for part in (lead, offered) if part)
    return Reply(text, options=options, hint=turn.t("complaint.hint"))


async def draft(turn: Turn) -> dict[str, object] | None:
    """What the complaint step in progress would send; None when none is in progress."""
    if turn.chat is None:
        return None
    found = await turn.uow.drafts.get(turn.chat.id)
    return found.data if found is not None and found.kind == "complaint" else None


async def on_button(turn: Turn, button: ComplaintSend) -> None:
    """The "Có" / "Không" buttons of the complaint step."""
    await on_choice(turn, button.send)


async def on_choice(turn: Turn, send: bool) -> None:
    """The "Có" / "Không" of the complaint step."""
    data = await draft(turn) if turn.linked else None
    if data is None or data.get("step") != "confirm":
        turn.ack = turn.t("survey.stale")
        return
    assert turn.chat is not None
    if not send:
        await turn.uow.drafts.drop(turn.chat.id)
        turn.say("complaint.not_sent")
        return
    dossier = await turn.uow.dossiers.get(int(str(data["dossier_id"])))
    text = data.get("text")
    if isinstance(text, str) and text.strip():
        await file(turn, dossier, str(data.get("source") or "message"), text)
        return
    await turn.uow.drafts.put(turn.chat.id, "complaint", {**data, "step": "text"}, turn.now)
    turn.say("complaint.ask_text", code=dossier.code)


async def on_text(turn: Turn, text: str) -> bool:
    """Typed text while the complaint step waits: its yes or no, or the complaint's words; False if none waits."""
    data = await draft(turn)
    if data is None:
        return False
    folded = fold(text)
    if data.get("step") == "text":
        if folded in COMPLAINT_NO_WORDS:  # changed their mind
            assert turn.chat is not None
            await turn.uow.drafts.drop(turn.chat.id)
            turn.say("complaint.not_sent")
            return True
        if len(folded) < 2:
            turn.say("unknown")
            return True
        dossier = await turn.uow.dossiers.get(int(str(data["dossier_id"])))
        await file(turn, dossier, "message", text)
        return True
    if folded in COMPLAINT_YES_WORDS or folded in COMPLAINT_NO_WORDS:
        await on_choice(turn, folded in COMPLAINT_YES_WORDS)
        return True
    return False  # another message: offered in its turn


async def file(turn: Turn, dossier: Dossier, source: str, text: str) -> None:
    """The person chose to send ``text`` as a complaint: it goes to the officers with the dossier's code."""
    assert turn.chat is not None
    assert turn.chat.person_id is not None
    await turn.uow.drafts.drop(turn.chat.id)
    await Feedbacks(turn.services).record(
        turn.uow,
        source=source,
        text=text,
        person_id=turn.chat.person_id,
        dossier=dossier,
        unit_id=dossier.unit_id,
        invitation_id=None,
        now=turn.now,
    )
    unit = await turn.uow.units.get(dossier.unit_id)
    turn.say("complaint.filed", unit=unit.name, code=dossier.code)
