"""The report reads a unit's answers to a form over a period from one covering index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_answers_report",
        "answers",
        ["unit_id", "form_id", "answered_at", "field_id", "question_code", "value"],
        unique=False,
    )
    op.drop_index("ix_answers_unit_id_answered_at", table_name="answers")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_answers_unit_id_answered_at", "answers", ["unit_id", "answered_at"], unique=False)
    op.drop_index("ix_answers_report", table_name="answers")
