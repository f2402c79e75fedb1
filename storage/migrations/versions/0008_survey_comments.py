"""Survey comments kept apart from who wrote them (unit and day only).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "survey_comments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_survey_comments_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_comments")),
    )
    op.create_index("ix_survey_comments_unit_id_day", "survey_comments", ["unit_id", "day"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_survey_comments_unit_id_day", table_name="survey_comments")
    op.drop_table("survey_comments")
