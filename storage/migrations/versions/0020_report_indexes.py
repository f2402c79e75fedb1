"""The report's answers read from indexes alone: the respondents too, and the groups in their own order.

``ix_answers_report`` gains ``invitation_id`` so that the respondents (distinct surveys answered in a period)
are counted from the index, not from every answer's row. ``ix_answers_groups`` holds a unit's answers to a
form in the order of the report's groups (field, question, value) and then by time: SQLite counts each
group's answers in the period with one seek, instead of sorting every answer of the period.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ["unit_id", "form_id", "answered_at", "field_id", "question_code", "value"]
GROUPS = ["unit_id", "form_id", "field_id", "question_code", "value", "answered_at"]


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("ix_answers_report", table_name="answers")
    op.create_index("ix_answers_report", "answers", [*OLD, "invitation_id"], unique=False)
    op.create_index("ix_answers_groups", "answers", GROUPS, unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_answers_groups", table_name="answers")
    op.drop_index("ix_answers_report", table_name="answers")
    op.create_index("ix_answers_report", "answers", OLD, unique=False)
