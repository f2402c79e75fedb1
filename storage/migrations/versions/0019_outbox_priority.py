"""Replies before bulk: each outbox message says whether it answers the recipient's own action.

``outbox.priority``: 0 for a reply to what the recipient just did (an answer, a command, a staff reply to
their complaint), sent before the unsolicited messages; 1 for the bulk (invitations, reminders, digests,
apologies). Every message queued so far, and any caller that does not say, is bulk. The index serves the
delivering instance's look at the pending replies of a channel on every wake-up (docs/CHANNELS.md).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # a plain ADD COLUMN: SQLite adds it in place (no batch copy of the outbox)
    op.add_column("outbox", sa.Column("priority", sa.SmallInteger(), server_default="1", nullable=False))
    op.create_index("ix_outbox_priority", "outbox", ["status", "channel", "priority", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_outbox_priority", table_name="outbox")
    if op.get_bind().dialect.name == "sqlite":  # in place (SQLite 3.35+): no batch copy of the outbox
        op.execute("ALTER TABLE outbox DROP COLUMN priority")
    else:
        op.drop_column("outbox", "priority")
