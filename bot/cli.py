"""The `sipasbot` command (README, "What it does today"). User errors end with one line and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.app import App
from bot.cli_admin import add_commands as add_admin_commands
from bot.cli_admin import dispatch as admin_dispatch
from bot.cli_admin import operator
from bot.cli_units import add_set_command as add_unit_set_command
from bot.cli_units import add_settings as add_unit_settings
from bot.cli_units import units_add, units_list, units_set
from bot.config import DEMO_DATABASE_URL, SettingsError, load_settings
from bot.keyboard import Left
from bot.logs import configure as configure_logging
from bot.logs import scrub
from bot.startup_checks import warn_at_start
from bot.terminal import DEMO_UNIT, run_demo, run_shell
from bot.texts import choose_locale, current_locale, say
from bot.texts.arguments import Formatter as ArgumentFormatter
from bot.texts.arguments import metavar
from bot.texts.arguments import words as argparse_words
from handlers.audit import AuditTrail
from handlers.calendar import CalendarError
from handlers.chart import ACCEPTED as CHART_FORMATS
from handlers.chart import format_of
from handlers.errors import HandlerError
from handlers.leader import PERIOD_CHOICES, period_kind, period_of, period_title
from handlers.reporting import Period, render_text
from handlers.targets import TargetBook, percent_text
from storage.db import DatabaseError
from storage.values import Unit
from survey_forms.catalog import FormError

log = logging.getLogger("sipasbot")


class UsageError(Exception):
    """A bad command line."""


class RowsRejected(Exception):
    """An import applied its good rows and refused others (exit status 3)."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


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


async def _with_app(action: Callable[[App], Awaitable[None]], actor: str = "service", demo: bool = False) -> None:
    settings = load_settings()
    if demo and "database_url" not in settings.model_fields_set:
        settings = load_settings(database_url=DEMO_DATABASE_URL)
    configure_logging(settings.log_format, logging.getLogger().level)
    app = App(settings)
    app.services.actor = actor  # who the audit log names for acts at the command line
    try:
        await app.start()
        await action(app)
    finally:
        await app.close()


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return say("cli.invalid_url")


async def _db_upgrade(app: App) -> None:
    from storage.migrate import current_revision

    revision = await current_revision(app.services.database)
    print(say("cli.db.revision", url=_safe_url(app.settings.database_url), revision=revision))


async def _db_backup(app: App, target: Path) -> None:
    from storage.db import backup_sqlite

    size = await backup_sqlite(app.services.database, target)
    print(say("cli.db.backed_up", url=_safe_url(app.settings.database_url), target=target, size=size))


async def _units_import(app: App, args: argparse.Namespace) -> None:
    from handlers.units import import_units, read_unit_file, vietnam_units

    lines = vietnam_units(args.province) if args.province else read_unit_file(args.file)
    done = await import_units(app.services, lines, str(args.file or args.province))
    print(say("cli.units.imported", added=done.added, kept=done.kept))


async def _invite(app: App, args: argparse.Namespace) -> None:
    if args.lead and args.role != "staff":
        raise UsageError(say("cli.invite.lead_staff_only"))
    code = await app.roles.invite(args.role, args.unit, officer_name=args.name, lead=args.lead, days=args.days)
    print(code)
    until = app.services.policy.show(app.services.clock() + timedelta(days=args.days))
    print(say("cli.invite.note", code=code, until=until), file=sys.stderr)


async def _holidays(app: App, args: argparse.Namespace) -> None:
    calendar, policy = app.services.calendar, app.services.policy
    year = args.year or policy.local_date(app.services.clock()).year
    if not 1900 <= year <= 2200:
        raise UsageError(say("cli.holidays.year_range"))
    print(say("cli.holidays.title", year=year))
    for day in calendar.days_off_in(year):
        origin = say("cli.holidays.from_file") if day.added else ""
        weekday = say(f"cli.weekday.{day.day.weekday()}")
        print(say("cli.holidays.day", day=f"{day.day:%d/%m/%Y}", weekday=weekday, name=day.name, origin=origin))
    working = calendar.make_up_days_in(year)
    if working:
        print(say("cli.holidays.make_up_title"))
        for made_up in working:
            why = (
                say("cli.holidays.make_up_for", day=f"{made_up.swapped_for:%d/%m/%Y}")
                if made_up.swapped_for and not made_up.added
                else say("cli.holidays.working_from_file")
            )
            weekday = say(f"cli.weekday.{made_up.day.weekday()}")
            print(say("cli.holidays.day", day=f"{made_up.day:%d/%m/%Y}", weekday=weekday, name=why, origin=""))
    state = say("cli.holidays.file_present" if app.settings.holidays_file.exists() else "cli.holidays.file_missing")
    print(say("cli.holidays.file", path=app.settings.holidays_file, state=state))


