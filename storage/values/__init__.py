"""Plain values the repositories return, by area (ORM rows never leave storage/): import them from here."""

from __future__ import annotations

from storage.values.dossiers import Dossier, DossierEvent
from storage.values.messaging import BULK, INTERACTIVE, KeptUpdate, OutboxMessage, PlatformToken
from storage.values.people import Chat, Person
from storage.values.reports import (
    AnswerCount,
    DayAnswerCount,
    DayResolved,
    DossierCounts,
    FeedbackLine,
    LateDossier,
    OfficerAnswerCount,
    OfficerCounts,
    RawAnswer,
    ReceiverAnswerCount,
    ReceiverCounts,
    SurveyCounts,
)
from storage.values.service import ApiKey, ApiKeyListing, AuditEntry, StoredResponse
from storage.values.staff import Apology, ApologyLine, Draft, Feedback, Invite, Role, RoleLine, StaffChat, StoredFile
from storage.values.survey import Answer, ChatSurvey, Invitation
from storage.values.units import Unit

__all__ = [
    "BULK",
    "INTERACTIVE",
    "Answer",
    "AnswerCount",
    "ApiKey",
    "ApiKeyListing",
    "Apology",
    "ApologyLine",
    "AuditEntry",
    "Chat",
    "ChatSurvey",
    "DayAnswerCount",
    "DayResolved",
    "Dossier",
    "DossierCounts",
    "DossierEvent",
    "Draft",
    "Feedback",
    "FeedbackLine",
    "Invitation",
    "Invite",
    "KeptUpdate",
    "LateDossier",
    "OfficerAnswerCount",
    "OfficerCounts",
    "OutboxMessage",
    "Person",
    "PlatformToken",
    "RawAnswer",
    "ReceiverAnswerCount",
    "ReceiverCounts",
    "Role",
    "RoleLine",
    "StaffChat",
    "StoredFile",
    "StoredResponse",
    "SurveyCounts",
    "Unit",
]
