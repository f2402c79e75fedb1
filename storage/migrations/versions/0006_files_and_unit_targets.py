"""Files the product keeps (digest charts, monthly and quarterly workbooks) and each unit's own targets.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "files",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("unit_id", ID, nullable=True),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_files_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("token", name=op.f("uq_files_token")),
    )
    op.create_index("ix_files_unit_id_kind_period", "files", ["unit_id", "kind", "period"], unique=False)
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_satisfaction", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("target_on_time", sa.Float(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("target_on_time")
        batch_op.drop_column("target_satisfaction")
    op.drop_index("ix_files_unit_id_kind_period", table_name="files")
    op.drop_table("files")
