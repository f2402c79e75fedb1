"""A chat joined to a citizen: the receipt's token or a code, the consent notice, and the phone shared after.

Nothing links a chat to a person before they agree: a token (``/start <token>``) or a code of digits
(handlers.citizen.linking) leads to the consent notice, and the chat waits (``pending``) for its answer.
Once linked, sharing the phone number links the person's other open dossiers too.
"""

from __future__ import annotations

import re

from handlers import limits
from handlers.chat.turn import Turn
from handlers.citizen import linking
from handlers.citizen.buttons import Consent
from handlers.citizen.survey_chat import offer_waiting_survey
from handlers.contacts import normalize_phone
from handlers.messages import Option, Reply
from handlers.words import fold
from storage.values import Dossier

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PENDING = "token:"  # the chat's pending step: the consent notice of the dossier with this token, its answer awaited
YES_WORDS = ("1", "dong y", "co", "yes", "agree", "ok")
NO_WORDS = ("2", "khong dong y", "khong", "no", "decline")


async def on_start(turn: Turn, token: str) -> None:
    """``/start [token or code]``: the link offered (a deep link carries the token), else how to link."""
    if not token:
        if turn.linked:
            turn.say("help")
            await offer_waiting_survey(turn)
        else:
            turn.say("link.start_code")
        return
    code = linking.typed_code(token)
    if code is not None:  # the short code of digits, from the receipt or the linking page
        await on_code(turn, code)
        return
    if limits.refuses(turn, "link"):
        return  # too many wrong links from this chat: not even looked up
    dossier = await turn.uow.dossiers.get_by_token(token) if TOKEN_RE.fullmatch(token) else None
    if dossier is None or dossier.respondent_id is None or not await token_alive(turn, dossier.id):
        limits.failed(turn, "link")
        turn.say("link.invalid")
        return
    await offer_link(turn, dossier)


async def on_code(turn: Turn, code: str) -> None:
    """A code of digits (typed alone or after ``/start``): checked, and a right one offers the link."""
    await linking.on_code(turn, code, lambda dossier: offer_link(turn, dossier))


async def on_code_confirmation(turn: Turn, text: str) -> bool:
    """Typed text while a printed code waits for its confirmation; False if it is none (the code given up)."""
    return await linking.on_confirmation(turn, text, lambda dossier: offer_link(turn, dossier))


async def offer_link(turn: Turn, dossier: Dossier) -> None:
    """A token or code of ``dossier`` was given: the consent notice (or, linked already, a reminder)."""
    if turn.linked and turn.chat is not None and turn.chat.person_id == dossier.respondent_id:
        turn.say(
            "link.done",
            procedure=dossier.procedure_name,
            received=turn.services.policy.show_date(dossier.received_at),
        )
        await offer_waiting_survey(turn)
        return
    if turn.chat is None:
        identity = turn.inbound.identity
        turn.chat = await turn.uow.chats.add(identity.channel, identity.external_id, turn.locale, turn.now)
    await turn.uow.chats.update(turn.chat.id, turn.now, pending=f"{PENDING}{dossier.optin_token}")
    unit = await turn.uow.units.get(dossier.unit_id)
    turn.replies.append(
        Reply(
            turn.t("consent.notice", unit=unit.name, retention_days=turn.services.policy.retention_days),
            options=(
                Option(Consent(True).encode(), turn.t("consent.agree"), 1),
                Option(Consent(False).encode(), turn.t("consent.decline"), 2),
            ),
            hint=turn.t("consent.hint"),
        )
    )


async def token_alive(turn: Turn, dossier_id: int) -> bool:
    """A token works until the dossier's survey window has closed."""
    return await linking.link_alive(turn.uow, await turn.uow.dossiers.get(dossier_id), turn.now)


async def on_button(turn: Turn, button: Consent) -> None:
    """The consent notice's buttons: they count only while the chat waits for the answer."""
    pending = turn.chat.pending if turn.chat else None
    if not pending or not pending.startswith(PENDING):
        turn.stale()
        return
    await on_consent(turn, button.agreed)


async def on_reply(turn: Turn, text: str) -> bool:
    """Typed text while the consent notice waits: a yes, a no, or what to answer."""
    folded = fold(text)
    if folded in YES_WORDS:
        await on_consent(turn, True)
    elif folded in NO_WORDS:
        await on_consent(turn, False)
    else:
        turn.say("consent.expected")
    return True


async def on_consent(turn: Turn, agreed: bool) -> None:
    """The answer to the consent notice: the chat linked to the dossier's respondent, or forgotten."""
    assert turn.chat is not None
    assert turn.chat.pending is not None
    token = turn.chat.pending.removeprefix(PENDING)
    if not agreed:
        await turn.uow.chats.delete(turn.chat.id)
        turn.chat = None
        turn.say("consent.declined")
        return
    dossier = await turn.uow.dossiers.get_by_token(token)
    if dossier is None or dossier.respondent_id is None:
        await turn.uow.chats.update(turn.chat.id, turn.now, pending=None)
        turn.say("link.invalid")
        return
    await turn.uow.chats.update(
        turn.chat.id, turn.now, person_id=dossier.respondent_id, status="active", consent_at=turn.now, pending=None
    )
    await turn.uow.people.update(dossier.respondent_id, locale=turn.locale)
    await turn.uow.audit.add(
        f"chat:{turn.chat.id}",
        "consent",
        f"person:{dossier.respondent_id}",
        {"channel": turn.chat.channel},
        turn.now,
    )
    await turn.refresh_chat()
    linked = turn.t(
        "link.done", procedure=dossier.procedure_name, received=turn.services.policy.show_date(dossier.received_at)
    )
    # where the channel can ask for the phone number, offer it: it links the person's other dossiers too
    turn.replies.append(Reply(linked, request_contact=turn.t("link.share_phone")))
    await offer_waiting_survey(turn)


async def on_contact(turn: Turn, phone_text: str) -> None:
    """A phone number shared in a linked chat: the person's other open dossiers are linked by it."""
    if not turn.linked or turn.chat is None:
        turn.say("link.not_linked")
        return
    try:
        phone = normalize_phone(phone_text)
    except ValueError:
        turn.say("contact.none")
        return
    if limits.refuses(turn, "link"):
        return
    person = await turn.uow.people.find_by_phone(phone)
    dossiers = await turn.uow.dossiers.open_for_phone(phone) if person else []
    if person is None or not dossiers:
        limits.failed(turn, "link")
        turn.say("contact.none")
        return
    await turn.uow.chats.update(turn.chat.id, turn.now, person_id=person.id)
    await turn.refresh_chat()
    turn.say("contact.linked", count=len(dossiers))
    await offer_waiting_survey(turn)