async def _dossiers_import(app: App, args: argparse.Namespace) -> None:
    from handlers.imports import DossierImporter

    show_progress = args.progress or sys.stderr.isatty()

    def progress(done: int, total: int | None) -> None:
        if show_progress:
            line = say("cli.dossiers.progress_of", done=done, total=total) if total is not None else None
            print(line or say("cli.dossiers.progress", done=done), file=sys.stderr, flush=True)

    importer = DossierImporter(app.services)
    report = await importer.run(args.file, unit=args.unit, on_progress=progress, sheet=args.sheet)
    print(report.summary())
    if report.errors:
        raise RowsRejected(len(report.errors))


async def _digest(app: App, args: argparse.Namespace) -> None:
    services = app.services
    today = args.date or services.policy.local_date(services.clock())
    image = (format_of(args.chart) if args.chart else None) or "png"
    build = partial(app.digests.build, args.unit, today, args.period, include_children=args.include_children)
    digest = await build(chart_format="png" if args.send else image)  # leaders are sent the PNG
    print(digest.text)
    if args.chart:
        chart = (await build(chart_format=image)).chart if image != "png" and args.send else digest.chart
        try:
            args.chart.write_bytes(chart)
        except OSError as exc:
            raise UsageError(say("cli.cannot_write", path=args.chart, reason=exc.strerror)) from None
    if args.send:
        sent = await app.digests.queue(digest, services.clock())
        print(say("cli.digest.queued", count=sent), file=sys.stderr)


