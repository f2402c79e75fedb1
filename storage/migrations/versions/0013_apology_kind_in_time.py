"""Apologies: their kind (a delay, or an error in handling) and whether each was issued in time.

A dossier may now have one delay apology and, apart from it, one error apology (no new date): the
unique dossier id becomes unique (dossier id, kind). ``in_time`` records whether a delay apology was
issued no later than the working day before the due date (docs/METHOD.md, the apology rule); it is null for an error
apology, which has no deadline. The apologies issued before this revision are judged here by Vietnam's
public holidays and weekends (the administrator's override file is not read by a migration).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import holidays
import sqlalchemy as sa
from alembic import op

from storage.migrations.helpers import local_moment

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _last_permitted_day(due: date) -> date:
    """The working day before ``due`` (weekends and public holidays skipped)."""
    days_off = holidays.country_holidays("VN", years=[due.year - 1, due.year])
    day = due - timedelta(days=1)
    while day.weekday() >= 5 or day in days_off:
        day -= timedelta(days=1)
    return day


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("apologies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=8), server_default="delay", nullable=False))
        batch_op.add_column(sa.Column("in_time", sa.Boolean(), nullable=True))
        batch_op.alter_column("new_due_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.drop_constraint("uq_apologies_dossier_id", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_apologies_dossier_id_kind"), ["dossier_id", "kind"])
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT apologies.id, apologies.issued_at, dossiers.due_at FROM apologies "
            "JOIN dossiers ON dossiers.id = apologies.dossier_id"
        )
    ).all()
    for apology_id, issued_at, due_at in rows:
        in_time = local_moment(issued_at).date() <= _last_permitted_day(local_moment(due_at).date())
        connection.execute(
            sa.text("UPDATE apologies SET in_time = :in_time WHERE id = :id"), {"in_time": in_time, "id": apology_id}
        )


def downgrade() -> None:
    """Revert this revision (the error apologies are dropped: the old schema allows one apology per dossier)."""
    op.execute("DELETE FROM apologies WHERE kind <> 'delay'")
    with op.batch_alter_table("apologies", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_apologies_dossier_id_kind"), type_="unique")
        batch_op.create_unique_constraint("uq_apologies_dossier_id", ["dossier_id"])
        batch_op.alter_column("new_due_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_column("in_time")
        batch_op.drop_column("kind")
