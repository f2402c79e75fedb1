"""The repositories: queries over one connection, as SQLAlchemy Core, one module per repository.

Repositories never commit: the unit of work (storage/uow.py) opens the transaction, makes the repositories it
is asked for (``uow.outbox``, ``uow.chats``…) and commits. What they share is in base.py; the tables they query
are in storage/tables/, the values they return in storage/values/.
"""
