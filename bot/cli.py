"""The `sipasbot` command (README, "What it does today"). User errors end with one line and a non-zero exit.

This module builds the parser alone, with the wording and nothing of the commands: ``--help`` and a mistyped line
are answered at once. The commands' code (the application, the database) is in bot/cli_commands.py, loaded once
the line is parsed; a command that needs only the settings and the database (``units list``) runs from
bot/cli_slim.py without the application. tests/test_cli_imports.py holds all three to it.
"""

from __future__ import annotations

import argparse
import gc
import logging
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

from bot.cli_admin import add_commands as add_admin_commands
from bot.cli_admin import operator
from bot.cli_errors import UsageError, unexpected
from bot.cli_units import add_set_command as add_unit_set_command
from bot.cli_units import add_settings as add_unit_settings
from bot.logs import configure as configure_logging
from bot.logs import scrub
from bot.texts import choose_locale, say
from bot.texts.arguments import Formatter as ArgumentFormatter
from bot.texts.arguments import metavar
from bot.texts.arguments import words as argparse_words
from handlers.leader.chart import ACCEPTED as CHART_FORMATS
from handlers.leader.chart import format_of
from handlers.leader.periods import PERIOD_CHOICES, period_kind

log = logging.getLogger("sipasbot")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", ArgumentFormatter)
        super().__init__(*args, **kwargs)

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("metavar", metavar("command"))
        return super().add_subparsers(**kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(say("cli.see_help", message=message, prog=self.prog))


def _date(text: str) -> date:
    """A date typed as YYYY-MM-DD or dd/mm/yyyy."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            return datetime.strptime(text, "%d/%m/%Y").date()
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(say("cli.not_a_date", text=text)) from None


def _chart_file(text: str) -> Path:
    """A file to draw the chart into: its extension says the format (.png, .jpg, .jpeg, .svg, .pdf)."""
    if format_of(text) is None:
        raise argparse.ArgumentTypeError(say("cli.digest.chart_format", name=text, accepted=CHART_FORMATS))
    return Path(text)


def _period(text: str) -> str:
    """A period as typed (ngay, tuan, thang, quy, 6thang, 9thang, nam; accents and spaces allowed)."""
    kind = period_kind(text)
    if kind is None:
        raise argparse.ArgumentTypeError(say("cli.unknown_period", text=text, choices=PERIOD_CHOICES))
    return kind


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sipasbot", description=say("cli.help.description"))
    parser.add_argument("--debug", action="store_true", help=say("cli.help.debug"))
    parser.add_argument("--lang", choices=["vi", "en"], help=say("cli.help.lang"))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("demo", help=say("cli.help.demo"), description=say("cli.help.demo"))
    run = commands.add_parser("run", help=say("cli.help.run"), description=say("cli.help.run"))
    run.add_argument("--role", choices=["all", "web"], default="all", help=say("cli.help.run.role"))

    shell = commands.add_parser("shell", help=say("cli.help.shell"), description=say("cli.help.shell"))
    shell.add_argument(
        "--as", dest="role", choices=["citizen", "staff", "leader"], required=True, help=say("cli.help.shell.as")
    )
    shell.add_argument("--user", help=say("cli.help.shell.user_by_role"))
    shell.add_argument("--unit", help=say("cli.help.shell.unit"))
    shell.add_argument("--name", help=say("cli.help.officer_name"))
    shell.add_argument("--files", type=Path, metavar=metavar("DIR"), help=say("cli.help.shell.files"))

    invite = commands.add_parser("invite", help=say("cli.help.invite"), description=say("cli.help.invite"))
    invite.add_argument("--role", choices=["staff", "leader", "admin"], required=True, help=say("cli.help.invite.role"))
    invite.add_argument("--unit", required=True, help=say("cli.help.invite.unit"))
    invite.add_argument("--name", help=say("cli.help.officer_name"))
    invite.add_argument("--lead", action="store_true", help=say("cli.help.invite.lead"))
    invite.add_argument("--days", type=int, default=7, help=say("cli.help.invite.days"))

    digest = commands.add_parser("digest", help=say("cli.help.digest"), description=say("cli.help.digest"))
    digest.add_argument("--unit", required=True, help=say("cli.help.unit_code"))
    digest.add_argument("--date", type=_date, help=say("cli.help.digest.date"))
    digest.add_argument(
        "--period", type=_period, default="day", help=say("cli.help.digest.period", choices=PERIOD_CHOICES)
    )
    digest.add_argument("--send", action="store_true", help=say("cli.help.digest.send"))
    digest.add_argument(
        "--chart", type=_chart_file, metavar=metavar("FILE"), help=say("cli.help.digest.chart", formats=CHART_FORMATS)
    )
    digest.add_argument(
        "--children",
        "--include-children",
        dest="include_children",
        action="store_true",
        help=say("cli.help.digest.children"),
    )

    holidays = commands.add_parser("holidays", help=say("cli.help.holidays"), description=say("cli.help.holidays"))
    holiday_commands = holidays.add_subparsers(dest="holidays_command", required=True, parser_class=_Parser)
    holiday_list = holiday_commands.add_parser(
        "list", help=say("cli.help.holidays.list"), description=say("cli.help.holidays.list")
    )
    holiday_list.add_argument("--year", type=int, help=say("cli.help.holidays.year"))

    db = commands.add_parser("db", help=say("cli.help.db"), description=say("cli.help.db"))
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db_commands.add_parser("upgrade", help=say("cli.help.db.upgrade"), description=say("cli.help.db.upgrade"))
    backup = db_commands.add_parser("backup", help=say("cli.help.db.backup"), description=say("cli.help.db.backup"))
    backup.add_argument("file", type=Path, metavar=metavar("file"), help=say("cli.help.db.backup.file"))

    units = commands.add_parser("units", help=say("cli.help.units"), description=say("cli.help.units"))
    unit_commands = units.add_subparsers(dest="units_command", required=True, parser_class=_Parser)
    add = unit_commands.add_parser("add", help=say("cli.help.units.add"), description=say("cli.help.units.add"))
    add.add_argument("code", metavar=metavar("code"), help=say("cli.help.units.add.code"))
    add.add_argument("name", metavar=metavar("name"), help=say("cli.help.units.add.name"))
    add.add_argument("--parent", help=say("cli.help.units.add.parent"))
    add.add_argument("--form", help=say("cli.help.units.add.form"))
    add_unit_settings(add)
    add_unit_set_command(unit_commands, metavar("code"))
    unit_commands.add_parser("list", help=say("cli.help.units.list"), description=say("cli.help.units.list"))
    units_import = unit_commands.add_parser(
        "import", help=say("cli.help.units.import"), description=say("cli.help.units.import.description")
    )
    source = units_import.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path, metavar=metavar("file"), help=say("cli.help.units.import.file"))
    source.add_argument("--province", help=say("cli.help.units.import.province"))

    dossiers = commands.add_parser("dossiers", help=say("cli.help.dossiers"), description=say("cli.help.dossiers"))
    dossier_commands = dossiers.add_subparsers(dest="dossiers_command", required=True, parser_class=_Parser)
    dossier_import = dossier_commands.add_parser(
        "import",
        help=say("cli.help.dossiers.import"),
        description=say("cli.help.dossiers.import.description"),
        epilog=say("cli.help.dossiers.import.epilog"),
    )
    dossier_import.add_argument("file", type=Path, metavar=metavar("file"), help=say("cli.help.dossiers.import.file"))
    dossier_import.add_argument("--unit", help=say("cli.help.dossiers.import.unit"))
    dossier_import.add_argument("--sheet", help=say("cli.help.dossiers.import.sheet"))
    dossier_import.add_argument("--progress", action="store_true", help=say("cli.help.dossiers.import.progress"))

    apikey = commands.add_parser("apikey", help=say("cli.help.apikey"), description=say("cli.help.apikey"))
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True, parser_class=_Parser)
    revoke = apikey_commands.add_parser(
        "revoke", help=say("cli.help.apikey.revoke"), description=say("cli.help.apikey.revoke")
    )
    revoke.add_argument("name", metavar=metavar("name"), help=say("cli.help.apikey.name"))
    create = apikey_commands.add_parser(
        "create", help=say("cli.help.apikey.create"), description=say("cli.help.apikey.create")
    )
    create.add_argument("name", metavar=metavar("name"), help=say("cli.help.apikey.name"))
    create.add_argument("--scopes", required=True, help=say("cli.help.apikey.scopes"))
    create.add_argument("--units", metavar=metavar("units"), help=say("cli.help.apikey.units"))
    apikey_commands.add_parser("list", help=say("cli.help.apikey.list"), description=say("cli.help.apikey.list"))

    zalo = commands.add_parser("zalo-oa", help=say("cli.help.zalo"), description=say("cli.help.zalo"))
    zalo_commands = zalo.add_subparsers(dest="zalo_command", required=True, parser_class=_Parser)
    tokens = zalo_commands.add_parser(
        "tokens", help=say("cli.help.zalo.tokens"), description=say("cli.help.zalo.tokens")
    )
    tokens.add_argument("--access-token", required=True, help=say("cli.help.zalo.access"))
    tokens.add_argument("--refresh-token", required=True, help=say("cli.help.zalo.refresh"))
    tokens.add_argument("--expires-in", type=int, default=90000, help=say("cli.help.zalo.expires"))

    targets = commands.add_parser("targets", help=say("cli.help.targets"), description=say("cli.help.targets"))
    target_commands = targets.add_subparsers(dest="targets_command", required=True, parser_class=_Parser)
    target_set = target_commands.add_parser(
        "set", help=say("cli.help.targets.set"), description=say("cli.help.targets.set")
    )
    target_set.add_argument("--unit", required=True, help=say("cli.help.unit_code"))
    target_set.add_argument("--field", help=say("cli.help.targets.field"))
    target_set.add_argument("--satisfaction", type=float, help=say("cli.help.targets.satisfaction"))
    target_set.add_argument("--on-time", dest="on_time", type=float, help=say("cli.help.targets.on_time"))
    target_list = target_commands.add_parser(
        "list", help=say("cli.help.targets.list"), description=say("cli.help.targets.list")
    )
    target_list.add_argument("--unit", required=True, help=say("cli.help.unit_code"))

    report = commands.add_parser("report", help=say("cli.help.report"), description=say("cli.help.report"))
    report.add_argument("--unit", required=True, help=say("cli.help.unit_code"))
    report.add_argument("--from", dest="start", type=_date, help=say("cli.help.report.from"))
    report.add_argument("--to", dest="end", type=_date, help=say("cli.help.report.to"))
    report.add_argument("--period", type=_period, help=say("cli.help.report.period", choices=PERIOD_CHOICES))
    report.add_argument("--date", type=_date, help=say("cli.help.report.date"))
    report.add_argument(
        "--format", choices=["text", "json", "xlsx"], default="text", help=say("cli.help.report.format")
    )
    report.add_argument(
        "--children",
        "--include-children",
        dest="include_children",
        action="store_true",
        help=say("cli.help.report.children"),
    )
    report.add_argument("--form", help=say("cli.help.report.form"))
    report.add_argument("--out", type=Path, help=say("cli.help.report.out"))
    add_admin_commands(commands, _date)  # roles list|revoke, audit list
    return parser


def _slim(args: argparse.Namespace) -> bool:
    """Whether the command line runs on bot/cli_slim.py's context (``units list``) rather than the application."""
    return args.command == "units" and getattr(args, "units_command", None) == "list"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit status 0 ok, 2 user error, 3 import rows refused, 1 internal error, 130 interrupted."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    configure_logging("text")
    words = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in words
    choose_locale(words)
    collecting, first = gc.isenabled(), "bot.cli_outcome" not in sys.modules
    gc.disable()  # the commands' modules load next: many objects, little garbage, no collection
    try:
        with argparse_words():
            args = _parser().parse_args(argv)
        actor = "service" if args.command == "run" else operator()
        # the commands' code (the application, the database, the channels' libraries) loads once the line is parsed;
        # those that need only the settings and the database run without the application (bot/cli_slim.py)
        if _slim(args):
            from bot.cli_slim import execute
        else:
            from bot.cli_commands import execute
    except UsageError as exc:
        print(scrub(say("cli.error", message=exc)), file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - reported in one line by unexpected()
        return unexpected(exc, debug)
    finally:
        if first:  # the code just loaded lives as long as the process: no collection (nor the one at exit) scans it
            gc.freeze()
        if collecting:
            gc.enable()
    return execute(args, actor, debug)


if __name__ == "__main__":
    sys.exit(main())
