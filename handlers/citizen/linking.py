"""Linking a chat to a dossier with a short code of digits a person can type (issue 16).

The receipt's token (22 characters, mixed case) suits a QR code and a Telegram deep link, not a person typing on a
phone. Two codes of digits stand in for it; either one, typed alone in any chat (or after ``/start``), leads to the
same consent notice as the token:

- the **page code**: 6 digits, made by the linking page ``/lien-ket/<token>`` each time it is opened (the one made
  before stops working), valid for ``PAGE_LIFETIME`` and once; kept as a SHA-256 only;
- the **printed code**: on the receipt for people who cannot scan, as long-lived as the token. With a phone on the
  dossier it has 8 digits and is confirmed by the phone's last 4 digits (asked for whatever was typed, so a wrong
  code and a right one look alike); without a phone it has 12 digits and is typed alone — the same odds against
  guessing as 8 digits and 4. A code whose confirmation failed ``PRINTED_TRIES`` times stops working for
  ``PRINTED_LOCK``.

Every wrong or expired code counts against the chat in the guard of guesses (``handlers.limits``), as a wrong token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers import limits
from handlers.chat.turn import ChatTurn
from handlers.contacts import normalize_phone
from handlers.context import Services
from storage.uow import UnitOfWork
from storage.values import Dossier

log = logging.getLogger(__name__)

PAGE_DIGITS = 6
PAGE_LIFETIME = timedelta(minutes=10)
PAGE_KEEP_EXPIRED = timedelta(days=1)  # an expired page code is still told apart from a wrong one this long
PRINTED_DIGITS = 8  # the dossier has a phone: confirmed by its last CONFIRM_DIGITS digits
PRINTED_DIGITS_ALONE = 12  # no phone on the dossier: longer, and typed alone
CONFIRM_DIGITS = 4
PRINTED_TRIES = 5  # wrong confirmations of one printed code ...
PRINTED_LOCK = timedelta(hours=24)  # ... stop it working for this long
CODE_LENGTHS = (PAGE_DIGITS, PRINTED_DIGITS, PRINTED_DIGITS_ALONE)
PENDING = "code:"  # a chat's pending step: the printed code typed, its confirmation awaited
_SEPARATORS = re.compile(r"[\s.\-]+")
_DIGITS = re.compile(r"[0-9]+")
OPEN_INVITATIONS = ("pending", "sent", "started")


def typed_code(text: str) -> str | None:
    """The link code in ``text`` (digits, spaces, dots or dashes between them allowed), or None if it is not one."""
    digits = _SEPARATORS.sub("", text.strip())
    if _DIGITS.fullmatch(digits) and len(digits) in CODE_LENGTHS:
        return digits
    return None


def confirmation_digits(text: str) -> str | None:
    """The last digits of a phone as typed to confirm a printed code: 4 digits, or a whole phone number.

    Digits as many as a code has are a code (typed instead), not a phone.
    """
    digits = _SEPARATORS.sub("", text.strip())
    if _DIGITS.fullmatch(digits) and len(digits) == CONFIRM_DIGITS:
        return digits
    if len(digits.removeprefix("+")) in CODE_LENGTHS:
        return None
    try:
        return normalize_phone(text)[-CONFIRM_DIGITS:]
    except ValueError:
        return None


def shown(code: str) -> str:
    """A code as printed and shown: in groups of three (6 digits) or four (8, 12 digits)."""
    size = 3 if len(code) == PAGE_DIGITS else 4
    return " ".join(code[i : i + size] for i in range(0, len(code), size))


def page_hash(code: str) -> str:
    """What is kept of a page code."""
    return hashlib.sha256(f"sipas-link:{code}".encode()).hexdigest()


def new_code(length: int) -> str:
    """Random digits, never starting with 0 (a spreadsheet or a form field would drop it)."""
    return str(1 + secrets.randbelow(9)) + "".join(str(secrets.randbelow(10)) for _ in range(length - 1))


def _phone_digits(phone: str | None) -> str | None:
    return phone[-CONFIRM_DIGITS:] if phone and len(phone) >= CONFIRM_DIGITS else None


async def link_alive(uow: UnitOfWork, dossier: Dossier, now: datetime) -> bool:
    """A dossier's token (and its codes) work until its survey window has closed, never for a cancelled dossier."""
    invitation = await uow.invitations.for_dossier(dossier.id)
    if invitation is None:
        return dossier.state != "cancelled"
    return invitation.status in OPEN_INVITATIONS or invitation.expires_at > now


