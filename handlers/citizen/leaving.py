"""A citizen leaving, by chat: ``/huy`` stops the surveys, ``/xoadulieu`` erases their data once confirmed."""

from __future__ import annotations

from handlers.chat.turn import Turn
from handlers.citizen.buttons import EraseConfirm
from handlers.citizen.erasure import erase_person
from handlers.citizen.survey_chat import OPEN
from handlers.messages import Option, Reply
from handlers.words import fold

ERASE_YES_WORDS = ("1", "xoa", "xoa du lieu", "xoa du lieu cua toi", "dong y", "co", "yes", "erase")
PENDING = "erase"  # the chat's pending step: the erasure asked, its confirmation awaited


async def on_opt_out(turn: Turn, _args: str) -> None:
    """``/huy``: no more surveys for this person; those open are cancelled."""
    if not turn.linked or turn.chat is None or turn.chat.person_id is None:
        turn.say("link.not_linked")
        return
    person_id = turn.chat.person_id
    await turn.uow.people.update(person_id, opted_out_at=turn.now)
    for invitation in await turn.uow.invitations.for_person(person_id, ("pending", *OPEN)):
        await turn.uow.invitations.update(invitation.id, status="cancelled", cursor=None, closed_at=turn.now)
    turn.say("optout.done")


async def on_erase(turn: Turn, _args: str) -> None:
    """``/xoadulieu``: a chat not linked is forgotten at once; a linked person is asked to confirm."""
    if turn.chat is None:
        turn.say("erase.nothing")
        return
    if not turn.linked:
        await turn.uow.chats.delete(turn.chat.id)
        turn.chat = None
        turn.replies.append(Reply(turn.t("erase.done"), forget=True))  # nothing of the chat kept once it went
        return
    await turn.uow.chats.update(turn.chat.id, turn.now, pending=PENDING)
    turn.replies.append(
        Reply(
            turn.t("erase.confirm"),
            options=(
                Option(EraseConfirm(True).encode(), turn.t("erase.yes"), 1),
                Option(EraseConfirm(False).encode(), turn.t("erase.no"), 2),
            ),
            hint=turn.t("erase.hint"),
        )
    )


async def on_button(turn: Turn, button: EraseConfirm) -> None:
    """The erasure's buttons: they count only while the chat waits for the confirmation."""
    if turn.chat is None or turn.chat.pending != PENDING:
        turn.stale()
        return
    await on_confirmed(turn, button.confirmed)


async def on_reply(turn: Turn, text: str) -> bool:
    """Typed text while the erasure waits: a yes erases, anything else keeps the data."""
    await on_confirmed(turn, fold(text) in ERASE_YES_WORDS)
    return True


async def on_confirmed(turn: Turn, confirmed: bool) -> None:
    """The person's answer to the erasure: erase everything of theirs, or keep it."""
    assert turn.chat is not None
    if not confirmed:
        await turn.uow.chats.update(turn.chat.id, turn.now, pending=None)
        turn.say("erase.kept")
        return
    person_id = turn.chat.person_id
    if person_id is not None:
        await erase_person(turn.uow, person_id, turn.now, f"person:{person_id}", "request")
    else:
        await turn.uow.chats.delete(turn.chat.id)
    turn.chat = None
    turn.replies.append(Reply(turn.t("erase.done"), forget=True))  # nothing of the chat kept once it went
