"""The tables, by area, and their SQLAlchemy Core handles (``DOSSIERS``, ``OUTBOX``…) that the repositories query.

storage/models.py gathers every table into the one metadata that Alembic compares with the migrations.
"""