async def linkable(uow: UnitOfWork, dossier: Dossier, now: datetime) -> bool:
    """Whether a chat may be linked to the dossier's respondent now: one there is, not erased, the link alive."""
    if dossier.respondent_id is None or not await link_alive(uow, dossier, now):
        return False
    return (await uow.people.get(dossier.respondent_id)).erased_at is None


async def dossier_phones(uow: UnitOfWork, dossier: Dossier) -> list[str]:
    """The phones on the dossier (the applicant's, the representative's), as stored (84xxxxxxxxx)."""
    phones = []
    for person_id in (dossier.applicant_id, dossier.representative_id):
        if person_id is not None:
            person = await uow.people.get(person_id)
            if person.phone:
                phones.append(person.phone)
    return phones


@dataclass(frozen=True)
class PageCode:
    """A code the linking page shows, and until when it works."""

    code: str
    expires_at: datetime
    unit_name: str


class LinkCodes:
    """The codes of dossiers: the printed one (made once), the page's (made on each visit)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def printed_in(self, uow: UnitOfWork, dossier: Dossier) -> str:
        """The dossier's printed code, made the first time it is asked for (8 digits with a phone, else 12)."""
        found = await uow.link_codes.printed(dossier.id)
        if found is not None and found.code is not None:
            return found.code
        length = PRINTED_DIGITS if await dossier_phones(uow, dossier) else PRINTED_DIGITS_ALONE
        now = self.services.clock()
        for _ in range(50):
            if await uow.link_codes.add_printed(dossier.id, new_code(length), now):
                break
        found = await uow.link_codes.printed(dossier.id)
        if found is None or found.code is None:  # 50 codes in a row taken: not with 10^8 of them
            raise RuntimeError("no free printed link code")
        return found.code

    async def page_code(self, token: str) -> PageCode | None:
        """A fresh page code for the dossier of ``token`` (the one before stops working); None if the token is dead."""
        now = self.services.clock()
        async with self.services.uow() as uow:
            dossier = await uow.dossiers.get_by_token(token)
            if dossier is None or not await linkable(uow, dossier, now):
                return None
            await uow.link_codes.purge_pages(now - PAGE_KEEP_EXPIRED)
            for _ in range(50):
                code = new_code(PAGE_DIGITS)
                if not await uow.link_codes.page_hash_live(page_hash(code), now):
                    break
            else:  # 50 live codes in a row: never with 900,000 of them
                raise RuntimeError("no free page link code")
            expires_at = now + PAGE_LIFETIME
            await uow.link_codes.put_page(dossier.id, page_hash(code), expires_at, now)
            unit = await uow.units.get(dossier.unit_id)
            await uow.commit()
        return PageCode(code, expires_at, unit.name)

    def receipt_text(self, code: str, link_url: str, channels: list[str]) -> str:
        """The lines the one-stop-shop software prints on the receipt, in Vietnamese: how to link, and the code.

        ``channels``: where to send the code, Zalo first, as the receipt names them ("Zalo https://zalo.me/…").
        """
        texts = self.services.texts
        where = ", ".join(channels) if channels else texts("vi", "receipt.anywhere")
        how = "receipt.confirm" if len(code) == PRINTED_DIGITS else "receipt.alone"
        lines = [
            texts("vi", "receipt.title"),
            texts("vi", "receipt.scan", link=link_url),
            texts("vi", how, channels=where, digits=CONFIRM_DIGITS),
            texts("vi", "receipt.code", code=shown(code)),
            texts("vi", "receipt.keep"),
        ]
        return "\n".join(lines)


# what a right code leads to: going on as with the dossier's token, the consent notice (or "already linked")
Offer = Callable[[Dossier], Awaitable[None]]


def _masked(turn: ChatTurn) -> str:
    identity = turn.inbound.identity
    return hashlib.sha256(f"{identity.channel}:{identity.external_id}".encode()).hexdigest()[:10]


