"""Channel-neutral messages: what a person sent us, and what we send back."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

InboundKind = Literal["text", "choice", "contact", "blocked", "unblocked", "unsupported"]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def nfc(text: str) -> str:
    """Text in Unicode NFC, as everything is stored and sent."""
    return unicodedata.normalize("NFC", text)


_ROW_ID = re.compile(r"[1-9][0-9]{0,17}")


def row_id(text: str) -> int | None:
    """The id of a row as our button values and tracking ids write it; None for anything else.

    Only that spelling: ASCII digits without a leading zero, at most 18 of them (a database integer), so a value
    that was never offered (``012``, ``١٢``, ``²``, a number too large to look up) is not taken for one that was.
    """
    return int(text) if _ROW_ID.fullmatch(text) else None


def storable(text: str) -> str:
    """``text`` as every database keeps it: NUL characters dropped, a lone surrogate (JSON carries them) as U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


@dataclass(frozen=True)
class Identity:
    """A chat on a channel: ``("telegram", "123456789")``, ``("console", "demo-1")``."""

    channel: str
    external_id: str


@dataclass(frozen=True)
class Inbound:
    """One thing a person did in a chat.

    Typed text, pressed a button (``value``), shared a contact (``phone``), blocked / unblocked
    the bot (unfollowed / followed, on Zalo), or sent something we cannot read (a sticker, a photo).
    """

    identity: Identity
    event_id: str
    kind: InboundKind
    text: str = ""
    value: str = ""
    phone: str = ""
    locale_hint: str | None = None
    at: datetime | None = None
    kept_id: int | None = None  # the inbox row it was kept in (handlers/chat/inbox.py): forgotten with its handling
    shows_ack: bool = False  # a press the platform answers with ``Outcome.ack`` (Telegram's callback answer)

    def __post_init__(self) -> None:
        # whatever a platform sent, it is stored: nothing a database refuses gets past here
        object.__setattr__(self, "text", nfc(storable(self.text)).strip())
        object.__setattr__(self, "value", storable(self.value))
        object.__setattr__(self, "phone", storable(self.phone))


@dataclass(frozen=True)
class Option:
    """A choice offered with a message: a button, or a numbered line where there are no buttons.

    ``number`` is what a person types to pick it on a channel without buttons (None: not numbered).
    ``typed``: what a person types instead, where one number for every message would be ambiguous (several
    complaints listed, each with its "Trả lời"): a command naming what it acts on (``/dong 12``), shown beside
    the label on a channel without buttons; ``""``: the text already lists the option by its number, so such a
    channel does not repeat it. Channels with buttons show the button as ever.
    """

    value: str
    label: str
    number: int | None = None
    typed: str | None = None


@dataclass(frozen=True)
class Reply:
    """A message to a person.

    ``hint`` is shown only by channels without buttons (how to answer by typing). ``thread`` names a
    message to edit in place where the channel allows (the survey question being answered).
    ``heading``: the first line of ``text`` is a heading (bold where the channel formats text).
    ``request_contact``: the label of a "share my phone number" button, where the channel has one.
    ``tap_hint``: shown by channels that offer the answers as buttons but not the controls (skip, back):
    how to use those by typing. ``template``: a platform template to send instead of text, where the
    channel sends templates (ZNS: ``{"template_id", "data", "tracking_id"}``). ``fresh``: a message of ``thread``
    sent as a new message at the bottom of the chat rather than an edit of the thread's earlier one; it is then
    the thread's message that later ones edit. ``forget``: nothing of the message is kept once it went (the
    last word to a chat whose data was just erased).
    """

    text: str
    options: tuple[Option, ...] = ()
    hint: str | None = None
    thread: str | None = None
    heading: bool = False
    request_contact: str | None = None
    attachments: tuple[dict[str, Any], ...] = field(default=())
    tap_hint: str | None = None
    template: dict[str, Any] | None = None
    fresh: bool = False
    forget: bool = False

    def to_payload(self) -> dict[str, Any]:
        """The JSON kept in the outbox."""
        payload: dict[str, Any] = {"text": nfc(self.text)}
        if self.options:
            payload["options"] = [_option_payload(o) for o in self.options]
        if self.hint:
            payload["hint"] = nfc(self.hint)
        if self.thread:
            payload["thread"] = self.thread
        if self.heading:
            payload["heading"] = True
        if self.request_contact:
            payload["request_contact"] = self.request_contact
        if self.attachments:
            payload["attachments"] = list(self.attachments)
        if self.tap_hint:
            payload["tap_hint"] = nfc(self.tap_hint)
        if self.template:
            payload["template"] = self.template
        if self.fresh:
            payload["fresh"] = True
        if self.forget:
            payload["forget"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Reply:
        """Read a reply back from the outbox."""
        return cls(
            text=payload["text"],
            options=tuple(
                Option(o["value"], o["label"], o.get("number"), o.get("typed")) for o in payload.get("options", ())
            ),
            hint=payload.get("hint"),
            thread=payload.get("thread"),
            heading=bool(payload.get("heading", False)),
            request_contact=payload.get("request_contact"),
            attachments=tuple(payload.get("attachments", ())),
            tap_hint=payload.get("tap_hint"),
            template=payload.get("template"),
            fresh=bool(payload.get("fresh", False)),
            forget=bool(payload.get("forget", False)),
        )


def _option_payload(option: Option) -> dict[str, Any]:
    """An option as the outbox keeps it (``typed`` only when it has one: older rows read the same)."""
    payload: dict[str, Any] = {"value": option.value, "label": nfc(option.label), "number": option.number}
    if option.typed is not None:
        payload["typed"] = nfc(option.typed)
    return payload


@dataclass(frozen=True)
class Outcome:
    """What handling one inbound event did: the replies queued, and a short acknowledgement for a button."""

    duplicate: bool = False
    replies: tuple[Reply, ...] = ()
    ack: str | None = None
