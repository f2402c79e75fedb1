"""Every table, in one metadata: Alembic's env.py and the tests import the models from here.

The tables themselves live by area in storage/tables/; Alembic migrations are the authority on the schema,
the models mirror them for queries.
"""

from __future__ import annotations

from storage.tables.base import Base, UTCDateTime
from storage.tables.dossiers import DossierEventRow, DossierRow, LinkCodeRow
from storage.tables.messaging import InboundEventRow, InboxRow, OutboxRow, PlatformTokenRow
from storage.tables.people import IdentityRow, PersonRow
from storage.tables.service import ApiKeyRow, ApiKeyUnitRow, AuditRow, IdempotencyRow, InstanceRow, JobRunRow
from storage.tables.staff import AlertRow, ApologyRow, DraftRow, FeedbackRow, FileRow, InviteRow, RoleRow
from storage.tables.survey import AnswerRow, InvitationRow, SurveyCommentRow
from storage.tables.units import FieldRow, FieldTargetRow, UnitRow

__all__ = [
    "AlertRow",
    "AnswerRow",
    "ApiKeyRow",
    "ApiKeyUnitRow",
    "ApologyRow",
    "AuditRow",
    "Base",
    "DossierEventRow",
    "DossierRow",
    "DraftRow",
    "FeedbackRow",
    "FieldRow",
    "FieldTargetRow",
    "FileRow",
    "IdempotencyRow",
    "IdentityRow",
    "InboundEventRow",
    "InboxRow",
    "InstanceRow",
    "InvitationRow",
    "InviteRow",
    "JobRunRow",
    "LinkCodeRow",
    "OutboxRow",
    "PersonRow",
    "PlatformTokenRow",
    "RoleRow",
    "SurveyCommentRow",
    "UTCDateTime",
    "UnitRow",
]