async def _report(app: App, args: argparse.Namespace) -> None:
    today = app.services.policy.local_date(app.services.clock())
    if args.period is not None:
        if args.start or args.end:
            raise UsageError(say("cli.report.period_with_dates"))
        period = period_of(args.period, args.date or today)
        start, end = period.start, period.end
    elif args.date is not None:
        raise UsageError(say("cli.report.date_without_period"))
    else:
        start = args.start or today.replace(day=1)
        end = args.end or today
    if args.format == "xlsx":
        if not args.out:
            raise UsageError(say("cli.report.xlsx_needs_out"))
        title = period_title(args.period or "", Period(start, end))
        content = await app.period_reports.workbook(
            args.unit, Period(start, end), title, include_children=args.include_children
        )
        try:
            args.out.write_bytes(content)
        except OSError as exc:
            raise UsageError(say("cli.cannot_write", path=args.out, reason=exc.strerror)) from None
        await AuditTrail(app.services).export_written(args.unit, "xlsx", str(args.out))
        print(say("cli.report.wrote", path=args.out, size=len(content)))
        return
    report = await app.reporter.satisfaction(
        args.unit, Period(start, end), args.include_children, form_id=args.form, breakdowns=True
    )
    output = (
        json.dumps(report, ensure_ascii=False, indent=2) if args.format == "json" else render_text(report, app.services)
    )
    if args.out:
        try:
            args.out.write_text(output + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(say("cli.cannot_write", path=args.out, reason=exc.strerror)) from None
        await AuditTrail(app.services).export_written(args.unit, args.format, str(args.out))
    else:
        print(output)


def _print_targets(unit: Unit, book: TargetBook) -> None:
    own = say("cli.targets.default")
    unit_goal = book.unit
    print(say("cli.targets.title", name=unit.name, code=unit.code))
    print(
        say(
            "cli.targets.unit",
            satisfaction=percent_text(unit_goal.satisfaction, ""),
            satisfaction_note=own if unit.target_satisfaction is None else "",
            on_time=percent_text(unit_goal.on_time, ""),
            on_time_note=own if unit.target_on_time is None else "",
        )
    )
    for field in book.fields:
        goal = book.for_field(field.field)
        inherited = say("cli.targets.inherited")
        print(
            say(
                "cli.targets.field",
                field=field.field,
                satisfaction=percent_text(goal.satisfaction, ""),
                satisfaction_note=inherited if field.satisfaction is None else "",
                on_time=percent_text(goal.on_time, ""),
                on_time_note=inherited if field.on_time is None else "",
            )
        )


async def _targets(app: App, args: argparse.Namespace) -> None:
    if args.targets_command == "set":
        await app.targets.set(args.unit, args.field, args.satisfaction, args.on_time)
    unit, book = await app.targets.listing(args.unit)
    _print_targets(unit, book)


async def _apikey_revoke(app: App, name: str) -> None:
    count = await app.api_keys.revoke(name)
    print(say("cli.apikey.revoked", count=count, name=name))


async def _apikey_create(app: App, args: argparse.Namespace) -> None:
    units = [u.strip() for u in (args.units or "").split(",") if u.strip()]
    if not units:
        raise UsageError(say("cli.apikey.units_needed"))
    key = await app.api_keys.create(args.name, args.scopes.split(","), units)
    print(key)
    shown = say("cli.apikey.all_units") if units == ["all"] else ", ".join(sorted(set(units)))
    print(say("cli.apikey.created_note", units=shown), file=sys.stderr)


async def _apikey_list(app: App) -> None:
    keys = await app.api_keys.listing()
    if not keys:
        print(say("cli.apikey.none"))
        return
    show = app.services.policy.show
    print(say("cli.apikey.list_header"))
    for key in keys:
        units = say("cli.apikey.all_units") if key.all_units else ",".join(key.units) or say("cli.apikey.no_units")
        print(
            say(
                "cli.apikey.list_row",
                name=key.name,
                prefix=key.prefix,
                scopes=",".join(key.scopes),
                units=units,
                created=show(key.created_at),
                last_used=show(key.last_used_at) if key.last_used_at else say("cli.apikey.never"),
                revoked=show(key.revoked_at) if key.revoked_at else say("cli.apikey.live"),
            )
        )


async def _zalo_tokens(app: App, args: argparse.Namespace) -> None:
    access, refresh = args.access_token.strip(), args.refresh_token.strip()
    if not access or not refresh or args.expires_in <= 0:
        raise UsageError(say("cli.zalo.bad_tokens"))
    services = app.services
    now = services.clock()
    async with services.uow() as uow:
        await uow.tokens.replace("zalo_oa", access, refresh, now + timedelta(seconds=args.expires_in), now)
        await uow.audit.add(services.actor, "zalo_oa.tokens", "channel:zalo_oa", {"expires_in": args.expires_in}, now)
        await uow.commit()
    print(say("cli.zalo.stored"))


async def _run(app: App, role: str) -> None:
    from bot.service import Service  # the service pulls in the web server and the channels' libraries

    logging.getLogger().setLevel(logging.INFO)
    warn_at_start(app.settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await Service(app, role=role).run(stop)


async def _demo(app: App) -> None:
    """The demo, on a database that holds no unit but its own (DEMO): never on a deployment's data."""
    async with app.services.uow(read_only=True) as uow:
        units = await uow.units.all()
    real = sorted(unit.code for unit in units if unit.code != DEMO_UNIT[0])
    if real:
        shown = ", ".join(real[:5]) + (", …" if len(real) > 5 else "")
        raise UsageError(say("cli.demo.real_units", url=_safe_url(app.settings.database_url), units=shown))
    await run_demo(app, sys.stdin, sys.stdout)


def _dispatch(args: argparse.Namespace) -> Callable[[App], Awaitable[None]]:
    admin = admin_dispatch(args)
    if admin is not None:
        return admin
    if args.command == "run":
        return lambda app: _run(app, args.role)
    if args.command == "demo":
        return _demo
    if args.command == "shell":
        if args.role != "citizen" and not args.unit:
            raise UsageError(say("cli.shell.needs_unit", role=args.role))
        return lambda app: run_shell(
            app,
            args.user,
            sys.stdin,
            sys.stdout,
            role=args.role,
            unit=args.unit,
            officer_name=args.name,
            files=args.files,
        )
    if args.command == "invite":
        return lambda app: _invite(app, args)
    if args.command == "holidays":
        return lambda app: _holidays(app, args)
    if args.command == "digest":
        return lambda app: _digest(app, args)
    if args.command == "db":
        if args.db_command == "backup":
            return lambda app: _db_backup(app, args.file)
        return _db_upgrade
    if args.command == "apikey":
        if args.apikey_command == "revoke":
            return lambda app: _apikey_revoke(app, args.name)
        if args.apikey_command == "list":
            return _apikey_list
        return lambda app: _apikey_create(app, args)
    if args.command == "zalo-oa":
        return lambda app: _zalo_tokens(app, args)
    if args.command == "targets":
        return lambda app: _targets(app, args)
    if args.command == "dossiers":
        return lambda app: _dossiers_import(app, args)
    if args.command == "units":
        if args.units_command == "add":
            return lambda app: units_add(app, args)
        if args.units_command == "set":
            return lambda app: units_set(app, args)
        if args.units_command == "import":
            return lambda app: _units_import(app, args)
        return units_list
    return lambda app: _report(app, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit status 0 ok, 2 user error, 3 import rows refused, 1 internal error, 130 interrupted."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    configure_logging("text")
    words = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in words
    choose_locale(words)
    try:
        with argparse_words():
            args = _parser().parse_args(argv)
        actor = "service" if args.command == "run" else operator()
        asyncio.run(_with_app(_dispatch(args), actor, demo=args.command == "demo"))
    except RowsRejected as exc:
        print(scrub(say("cli.error", message=say("cli.dossiers.rows_rejected", count=exc.count))), file=sys.stderr)
        return 3
    except HandlerError as exc:
        print(scrub(say("cli.error", message=exc.text(current_locale()))), file=sys.stderr)
        return 2
    except (DatabaseError, CalendarError) as exc:
        message = say(f"cli.{exc.key}", **exc.values) if exc.key else str(exc)
        print(scrub(say("cli.error", message=message)), file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(scrub(say("cli.error", message=say("cli.settings", problems=exc))), file=sys.stderr)
        return 2
    except (UsageError, FormError) as exc:
        print(scrub(say("cli.error", message=exc)), file=sys.stderr)
        return 2
    except OperationalError as exc:
        reason = say("cli.database_unusable", reason=str(exc.orig).splitlines()[0])
        print(scrub(say("cli.error", message=reason)), file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        print(scrub(say("cli.error", message=reason)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except Left:  # a second Ctrl-C in the shell or the demo: it said goodbye
        return 130
    except Exception as exc:
        if debug:
            log.exception("internal error")
        print(scrub(say("cli.internal_error", kind=type(exc).__name__, message=exc)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
