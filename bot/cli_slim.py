"""The commands that need only the settings and the database: ``sipasbot units list``.

They run on a slim context (the settings, the database brought up to date as the application brings it, a unit
of work) rather than on the application (bot/app.py), which reads every form, the wording catalogs and the work
calendar and loads every handler. Their failures end as every command's do (bot/cli_outcome.py). bot/cli.py sends
a parsed command line here when its ``_slim`` says so; tests/test_cli_imports.py holds this path to what it
loads.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable

from bot.cli_outcome import finish
from bot.cli_units import units_list
from bot.config import Settings, load_settings
from bot.form_setting import check_survey_form
from bot.logs import configure as configure_logging
from bot.logs import remember_all
from storage.db import Database
from storage.schema_state import bring_up_to_date
from storage.uow import UnitOfWork


class SlimContext:
    """The settings and the database of one command; ``uow()`` as the handlers' services give it."""

    def __init__(self, settings: Settings, actor: str) -> None:
        self.settings = settings
        self.actor = actor  # who the audit log would name, as the application's services do
        self.database = Database(settings.database_url, pool_size=settings.database_pool_size)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work."""
        return UnitOfWork(self.database, read_only=read_only)


async def _with_context(action: Callable[[SlimContext], Awaitable[None]], actor: str) -> None:
    """Read and check the settings as the application does, bring the schema up to date, run, close."""
    settings = load_settings()
    configure_logging(settings.log_format, logging.getLogger().level)
    remember_all(settings.secret_values())  # never in a log line or an error message
    check_survey_form(settings)  # refused in the application's words (bot/form_setting.py)
    context = SlimContext(settings, actor)
    try:
        await bring_up_to_date(context.database)
        await action(context)
    finally:
        await context.database.close()


def execute(args: argparse.Namespace, actor: str, debug: bool) -> int:
    """Run a slim command line; the exit status as bot/cli_commands.execute gives it."""
    return finish(lambda: _with_context(units_list, actor), debug)
