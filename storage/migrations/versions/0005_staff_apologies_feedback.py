"""Staff roles and one-time invites, chat drafts, dossier alerts, feedback, and numbered apology slips.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "roles",
        sa.Column("id", ID, nullable=False),
        sa.Column("identity_id", ID, nullable=False),
        sa.Column("unit_id", ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("officer_name", sa.String(length=100), nullable=True),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("granted_at", MOMENT, nullable=False),
        sa.Column("revoked_at", MOMENT, nullable=True),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channel_identities.id"],
            name=op.f("fk_roles_identity_id_channel_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_roles_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("identity_id", "unit_id", "role", name=op.f("uq_roles_identity_id_unit_id_role")),
    )
    op.create_index(op.f("ix_roles_identity_id"), "roles", ["identity_id"], unique=False)
    op.create_index(op.f("ix_roles_unit_id"), "roles", ["unit_id"], unique=False)
    op.create_table(
        "invites",
        sa.Column("id", ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("unit_id", ID, nullable=False),
        sa.Column("officer_name", sa.String(length=100), nullable=True),
        sa.Column("lead", sa.Boolean(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("expires_at", MOMENT, nullable=False),
        sa.Column("used_at", MOMENT, nullable=True),
        sa.Column("used_by", ID, nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_invites_unit_id_units")),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["channel_identities.id"],
            name=op.f("fk_invites_used_by_channel_identities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invites_code_hash")),
    )
    op.create_table(
        "drafts",
        sa.Column("identity_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channel_identities.id"],
            name=op.f("fk_drafts_identity_id_channel_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_id", name=op.f("pk_drafts")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("dossier_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sent_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_alerts_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("dossier_id", "kind", name=op.f("uq_alerts_dossier_id_kind")),
    )
    op.create_table(
        "feedback",
        sa.Column("id", ID, nullable=False),
        sa.Column("unit_id", ID, nullable=False),
        sa.Column("dossier_id", ID, nullable=True),
        sa.Column("invitation_id", ID, nullable=True),
        sa.Column("person_id", ID, nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("answered_at", MOMENT, nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("closed_at", MOMENT, nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_feedback_dossier_id_dossiers"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_feedback_invitation_id_invitations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_feedback_person_id_people"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_feedback_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_person_id"), "feedback", ["person_id"], unique=False)
    op.create_index(
        "ix_feedback_unit_id_status_created_at", "feedback", ["unit_id", "status", "created_at"], unique=False
    )
    with op.batch_alter_table("apologies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_id", ID, nullable=True))
        batch_op.add_column(sa.Column("year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("pdf", sa.LargeBinary(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_apologies_unit_id_units"), "units", ["unit_id"], ["id"])
        batch_op.create_unique_constraint(batch_op.f("uq_apologies_unit_id_year_seq"), ["unit_id", "year", "seq"])
        batch_op.create_unique_constraint(batch_op.f("uq_apologies_token"), ["token"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("apologies", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_apologies_token"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_apologies_unit_id_year_seq"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_apologies_unit_id_units"), type_="foreignkey")
        for column in ("pdf", "token", "seq", "year", "unit_id"):
            batch_op.drop_column(column)
    op.drop_index("ix_feedback_unit_id_status_created_at", table_name="feedback")
    op.drop_index(op.f("ix_feedback_person_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("alerts")
    op.drop_table("drafts")
    op.drop_table("invites")
    op.drop_index(op.f("ix_roles_unit_id"), table_name="roles")
    op.drop_index(op.f("ix_roles_identity_id"), table_name="roles")
    op.drop_table("roles")
