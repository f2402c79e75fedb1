"""API keys carry the units they may act for; an apology keeps the API key that issued it.

A key covers its units and every unit below them (``all_units``: the whole tree, a province's key).
Keys made before this revision get the units of the dossiers they are known to have written. The only
record of which key wrote what is the stored answer of an event sent with an Idempotency-Key (its scope
starts with the key's id and names the dossier); besides, when every dossier of the database belongs to
one unit, or there is only one unit, every key gets that unit (it cannot have written anyone else's).
A key for which neither tells gets no unit: it is refused until it is replaced by one made with --units.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_SCOPE = re.compile(r"^(\d+) POST /api/v1/dossiers/(.+)/events$")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "api_key_units",
        sa.Column("api_key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_api_key_units_api_key_id_api_keys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_api_key_units_unit_id_units")),
        sa.PrimaryKeyConstraint("api_key_id", "unit_id", name=op.f("pk_api_key_units")),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("all_units", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("apologies") as batch:
        batch.add_column(sa.Column("issued_key", sa.String(length=100), nullable=True))
    _units_of_existing_keys()


def _units_of_existing_keys() -> None:
    connection = op.get_bind()
    keys = [int(i) for i in connection.execute(sa.text("SELECT id FROM api_keys")).scalars()]
    if not keys:
        return
    units_of: dict[int, set[int]] = {key: set() for key in keys}
    unit_of_code = {
        str(code): int(unit_id) for code, unit_id in connection.execute(sa.text("SELECT code, unit_id FROM dossiers"))
    }
    for scope in connection.execute(sa.text("SELECT scope FROM idempotency_keys")).scalars():
        match = EVENT_SCOPE.fullmatch(str(scope))
        if match is None:
            continue
        key, code = int(match.group(1)), match.group(2)
        if key in units_of and code in unit_of_code:
            units_of[key].add(unit_of_code[code])
    only = set(unit_of_code.values()) or {int(u) for u in connection.execute(sa.text("SELECT id FROM units"))}
    if len(only) == 1:
        for units in units_of.values():
            units |= only
    rows = [{"api_key_id": key, "unit_id": unit} for key, units in units_of.items() for unit in sorted(units)]
    if rows:
        insert = sa.text("INSERT INTO api_key_units (api_key_id, unit_id) VALUES (:api_key_id, :unit_id)")
        connection.execute(insert, rows)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("apologies") as batch:
        batch.drop_column("issued_key")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("all_units")
    op.drop_table("api_key_units")
