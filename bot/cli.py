"""The `sipasbot` command (SPEC.md §3). User errors end with one line and a non-zero exit, never a traceback."""

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
from pathlib import Path
from typing import NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.app import App
from bot.config import SettingsError, load_settings
from bot.logs import configure as configure_logging
from bot.terminal import run_demo, run_shell
from bot.texts import choose_locale, say
from handlers.calendar import CalendarError
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _date(text: str) -> date:
    """A date typed as YYYY-MM-DD or dd/mm/yyyy."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            return datetime.strptime(text, "%d/%m/%Y").date()
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD or dd/mm/yyyy)") from None


def _period(text: str) -> str:
    """A period as typed (ngay, tuan, thang, quy, 6thang, 9thang, nam; accents and spaces allowed)."""
    kind = period_kind(text)
    if kind is None:
        raise argparse.ArgumentTypeError(f"unknown period {text!r} (use one of: {PERIOD_CHOICES})")
    return kind


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sipasbot", description="SIPAS Bot: citizens' satisfaction surveys for one-stop shops.")
    parser.add_argument("--debug", action="store_true", help="show details of internal errors")
    parser.add_argument("--lang", choices=["vi", "en"], help="the language of messages (default: SIPAS_LANG, else vi)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("demo", help="a first run: a sample dossier, its survey in the terminal, then the report")
    run = commands.add_parser("run", help="the service: web server, channels, delivery and the scheduler")
    run.add_argument(
        "--role",
        choices=["all", "web"],
        default="all",
        help="all (default): the web server, and delivery and scheduling while this instance holds the lock "
        "(PostgreSQL: one instance at a time); web: webhooks, the API and the pages only",
    )

    shell = commands.add_parser("shell", help="talk to the bot in the terminal")
    shell.add_argument(
        "--as", dest="role", choices=["citizen", "staff", "leader"], required=True, help="whom to act as"
    )
    shell.add_argument("--user", default="console", help="the console chat to use (default: console)")
    shell.add_argument("--unit", help="staff and leaders: the unit they work for")
    shell.add_argument("--name", help="staff: the officer's name as dossiers give it (cán bộ xử lý)")

    invite = commands.add_parser("invite", help="a one-time code that gives a role to the chat that sends it")
    invite.add_argument("--role", choices=["staff", "leader", "admin"], required=True)
    invite.add_argument("--unit", required=True, help="the unit (its units below are included)")
    invite.add_argument("--name", help="staff: the officer's name as dossiers give it (cán bộ xử lý)")
    invite.add_argument(
        "--lead", action="store_true", help="staff: the unit's one-stop-shop lead (warned of every late dossier)"
    )
    invite.add_argument("--days", type=int, default=7, help="days the code stays valid (default 7)")

    digest = commands.add_parser("digest", help="a unit's daily digest (the leaders' morning message)")
    digest.add_argument("--unit", required=True, help="unit code")
    digest.add_argument("--date", type=_date, help="the day of the digest (default: today): it covers the day before")
    digest.add_argument(
        "--period",
        type=_period,
        default="day",
        help=f"{PERIOD_CHOICES} (6 tháng, 9 tháng, năm: from 1 January; default: ngay)",
    )
    digest.add_argument("--send", action="store_true", help="also send it to the unit's leaders (once per day)")
    digest.add_argument("--chart", type=Path, help="write the chart (PNG) to this file")
    digest.add_argument(
        "--children",
        "--include-children",
        dest="include_children",
        action="store_true",
        help="add the units below it to the figures (default: the unit alone, as every output)",
    )

    holidays = commands.add_parser("holidays", help="the working-day calendar")
    holiday_commands = holidays.add_subparsers(dest="holidays_command", required=True, parser_class=_Parser)
    holiday_list = holiday_commands.add_parser(
        "list", help="the days off of a year (public holidays and the override file) and its make-up working days"
    )
    holiday_list.add_argument("--year", type=int, help="the year (default: this year)")

    db = commands.add_parser("db", help="the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db_commands.add_parser("upgrade", help="apply migrations")
    backup = db_commands.add_parser("backup", help="SQLite: an online, consistent copy of the database file")
    backup.add_argument("file", type=Path, help="the copy to write (e.g. /var/backups/sipasbot-2026-12-01.db)")

    units = commands.add_parser("units", help="the unit tree")
    unit_commands = units.add_subparsers(dest="units_command", required=True, parser_class=_Parser)
    add = unit_commands.add_parser("add", help="add a unit")
    add.add_argument("code")
    add.add_argument("name")
    add.add_argument("--parent", help="the code of the unit above it")
    add.add_argument("--form", help="the survey form its citizens get (default: SIPAS_SURVEY_FORM)")
    unit_commands.add_parser("list", help="list the units")
    units_import = unit_commands.add_parser(
        "import", help="add units from a CSV file (mã, tên, mã cấp trên) or a province and its communes"
    )
    source = units_import.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path, help="a CSV file with the columns mã, tên, mã cấp trên")
    source.add_argument(
        "--province", help="a province's national code (e.g. 01 Hà Nội, 79 TP Hồ Chí Minh): it and its communes"
    )

    dossiers = commands.add_parser("dossiers", help="dossiers from the one-stop-shop software")
    dossier_commands = dossiers.add_subparsers(dest="dossiers_command", required=True, parser_class=_Parser)
    dossier_import = dossier_commands.add_parser(
        "import",
        help="import dossiers and their dates from its export (.xlsx or .csv); importing again changes nothing twice",
        description="Import dossiers and their dates from a one-stop-shop export. Columns are found by their "
        "Vietnamese headers (accents and case ignored): Mã hồ sơ, Thủ tục, Lĩnh vực, Ngày tiếp nhận, Ngày hẹn trả "
        "and Chủ hồ sơ are required; Mã thủ tục, Ngày xử lý xong, Ngày trả kết quả, Trạng thái, Số điện thoại, "
        "Email, Cán bộ xử lý, Đơn vị, Hình thức nộp and Loại chủ hồ sơ (cá nhân / tổ chức) are read when present.",
        epilog="Exit status 0 when the file was read, even if some rows were refused (each is listed as "
        "'row N: reason'); 2 when the file is missing, unreadable, of another type or lacks a required header.",
    )
    dossier_import.add_argument("file", type=Path, help="the export: .xlsx or .csv (UTF-8, comma or semicolon)")
    dossier_import.add_argument("--unit", help="unit code for rows without one (needed when there is no Đơn vị column)")
    dossier_import.add_argument("--sheet", help="the sheet of the workbook to read (default: the first)")
    dossier_import.add_argument(
        "--progress", action="store_true", help="report progress on stderr even when it is not a terminal"
    )

    apikey = commands.add_parser("apikey", help="API keys for the one-stop-shop software")
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True, parser_class=_Parser)
    revoke = apikey_commands.add_parser(
        "revoke", help="revoke the live keys with this name (after a new one is in use)"
    )
    revoke.add_argument("name")
    create = apikey_commands.add_parser("create", help="make a key (printed once; only its hash is kept)")
    create.add_argument("name")
    create.add_argument("--scopes", required=True, help="comma-separated: dossiers:write,reports:read,apologies:write")
    create.add_argument(
        "--units",
        help="comma-separated unit codes the key acts for, each with the units below it (e.g. P8,P9); "
        "all: every unit (a province's key). Required.",
    )
    apikey_commands.add_parser("list", help="the keys: name, prefix, scopes, units, dates (never the key)")

    zalo = commands.add_parser("zalo-oa", help="the Zalo Official Account's credentials")
    zalo_commands = zalo.add_subparsers(dest="zalo_command", required=True, parser_class=_Parser)
    tokens = zalo_commands.add_parser(
        "tokens", help="store a new token pair after the OA's administrator granted access"
    )
    tokens.add_argument("--access-token", required=True)
    tokens.add_argument("--refresh-token", required=True)
    tokens.add_argument("--expires-in", type=int, default=90000, help="seconds the access token lives (default 90000)")

    targets = commands.add_parser("targets", help="a unit's targets, and its targets per field (DOMAIN.md §7)")
    target_commands = targets.add_subparsers(dest="targets_command", required=True, parser_class=_Parser)
    target_set = target_commands.add_parser(
        "set",
        help="set a unit's targets, or its targets for one field (unset ones: the unit's, else the defaults)",
    )
    target_set.add_argument("--unit", required=True, help="unit code")
    target_set.add_argument("--field", help='the field (lĩnh vực), e.g. "Đất đai" (accents and case ignored)')
    target_set.add_argument("--satisfaction", type=float, help="satisfaction target in percent, e.g. 95")
    target_set.add_argument("--on-time", dest="on_time", type=float, help="on-time target in percent, e.g. 96")
    target_list = target_commands.add_parser("list", help="the targets a unit's figures are judged against")
    target_list.add_argument("--unit", required=True, help="unit code")

    report = commands.add_parser("report", help="the satisfaction report")
    report.add_argument("--unit", required=True, help="unit code")
    report.add_argument("--from", dest="start", type=_date, help="first day (default: the 1st of this month)")
    report.add_argument("--to", dest="end", type=_date, help="last day (default: today)")
    report.add_argument(
        "--period",
        type=_period,
        help=f"instead of --from/--to: {PERIOD_CHOICES} — the period holding --date (6thang: January–June, "
        "9thang: January–September, nam: the year), to --date while it runs",
    )
    report.add_argument("--date", type=_date, help="with --period: the day the report is made on (default: today)")
    report.add_argument("--format", choices=["text", "json", "xlsx"], default="text", help="xlsx needs --out")
    report.add_argument(
        "--children",
        "--include-children",
        dest="include_children",
        action="store_true",
        help="add the units below it (default: the unit alone, as every output; see docs/FIGURES.md)",
    )
    report.add_argument("--form", help="score the answers to this form (default: the unit's form)")
    report.add_argument("--out", type=Path, help="write to this file instead of the terminal")
    return parser


async def _with_app(action: Callable[[App], Awaitable[None]]) -> None:
    settings = load_settings()
    configure_logging(settings.log_format, logging.getLogger().level)
    app = App(settings)
    try:
        await app.start()
        await action(app)
    finally:
        await app.close()


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display
        return "(invalid URL)"


async def _db_upgrade(app: App) -> None:
    from storage.migrate import current_revision

    revision = await current_revision(app.services.database)
    print(f"database {_safe_url(app.settings.database_url)} is at revision {revision}")


async def _db_backup(app: App, target: Path) -> None:
    from storage.db import backup_sqlite

    size = await backup_sqlite(app.services.database, target)
    print(f"backed up {_safe_url(app.settings.database_url)} to {target} ({size} bytes)")


async def _units_import(app: App, args: argparse.Namespace) -> None:
    from handlers.units import import_units, read_unit_file, vietnam_units

    lines = vietnam_units(args.province) if args.province else read_unit_file(args.file)
    done = await import_units(app.services, lines)
    print(f"Đã thêm {done.added} đơn vị; {done.kept} đơn vị đã có từ trước được giữ nguyên.")


async def _units_add(app: App, args: argparse.Namespace) -> None:
    unit = await app.units.add(args.code, args.name, args.parent, args.form)
    form = say("cli.units.added_form", form=unit.form_id) if unit.form_id else ""
    print(say("cli.units.added", code=unit.code, name=unit.name, form=form))


async def _units_list(app: App) -> None:
    async with app.services.uow(read_only=True) as uow:
        units = await uow.units.all()
    by_id = {u.id: u for u in units}
    for unit in units:
        parent = by_id[unit.parent_id].code if unit.parent_id in by_id else "-"
        form = unit.form_id or app.settings.survey_form
        print(f"{unit.code}\t{unit.name}\t(parent: {parent}; form: {form})")


async def _invite(app: App, args: argparse.Namespace) -> None:
    code = await app.roles.invite(args.role, args.unit, officer_name=args.name, lead=args.lead, days=args.days)
    print(code)
    until = app.services.policy.show(app.services.clock() + timedelta(days=args.days))
    print(
        f"(gửi /join {code} cho bot trong cuộc trò chuyện của người được cấp quyền; dùng một lần, hết hạn {until})",
        file=sys.stderr,
    )


async def _holidays(app: App, args: argparse.Namespace) -> None:
    calendar, policy = app.services.calendar, app.services.policy
    year = args.year or policy.local_date(app.services.clock()).year
    if not 1900 <= year <= 2200:
        raise UsageError("--year: between 1900 and 2200")
    weekdays = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
    print(f"Ngày nghỉ lễ, Tết năm {year} (ngoài các ngày thứ Bảy, Chủ nhật):")
    for day in calendar.days_off_in(year):
        origin = " (tệp bổ sung)" if day.added else ""
        print(f"  {day.day:%d/%m/%Y}  {weekdays[day.day.weekday()]:<8}  {day.name}{origin}")
    working = calendar.make_up_days_in(year)
    if working:
        print("Ngày làm việc bù vào thứ Bảy, Chủ nhật:")
        for made_up in working:
            why = (
                f"làm việc bù cho ngày nghỉ {made_up.swapped_for:%d/%m/%Y}"
                if made_up.swapped_for and not made_up.added
                else "ngày làm việc (tệp bổ sung)"
            )
            print(f"  {made_up.day:%d/%m/%Y}  {weekdays[made_up.day.weekday()]:<8}  {why}")
    print(f"Tệp bổ sung: {app.settings.holidays_file} ({'có' if app.settings.holidays_file.exists() else 'chưa có'})")


async def _dossiers_import(app: App, args: argparse.Namespace) -> None:
    from handlers.imports import DossierImporter

    show_progress = args.progress or sys.stderr.isatty()

    def progress(done: int, total: int | None) -> None:
        if show_progress:
            print(f"… {done}/{total} dòng" if total is not None else f"… {done} dòng", file=sys.stderr, flush=True)

    importer = DossierImporter(app.services)
    report = await importer.run(args.file, unit=args.unit, on_progress=progress, sheet=args.sheet)
    print(report.summary())


async def _digest(app: App, args: argparse.Namespace) -> None:
    services = app.services
    today = args.date or services.policy.local_date(services.clock())
    digest = await app.digests.build(args.unit, today, args.period, include_children=args.include_children)
    print(digest.text)
    if args.chart:
        try:
            args.chart.write_bytes(digest.chart)
        except OSError as exc:
            raise UsageError(f"cannot write {args.chart}: {exc.strerror}") from None
    if args.send:
        sent = await app.digests.queue(digest, services.clock())
        print(f"(đã xếp gửi cho {sent} lãnh đạo; người đã nhận bản tin của ngày này không nhận lại)", file=sys.stderr)


async def _report(app: App, args: argparse.Namespace) -> None:
    today = app.services.policy.local_date(app.services.clock())
    if args.period is not None:
        if args.start or args.end:
            raise UsageError("--period cannot be used with --from or --to")
        period = period_of(args.period, args.date or today)
        start, end = period.start, period.end
    elif args.date is not None:
        raise UsageError("--date goes with --period (or give --from and --to)")
    else:
        start = args.start or today.replace(day=1)
        end = args.end or today
    if args.format == "xlsx":
        if not args.out:
            raise UsageError("--format xlsx needs --out FILE.xlsx")
        title = period_title(args.period or "", Period(start, end))
        content = await app.period_reports.workbook(
            args.unit, Period(start, end), title, include_children=args.include_children
        )
        try:
            args.out.write_bytes(content)
        except OSError as exc:
            raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
        print(f"wrote {args.out} ({len(content)} bytes)")
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
            raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    else:
        print(output)


def _print_targets(unit: Unit, book: TargetBook) -> None:
    own = " (mặc định)"
    unit_goal = book.unit
    print(f"Chỉ tiêu của {unit.name} ({unit.code}):")
    print(
        f"  Cả đơn vị: hài lòng {percent_text(unit_goal.satisfaction, '')}"
        f"{own if unit.target_satisfaction is None else ''}"
        f" · đúng hạn {percent_text(unit_goal.on_time, '')}{own if unit.target_on_time is None else ''}"
    )
    for field in book.fields:
        goal = book.for_field(field.field)
        inherited = " (của đơn vị)"
        print(
            f"  Lĩnh vực {field.field}: hài lòng {percent_text(goal.satisfaction, '')}"
            f"{inherited if field.satisfaction is None else ''}"
            f" · đúng hạn {percent_text(goal.on_time, '')}{inherited if field.on_time is None else ''}"
        )


async def _targets(app: App, args: argparse.Namespace) -> None:
    if args.targets_command == "set":
        await app.targets.set(args.unit, args.field, args.satisfaction, args.on_time)
    unit, book = await app.targets.listing(args.unit)
    _print_targets(unit, book)


async def _apikey_revoke(app: App, name: str) -> None:
    count = await app.api_keys.revoke(name)
    print(f"revoked {count} key(s) named {name!r}")


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
        raise UsageError("both tokens are needed, and --expires-in must be positive")
    services = app.services
    now = services.clock()
    async with services.uow() as uow:
        await uow.tokens.replace("zalo_oa", access, refresh, now + timedelta(seconds=args.expires_in), now)
        await uow.commit()
    print("Zalo OA tokens stored; a running service picks them up at its next refresh or restart.")


async def _run(app: App, role: str) -> None:
    from bot.service import Service  # the service pulls in the web server and the channels' libraries

    logging.getLogger().setLevel(logging.INFO)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await Service(app, role=role).run(stop)


def _dispatch(args: argparse.Namespace) -> Callable[[App], Awaitable[None]]:
    if args.command == "run":
        return lambda app: _run(app, args.role)
    if args.command == "demo":
        return lambda app: run_demo(app, sys.stdin, sys.stdout)
    if args.command == "shell":
        if args.role != "citizen" and not args.unit:
            raise UsageError(f"--as {args.role} needs --unit CODE")
        return lambda app: run_shell(
            app, args.user, sys.stdin, sys.stdout, role=args.role, unit=args.unit, officer_name=args.name
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
            return lambda app: _units_add(app, args)
        if args.units_command == "import":
            return lambda app: _units_import(app, args)
        return _units_list
    return lambda app: _report(app, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status: 0 ok, 2 user error, 1 internal error, 130 interrupted."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    configure_logging("text")
    words = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in words
    choose_locale(words)
    try:
        args = _parser().parse_args(argv)
        asyncio.run(_with_app(_dispatch(args)))
    except (UsageError, SettingsError, FormError, DatabaseError, HandlerError, CalendarError) as exc:
        print(f"sipasbot: error: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(f"sipasbot: error: cannot use the database: {str(exc.orig).splitlines()[0]}", file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as exc:
        print(f"sipasbot: error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            log.exception("internal error")
        print(f"sipasbot: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