async def on_code(turn: ChatTurn, code: str, offer: Offer) -> None:
    """A code of digits typed alone or after /start: a page code or a printed one."""
    if limits.refuses(turn, "link"):
        return  # too many wrong codes from this chat: not even looked up
    uow, now = turn.uow, turn.now
    if len(code) == PRINTED_DIGITS:
        # the confirmation is asked for whatever the code: a wrong code and a right one look alike
        await _set_pending(turn, PENDING + code)
        turn.say("link.code_confirm", digits=CONFIRM_DIGITS)
        return
    if len(code) == PAGE_DIGITS:
        await _on_page_code(turn, code, offer)
        return
    row = await uow.link_codes.by_printed_code(code)
    dossier = await uow.dossiers.get(row.dossier_id) if row is not None else None
    if (
        row is None
        or dossier is None
        or _locked(row.failures, row.failed_at, now)
        or not await linkable(uow, dossier, now)
    ):
        limits.failed(turn, "link")
        turn.say("link.code_invalid")
        return
    await offer(dossier)


async def _on_page_code(turn: ChatTurn, code: str, offer: Offer) -> None:
    """A page code: live, it goes on as the token (and is used up); else refused, expired or wrong."""
    uow, now = turn.uow, turn.now
    found = await uow.link_codes.by_page_hash(page_hash(code))
    live = [row for row in found if row.expires_at is not None and row.expires_at > now]
    if live:
        dossier = await uow.dossiers.get(live[0].dossier_id)
        if await linkable(uow, dossier, now):
            await uow.link_codes.drop(live[0].id)  # once
            await offer(dossier)
            return
    limits.failed(turn, "link")
    if found and not live:
        log.info("link code: an expired page code in %s chat #%s", turn.inbound.identity.channel, _masked(turn))
        turn.say("link.code_expired")
    else:
        turn.say("link.code_invalid")


async def on_confirmation(turn: ChatTurn, text: str, offer: Offer) -> bool:
    """The confirmation of a printed code the chat waits for: checked; False if ``text`` is none (the code dropped)."""
    assert turn.chat is not None
    assert turn.chat.pending is not None
    code = turn.chat.pending.removeprefix(PENDING)
    digits = confirmation_digits(text)
    if digits is None:  # something else: the code is given up, the message handled as it is
        await _set_pending(turn, None)
        return False
    if limits.refuses(turn, "link"):
        return True  # slowed or locked: the code still waits, to be confirmed later
    await _set_pending(turn, None)
    uow, now = turn.uow, turn.now
    row = await uow.link_codes.by_printed_code(code)
    dossier = await uow.dossiers.get(row.dossier_id) if row is not None else None
    if row is None or dossier is None or not await linkable(uow, dossier, now):
        limits.failed(turn, "link")
        turn.say("link.code_invalid")
        return True
    if _locked(row.failures, row.failed_at, now):
        limits.failed(turn, "link")
        turn.say("link.code_locked")
        return True
    phones = [last for last in map(_phone_digits, await dossier_phones(uow, dossier)) if last]
    if not any(hmac.compare_digest(digits, last) for last in phones):
        limits.failed(turn, "link")
        failures = 1 if _window_over(row.failed_at, now) else row.failures + 1
        await uow.link_codes.failed(row.id, failures, now)
        log.warning(
            "link code: a wrong confirmation (%d in a row) of a printed code in %s chat #%s",
            failures,
            turn.inbound.identity.channel,
            _masked(turn),
        )
        turn.say("link.code_locked" if failures >= PRINTED_TRIES else "link.code_invalid")
        return True
    await offer(dossier)
    return True


def _window_over(failed_at: datetime | None, now: datetime) -> bool:
    return failed_at is None or now - failed_at >= PRINTED_LOCK


def _locked(failures: int, failed_at: datetime | None, now: datetime) -> bool:
    return failures >= PRINTED_TRIES and not _window_over(failed_at, now)


async def _set_pending(turn: ChatTurn, pending: str | None) -> None:
    if turn.chat is None:
        if pending is None:
            return
        turn.chat = await turn.uow.chats.add(
            turn.inbound.identity.channel, turn.inbound.identity.external_id, turn.locale, turn.now
        )
    await turn.uow.chats.update(turn.chat.id, turn.now, pending=pending)
    turn.chat = await turn.uow.chats.get_by_id(turn.chat.id)
