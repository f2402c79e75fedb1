"""What each `sipasbot` command does, loaded once its command line is parsed (bot/cli.py builds the parser alone).

Every command opens the application (its settings, its database brought up to date) and runs on it, but those
that need only the settings and the database (bot/cli_slim.py: ``units list``); the failures a person can cause
end with one line and a non-zero exit status (bot/cli_outcome.py, for both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.app import App
from bot.cli_admin import dispatch as admin_dispatch
from bot.cli_errors import RowsRejected, UsageError
from bot.cli_outcome import finish
from bot.cli_units import units_add, units_set
from bot.config import DEMO_DATABASE_URL, load_settings
from bot.logs import configure as configure_logging
from bot.startup_checks import warn_at_start
from bot.terminal import DEMO_UNIT_CODE, run_demo, run_shell
from bot.texts import current_locale, say
from handlers.admin.audit import AuditTrail
from handlers.leader.chart import format_of
from handlers.leader.periods import Period, period_of, period_title
from handlers.leader.reporting import render_text
from handlers.leader.targets import TargetBook, percent_text
from storage.values import Unit

log = logging.getLogger("sipasbot")


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
    from handlers.admin.units import import_units, read_unit_file, vietnam_units

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
    for day in calendar.days_off_in(year, current_locale()):
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
    from handlers.intake.imports.importer import DossierImporter

    show_progress = args.progress or sys.stderr.isatty()

    def progress(done: int, total: int | None) -> None:
        if show_progress:
            line = say("cli.dossiers.progress_of", done=done, total=total) if total is not None else None
            print(line or say("cli.dossiers.progress", done=done), file=sys.stderr, flush=True)

    importer = DossierImporter(app.services, current_locale())
    report = await importer.run(args.file, unit=args.unit, on_progress=progress, sheet=args.sheet)
    print(report.summary())
    if report.errors:
        raise RowsRejected(len(report.errors))


async def _digest(app: App, args: argparse.Namespace) -> None:
    services = app.services
    today = args.date or services.policy.local_date(services.clock())
    image = (format_of(args.chart) if args.chart else None) or "png"
    # read in this run's language; a digest sent to the leaders is the one they are sent every morning
    locale = "vi" if args.send else current_locale()
    build = partial(app.digests.build, args.unit, today, args.period, locale, include_children=args.include_children)
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
    locale = current_locale()  # the report's words in this run's language (--lang, SIPAS_LANG)
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
        title = period_title(args.period or "", Period(start, end), app.services.texts, locale)
        content = await app.period_reports.workbook(
            args.unit, Period(start, end), title, include_children=args.include_children, locale=locale
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
    if args.format == "json":
        output = json.dumps(report, ensure_ascii=False, indent=2)
    else:
        output = render_text(report, app.services, locale)
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
    real = sorted(unit.code for unit in units if unit.code != DEMO_UNIT_CODE)
    if real:
        shown = ", ".join(real[:5]) + (", …" if len(real) > 5 else "")
        raise UsageError(say("cli.demo.real_units", url=_safe_url(app.settings.database_url), units=shown))
    await run_demo(app, sys.stdin, sys.stdout)


# the commands whose action takes the parsed arguments whole
_BY_ARGUMENTS: dict[str, Callable[[App, argparse.Namespace], Awaitable[None]]] = {
    "invite": _invite,
    "holidays": _holidays,
    "digest": _digest,
    "zalo-oa": _zalo_tokens,
    "targets": _targets,
    "dossiers": _dossiers_import,
}


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
    by_arguments = _BY_ARGUMENTS.get(args.command)
    if by_arguments is not None:
        return lambda app: by_arguments(app, args)
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
    if args.command == "units":
        if args.units_command == "add":
            return lambda app: units_add(app, args)
        if args.units_command == "set":
            return lambda app: units_set(app, args)
        return lambda app: _units_import(app, args)  # units list: bot/cli_slim.py
    return lambda app: _report(app, args)


def execute(args: argparse.Namespace, actor: str, debug: bool) -> int:
    """Run the parsed command: exit status 0 ok, 2 user error, 3 import rows refused, 1 internal, 130 interrupted."""
    return finish(lambda: _with_app(_dispatch(args), actor, demo=args.command == "demo"), debug)
