"""Dossiers and their events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Dossier:
    """A dossier and where it stands."""

    id: int
    code: str
    unit_id: int
    procedure_code: str | None
    procedure_name: str
    field: str
    field_id: int
    channel: str
    applicant_id: int | None
    representative_id: int | None
    handler: str | None
    state: str
    received_at: datetime
    due_at: datetime
    finished_at: datetime | None
    returned_at: datetime | None
    cancelled_at: datetime | None
    on_time: bool | None
    zalo_optin: bool
    optin_token: str
    receiver: str | None = None  # the receiving (one-stop-shop counter) officer, where the export or API gives it
    applicant_kind: str | None = None  # "person", "organisation", or None: not said

    @property
    def respondent_id(self) -> int | None:
        """Whom to ask: the authorised representative where there is one, else the applicant."""
        return self.representative_id if self.representative_id is not None else self.applicant_id


@dataclass(frozen=True)
class DossierEvent:
    """One lifecycle event of a dossier, as its timeline shows it."""

    type: str
    at: datetime
    note: str | None
