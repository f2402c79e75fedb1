"""Roles can be taken away, and the audit log is attributable to a unit.

``roles.granted_by`` / ``roles.revoked_by`` and ``invites.created_by``: who gave and who took a role (a command
line's operating-system user, a chat, the service). Roles and invites made before this revision were all made at
the command line: they are marked ``cli``.

``audit_log.unit_id``: the unit an act concerns, so that the log can be read per unit; set for the rows already
written from their subject where it names one (a unit, a dossier, a feedback, a person's latest dossier).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = (
    "UPDATE audit_log SET unit_id = (SELECT u.id FROM units u WHERE 'unit:' || u.code = audit_log.subject) "
    "WHERE subject LIKE 'unit:%'",
    "UPDATE audit_log SET unit_id = (SELECT d.unit_id FROM dossiers d WHERE 'dossier:' || d.code = audit_log.subject)"
    " WHERE subject LIKE 'dossier:%'",
    "UPDATE audit_log SET unit_id = (SELECT f.unit_id FROM feedback f "
    "WHERE 'feedback:' || CAST(f.id AS VARCHAR(20)) = audit_log.subject) WHERE subject LIKE 'feedback:%'",
    "UPDATE audit_log SET unit_id = (SELECT d.unit_id FROM dossiers d "
    "WHERE 'person:' || CAST(d.applicant_id AS VARCHAR(20)) = audit_log.subject "
    "OR 'person:' || CAST(d.representative_id AS VARCHAR(20)) = audit_log.subject "
    "ORDER BY d.received_at DESC, d.id DESC LIMIT 1) WHERE subject LIKE 'person:%'",
    "UPDATE roles SET granted_by = 'cli'",
    "UPDATE invites SET created_by = 'cli'",
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_audit_log_unit_id_units"), "units", ["unit_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(batch.f("ix_audit_log_unit_id_at"), ["unit_id", "at"], unique=False)
    with op.batch_alter_table("roles") as batch:
        batch.add_column(sa.Column("granted_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("created_by")
    with op.batch_alter_table("roles") as batch:
        batch.drop_column("revoked_by")
        batch.drop_column("granted_by")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index(batch.f("ix_audit_log_unit_id_at"))
        batch.drop_constraint(batch.f("fk_audit_log_unit_id_units"), type_="foreignkey")
        batch.drop_column("unit_id")
