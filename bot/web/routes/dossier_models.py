"""The bodies and answers of the dossier routes: a dossier as sent, its events, and where it stands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from bot.web.routes.apologies import ApologyOut
from bot.web.routes.body_types import Body, EventMoment, Moment, Text
from bot.web.wording import term


class ContactBody(Body):
    """A person on a dossier: the applicant or the authorised representative."""

    name: Text = Field(description="Full name (≤ 200 characters); stored in Unicode NFC.")
    phone: Text | None = Field(default=None, description="Vietnamese phone number in any usual form: 0912 345 678.")
    email: Text | None = None
    zalo_user_id: Text | None = Field(default=None, description="The person's Zalo user id, if known.")
    kind: Literal["person", "organisation"] | None = Field(
        default=None,
        description="The applicant only: `organisation` for a company, a cooperative or another organisation (the "
        "apology slip is then addressed to it by name), `person` otherwise. Left out: judged from the name "
        f"({term('organisation_names')}).",
    )


class DossierBody(Body):
    """A dossier as the one-stop-shop software holds it (docs/METHOD.md); the code is in the path."""

    unit: Text = Field(description="Code of a unit known to SIPAS Bot (`sipasbot units add`).")
    procedure: Text = Field(description="Procedure name (≤ 300 characters).")
    procedure_code: Text | None = Field(
        default=None, description=f"National procedure code ({term('procedure_code')}), e.g. 1.014390."
    )
    field: Text = Field(
        description=f"Field of the procedure ({term('field')}), e.g. {term('field_example')} (≤ 100 characters)."
    )
    applicant: ContactBody
    representative: ContactBody | None = Field(
        default=None, description="The authorised representative; when present, the survey goes to them."
    )
    received_at: Moment = Field(
        description="When the dossier was received: not in the future (422; a sender's clock may run up to five "
        "minutes fast). ISO 8601: with an offset it is taken as is, without one it is local time (SIPAS_TIMEZONE); "
        "a date alone means the start of that local day."
    )
    due_at: Moment | None = Field(
        default=None, description="The appointment date; may be left out when processing_days is given."
    )
    processing_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="The procedure's time limit in working days: without due_at, the dossier is due at the end "
        "of that working day after reception (weekends and public holidays skipped).",
    )
    channel: Literal["truc_tiep", "truc_tuyen", "buu_chinh"] = Field(
        description="Submission channel: in person, online, or by public post."
    )
    handler: Text | None = Field(default=None, description="The handling officer (never shown publicly).")
    receiver: Text | None = Field(
        default=None,
        description="The receiving officer at the one-stop-shop counter (never shown publicly; leaders only).",
    )
    zalo_optin: StrictBool = Field(default=False, description="The citizen agreed to be reached on Zalo.")


EventType = Literal["supplement_requested", "supplement_received", "result_ready", "returned", "cancelled"]


class EventBody(Body):
    """A lifecycle event of a dossier; the same (type, at) twice changes nothing the second time."""

    type: EventType = Field(
        description="`returned` (result handed back: the survey follows), `result_ready` (processing finished), "
        "`supplement_requested`, `supplement_received`, `cancelled`."
    )
    at: EventMoment = Field(
        description="When it happened: not in the future (422; a sender's clock may run up to five minutes fast). "
        "ISO 8601 date-time; without an offset it is local time (SIPAS_TIMEZONE)."
    )
    note: Text | None = Field(default=None, description="Free text (≤ 2000 characters).")


DATETIME_NOTE = "Local time (SIPAS_TIMEZONE) with its offset."


class DossierOut(BaseModel):
    """Where a dossier stands. Contact data is not echoed back."""

    code: str
    unit: str
    procedure: str
    procedure_code: str | None
    field: str
    channel: str
    state: str = Field(description="received, supplement_requested, result_ready, returned or cancelled.")
    received_at: datetime = Field(description=DATETIME_NOTE)
    due_at: datetime = Field(description=DATETIME_NOTE)
    finished_at: datetime | None = Field(description="When processing finished (result_ready or returned).")
    returned_at: datetime | None
    cancelled_at: datetime | None
    on_time: bool | None = Field(description="Finished on or before the due date (local days); null until finished.")
    zalo_optin: bool


class OptinOut(BaseModel):
    """How the citizen links a chat to the dossier: print the QR code, the code and ``receipt_text`` on the receipt."""

    token: str = Field(description="Opaque, unguessable, no personal data; at most 64 of [A-Za-z0-9_-].")
    telegram_url: str | None = Field(description="https://t.me/<bot>?start=<token>; null when Telegram is off.")
    zalo_url: str | None = Field(
        description="The OA's chat link (SIPAS_ZALO_OA_LINK), where the citizen sends the code: Zalo links carry "
        "no token. Null when not configured."
    )
    link_url: str = Field(
        description="The linking page <public URL>/lien-ket/<token>: one button per configured chat (Zalo first) "
        "and a 6-digit code valid for 10 minutes, to send in the chat. The QR code holds this address."
    )
    code: str = Field(
        description="The printable code, digits only, for people who cannot scan: sent alone (or after /start) "
        "in the Zalo OA, the Zalo Bot, Telegram or any chat. 8 digits, confirmed by the last 4 digits of the "
        "applicant's or representative's phone; 12 digits, sent alone, when the dossier had no phone. The same "
        "code every time the dossier is sent.",
        pattern="^[0-9]{8}$|^[0-9]{12}$",
    )
    receipt_text: str = Field(
        description="The lines to print on the receipt, in Vietnamese, one per line: how to link on Zalo or "
        "Telegram, the linking page's address and the code. Nothing personal."
    )
    qr_url: str = Field(
        description="A PNG QR code for the receipt, no key needed. It encodes link_url, whatever chats are configured."
    )


class UpsertOut(BaseModel):
    """The dossier after PUT, and its opt-in links (the same token every time)."""

    dossier: DossierOut
    optin: OptinOut


class EventOut(BaseModel):
    """The dossier after an event; ``changed`` is false when the same event was applied before."""

    dossier: DossierOut
    changed: bool


class TimelineEntry(BaseModel):
    """One event of the dossier's timeline."""

    type: str
    at: datetime
    note: str | None


class FormRef(BaseModel):
    """A survey form and the version that is asked."""

    id: str
    version: int


class SurveyOut(BaseModel):
    """The dossier's one survey invitation (no answers: they are anonymous statistics)."""

    status: str = Field(description="pending, sent, started, completed, expired or cancelled.")
    form: FormRef
    channel: str | None
    scheduled_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None


class DossierDetailOut(DossierOut):
    """A dossier read back: its state, timeline, new due date, survey and apology."""

    new_due_at: datetime | None = Field(description="The new appointment from the apology; null without one.")
    handler: str | None = Field(description="The handling officer, as last sent; null when not given.")
    receiver: str | None = Field(description="The receiving (counter) officer, as last sent; null when not given.")
    timeline: list[TimelineEntry]
    survey: SurveyOut | None = Field(description="Null until the dossier is returned and a survey is planned.")
    apology: ApologyOut | None = Field(description="The delay apology (with the new date); null without one.")
    error_apology: ApologyOut | None = Field(description="The apology for an error in handling; null without one.")
