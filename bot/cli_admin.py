"""`sipasbot roles …` and `sipasbot audit …`: who holds which role where, taking one away, and the audit log.

Acts at the command line are recorded under the operating-system user who ran it (``cli:<user>``).
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.texts import current_locale, say
from handlers.errors import InvalidInput, NotFound
from handlers.names import channel_name

if TYPE_CHECKING:
    from bot.app import App
    from storage.values import AuditEntry, RoleLine

AUDIT_LIMIT = 100_000


def operator() -> str:
    """Who runs this command, as the audit log names them: ``cli:<operating-system user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no password-file entry (a bare container)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "?"
    return f"cli:{user}"[:100]


def add_commands(commands: Any, date_type: Callable[[str], Any]) -> None:
    """The ``roles`` and ``audit`` commands, added to the command line's subcommands."""
    roles = commands.add_parser("roles", help=say("cli.roles.help"), description=say("cli.roles.help"))
    role_commands = roles.add_subparsers(dest="roles_command", required=True, parser_class=type(roles))
    listing = role_commands.add_parser("list", help=say("cli.roles.list_help"), description=say("cli.roles.list_help"))
    listing.add_argument("--unit", help=say("cli.roles.unit_help"))
    listing.add_argument("--all", dest="revoked", action="store_true", help=say("cli.roles.all_help"))
    revoke = role_commands.add_parser(
        "revoke", help=say("cli.roles.revoke_help"), description=say("cli.roles.revoke_help")
    )
    revoke.add_argument("ids", nargs="+", type=_role_id, metavar="ID", help=say("cli.roles.id_help"))

    audit = commands.add_parser("audit", help=say("cli.audit.help"), description=say("cli.audit.help"))
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, parser_class=type(audit))
    entries = audit_commands.add_parser("list", help=say("cli.audit.list_help"), description=say("cli.audit.list_help"))
    entries.add_argument("--unit", help=say("cli.audit.unit_help"))
    entries.add_argument("--since", type=date_type, help=say("cli.audit.since_help"))
    entries.add_argument("--limit", type=int, default=AUDIT_LIMIT, help=say("cli.audit.limit_help"))


def _role_id(text: str) -> int:
    if not text.strip().isdigit() or not text.strip().isascii() or len(text.strip()) > 18:
        raise argparse.ArgumentTypeError(say("cli.roles.bad_id", id=text))
    return int(text)


def dispatch(args: argparse.Namespace) -> Callable[[App], Awaitable[None]] | None:
    """The action of a ``roles`` or ``audit`` command line; None for any other command."""
    if args.command == "roles":
        if args.roles_command == "revoke":
            return lambda app: _roles_revoke(app, args.ids)
        return lambda app: _roles_list(app, args.unit, args.revoked)
    if args.command == "audit":
        return lambda app: _audit_list(app, args)
    return None


def _role_text(line: RoleLine, show: Callable[[Any], str]) -> str:
    from handlers.admin.roles import masked_chat  # the handlers load with the command, not with the parser

    revoked = (
        say("cli.roles.revoked_mark", at=show(line.revoked_at), by=line.revoked_by or "—") if line.revoked_at else ""
    )
    return say(
        "cli.roles.line",
        id=line.id,
        unit=line.unit_code,
        role=say(f"cli.roles.role.{line.role}") if line.role in ("staff", "leader", "admin") else line.role,
        lead=say("cli.roles.lead") if line.lead else "",
        officer=line.officer_name or "—",
        channel=channel_name(line.channel, current_locale()),
        chat=masked_chat(line.channel, line.external_id),
        since=show(line.granted_at),
        by=line.granted_by or "—",
        revoked=revoked,
    )


async def _roles_list(app: App, unit: str | None, revoked: bool) -> None:
    from handlers.admin.roles import RoleAdmin

    try:
        lines = await RoleAdmin(app.services).listing(unit, revoked=revoked)
    except NotFound:
        raise InvalidInput(say("cli.roles.no_unit", code=unit)) from None
    _print_listing("cli.roles", [_role_text(line, app.services.policy.show) for line in lines])


async def _roles_revoke(app: App, ids: list[int]) -> None:
    from handlers.admin.roles import RoleAdmin, masked_chat

    revoked, missing = await RoleAdmin(app.services).revoke(sorted(set(ids)))
    if missing:
        raise InvalidInput(say("cli.roles.not_live", ids=", ".join(f"#{i}" for i in missing)))
    for line in revoked:
        print(
            say(
                "cli.roles.revoked",
                id=line.id,
                role=say(f"cli.roles.role.{line.role}") if line.role in ("staff", "leader", "admin") else line.role,
                officer=line.officer_name or "—",
                unit=line.unit_code,
                chat=masked_chat(line.channel, line.external_id),
            )
        )


def _action(action: str) -> str:
    try:
        return f"{say(f'cli.audit.action.{action}')} [{action}]"
    except KeyError:  # an act this version has no wording for
        return action


def _entry_text(entry: AuditEntry, show: Callable[[Any], str]) -> str:
    from handlers.admin.audit import detail_text

    return say(
        "cli.audit.line",
        at=show(entry.at),
        unit=entry.unit_code or "—",
        actor=entry.actor,
        action=_action(entry.action),
        subject=entry.subject or "—",
        detail=detail_text(entry.detail),
    ).rstrip()


async def _audit_list(app: App, args: argparse.Namespace) -> None:
    from handlers.admin.audit import AuditTrail

    if not 1 <= args.limit <= AUDIT_LIMIT:
        raise InvalidInput(say("cli.audit.bad_limit", max=AUDIT_LIMIT))
    try:
        entries = await AuditTrail(app.services).entries(args.unit, args.since, args.limit)
    except NotFound:
        raise InvalidInput(say("cli.roles.no_unit", code=args.unit)) from None
    _print_listing("cli.audit", [_entry_text(entry, app.services.policy.show) for entry in entries])


def _print_listing(wording: str, lines: list[str]) -> None:
    """``lines`` under the header ``<wording>.header`` (with their count), or ``<wording>.none`` when there are none."""
    if not lines:
        print(say(f"{wording}.none"))
        return
    print(say(f"{wording}.header", count=len(lines)))
    for line in lines:
        print(line)
