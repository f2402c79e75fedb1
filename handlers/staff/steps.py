"""Staff flows in a chat forgive mistakes: ``/huy`` at any step, and a step that says what it expects.

A staff member's apology or answer to a complaint is a draft (the ``drafts`` table) filled in over several
turns. While one is open every turn is the staff side's:

- ``/huy`` (``/cancel``, ``/stop``; or "huỷ" typed alone) drops the draft: nothing is issued or sent;
- a command that is not the staff's is never handed to the citizen side: it is answered with what the
  step in progress expects, and the draft is kept;
- typed text that does not fit the step (a number not offered, a "reason" with no words in it, an answer
  too long) is refused the same way, the draft kept.

Also here: the officers' own help (their commands first, the citizens' only mentioned), and the name an
apology slip will carry, which the officer issuing it sees in full (masking is for the other views).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from handlers.messages import Option, Reply
from handlers.staff.buttons import ApologyButton
from handlers.words import fold
from storage.uow import UnitOfWork
from storage.values import Apology, Chat, Dossier, Draft, Unit

CANCEL_COMMANDS = ("huy", "cancel", "stop")  # /huy, as the English help calls it too
CANCEL_WORDS = ("huy", "cancel", "thoat")  # typed alone, without the slash
NOTHING_TO_CANCEL = ("huy", "cancel")  # an officer's chat with nothing in progress: said so, not the opt-out
LEFT_TO_CITIZEN = ("lang", "language", "trogiup", "help")  # harmless mid-flow: the draft stays as it is
STAFF_DRAFTS = ("apology", "reply")
MIN_LETTERS = 4  # a reason or an answer is words: "9", "ok", "?!" are not
REASON_LIMIT = 500  # characters of an apology's reason (printed on the slip)
ANSWER_LIMIT = 2000  # characters of an answer to a complaint
REASON_CHOICES = 5  # four reasons and "another reason" (handlers.staff.buttons.REASONS)


class Turn(Protocol):
    """What these steps need of a chat turn (handlers.chat.turn.ChatTurn)."""

    uow: UnitOfWork
    chat: Chat | None
    replies: list[Reply]

    def say(self, key: str, **values: object) -> None:
        """Queue a reply from the wording catalog."""

    def t(self, key: str, **values: object) -> str:
        """Wording from the catalog."""


def has_words(text: str) -> bool:
    """Whether typed text is words (a reason, an answer), not a number or a sign typed by mistake."""
    return sum(c.isalpha() for c in text) >= MIN_LETTERS


def cancels(text: str) -> bool:
    """``/huy`` (or ``/cancel``, ``/stop``), or "huỷ" typed alone."""
    folded = fold(text)
    if folded.startswith("/"):
        return fold(folded[1:].partition(" ")[0].split("@")[0]) in CANCEL_COMMANDS
    return folded in CANCEL_WORDS


async def _subject(uow: UnitOfWork, draft: Draft) -> dict[str, object]:
    """What the draft is about, for the wording: the dossier's code, or the complaint's number."""
    if draft.kind == "reply":
        return {"id": draft.data.get("feedback_id", "?")}
    try:
        return {"code": (await uow.dossiers.get(int(draft.data["dossier_id"]))).code}
    except (LookupError, KeyError, TypeError, ValueError):
        return {"code": "?"}


async def cancel(turn: Turn, draft: Draft) -> None:
    """Drop the draft in progress: nothing issued, nothing sent."""
    assert turn.chat is not None
    await turn.uow.drafts.drop(turn.chat.id)
    turn.say(f"flow.cancelled.{draft.kind}", **await _subject(turn.uow, draft))


async def nothing_to_cancel(turn: Turn, has_roles: bool) -> bool:
    """``/huy`` in an officer's own chat (no citizen linked to it) with no apology or answer open: said so.

    True when said; anywhere else ``/huy`` is the citizen's (the opt-out).
    """
    if turn.chat is None or not has_roles or turn.chat.person_id is not None:
        return False
    draft = await turn.uow.drafts.get(turn.chat.id)
    if draft is not None and draft.kind in STAFF_DRAFTS:
        return False
    turn.say("flow.nothing")
    return True


async def interrupted(turn: Turn, draft: Draft, command: str) -> None:
    """A command typed during an apology or an answer (by someone with a role), not one it lets through.

    ``/huy`` cancels the draft; any other command is answered with what the step expects, the draft kept.
    """
    if command in CANCEL_COMMANDS:
        await cancel(turn, draft)
        return
    subject = await _subject(turn.uow, draft)
    if draft.kind == "apology":
        subject["dossier_id"] = draft.data.get("dossier_id")
    busy = turn.t(f"flow.busy.{draft.kind}", command=f"/{command}", **subject)
    expected = expectation(turn, draft.kind, str(draft.data.get("step", "")), subject=subject)
    turn.replies.append(Reply(f"{busy}\n{expected.text}", options=expected.options))


def expectation(
    turn: Turn, kind: str, step: str, *, count: int = 0, subject: Mapping[str, object] | None = None
) -> Reply:
    """What the step in progress expects, as a reply (with the confirm buttons at the last step).

    ``subject``: the complaint's ``id`` for an answer, the ``dossier_id`` for an apology's buttons.
    """
    subject = subject or {}
    if kind == "reply":
        return Reply(turn.t("feedback.expect.reply", max=ANSWER_LIMIT, id=subject.get("id", "?")))
    if step == "reason_text":
        return Reply(turn.t("apology.expect.reason_text", max=REASON_LIMIT))
    if step == "date":
        return Reply(turn.t("apology.expect.date", count=count or 5))
    if step == "confirm":
        dossier_id = subject.get("dossier_id")
        options: tuple[Option, ...] = ()
        if isinstance(dossier_id, int):  # a draft's own number, as the draft keeps it
            options = (
                Option(ApologyButton(dossier_id, "ok").encode(), turn.t("apology.confirm"), 1),
                Option(ApologyButton(dossier_id, "no").encode(), turn.t("apology.cancel"), 2),
            )
        return Reply(turn.t("apology.expect.confirm"), options=options)
    return Reply(turn.t("apology.expect.reason", count=REASON_CHOICES))


def reason_options(turn: Turn, dossier_id: int, prefix: str, reasons: tuple[str, ...]) -> tuple[Option, ...]:
    """The reasons offered at the first step of an apology, and "another reason" last."""
    options = [
        Option(ApologyButton.reason(dossier_id, n).encode(), turn.t(f"{prefix}reason.{n}"), int(n)) for n in reasons
    ]
    other = ApologyButton.reason(dossier_id, "other").encode()
    options.append(Option(other, turn.t(f"{prefix}reason.other"), len(reasons) + 1))
    return tuple(options)


def officer_help(turn: Turn, staff: bool, leader: bool) -> str:
    """``/trogiup`` for an officer: the commands of each role held first, then a short line about the rest."""
    parts = []
    if staff:
        parts.append(turn.t("staff.help") + "\n" + turn.t("staff.help_typed"))
    if leader:
        parts.append(turn.t("leader.help") + "\n" + turn.t("help.leader_periods"))
    parts.append(turn.t("help.officer_more") + "\n" + turn.t("help.officer_typed"))
    return "\n\n".join(parts)


async def slip_name(uow: UnitOfWork, apologies: Any, unit: Unit, dossier: Dossier, draft: Apology, person: Any) -> str:
    """The name the printed slip will carry: the person asked, or the organisation that applied."""
    applicant = person
    if dossier.applicant_id is not None and dossier.applicant_id != dossier.respondent_id:
        applicant = await uow.people.get(dossier.applicant_id)  # an organisation's representative answers
    return str(apologies.slip_data(unit, dossier, draft, person, applicant).applicant)
