"""Units that issue documents, and apology slips numbered in the issuing unit's series.

``units.issues_documents``: whether a unit issues documents in its own name (a commune, a ward: every unit
known so far, as every one issued its own slips until now) or not (a reception point under a ward, set with
``sipasbot units set CODE --issues-documents no``). A slip is issued in the name of the nearest unit, itself or
above it, that does; ``units.place`` is that unit's place name for the slip's date line ("Hoàn Kiếm, ngày …",
None: taken from its name) and ``units.signer_name`` / ``units.signer_title`` who signs its slips (None: the
deployment's settings).

``apologies.unit_id`` is from now on the issuing unit and ``seq`` its series per year. Every slip issued so far
was issued by its dossier's own unit, so the numbers already given stay as they are and stay in that unit's
series; a slip recorded before numbers had a unit (revisions before 0005) is put in its dossier's unit's series
for the year it was issued in, its number kept, so that the series goes on after it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.migrations.helpers import local_moment

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEADING_NUMBER = re.compile(r"^\s*0*(\d{1,9})\s*/")


def upgrade() -> None:
    """Apply this revision."""
    # plain ADD COLUMNs: SQLite adds them in place (a batch copy of ``units`` would trip the foreign keys to it)
    op.add_column("units", sa.Column("issues_documents", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("units", sa.Column("place", sa.String(length=100), nullable=True))
    op.add_column("units", sa.Column("signer_name", sa.String(length=100), nullable=True))
    op.add_column("units", sa.Column("signer_title", sa.String(length=200), nullable=True))
    connection = op.get_bind()
    taken = {
        (unit_id, year, seq)
        for unit_id, year, seq in connection.execute(
            sa.text("SELECT unit_id, year, seq FROM apologies WHERE unit_id IS NOT NULL AND seq IS NOT NULL")
        )
    }
    unnumbered = connection.execute(
        sa.text(
            "SELECT apologies.id, apologies.issued_at, apologies.number, dossiers.unit_id FROM apologies "
            "JOIN dossiers ON dossiers.id = apologies.dossier_id WHERE apologies.unit_id IS NULL ORDER BY apologies.id"
        )
    ).all()
    for apology_id, issued_at, number, unit_id in unnumbered:
        year = local_moment(issued_at).year
        found = LEADING_NUMBER.match(number or "")
        seq = int(found.group(1)) if found else None
        if seq is not None and (unit_id, year, seq) in taken:
            seq = None  # a number given twice in the old days: kept as printed, outside the series
        if seq is not None:
            taken.add((unit_id, year, seq))
        connection.execute(
            sa.text("UPDATE apologies SET unit_id = :unit, year = :year, seq = :seq WHERE id = :id"),
            {"unit": unit_id, "year": year, "seq": seq, "id": apology_id},
        )


def downgrade() -> None:
    """Revert this revision (the slips keep the unit and number they were issued with)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column in ("signer_title", "signer_name", "place", "issues_documents"):
        if sqlite:  # in place (SQLite 3.35+): a batch copy of ``units`` would trip the foreign keys to it
            op.execute(f"ALTER TABLE units DROP COLUMN {column}")
        else:
            op.drop_column("units", column)
