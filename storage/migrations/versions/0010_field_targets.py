"""Each unit's targets per field (lĩnh vực): on time and satisfaction, beside the unit's own.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "field_targets",
        sa.Column("id", ID, nullable=False),
        sa.Column("unit_id", ID, nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("target_satisfaction", sa.Float(), nullable=True),
        sa.Column("target_on_time", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_field_targets_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_targets")),
        sa.UniqueConstraint("unit_id", "field", name=op.f("uq_field_targets_unit_id_field")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("field_targets")
