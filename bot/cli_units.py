"""`sipasbot units add|set|list`: the unit tree, and each unit's settings.

A unit's settings: does it issue documents in its own name, the place name of its documents' date line, who signs
its apology slips.

``units set`` is the general command for a unit's settings: each option changes one, the others stay as they are.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bot.texts import say
from handlers.errors import InvalidInput

if TYPE_CHECKING:
    from bot.app import App
    from bot.cli_slim import SlimContext
    from storage.values import Unit

YES = ("yes", "y", "co", "có", "true", "1")
NO = ("no", "n", "khong", "không", "false", "0")
SETTINGS = ("issues_documents", "place", "signer_name", "signer_title")


def _yes_no(text: str) -> bool:
    """yes|no as typed (có/không, with or without accents, in any case)."""
    folded = text.strip().lower()
    if folded in YES:
        return True
    if folded in NO:
        return False
    raise argparse.ArgumentTypeError(say("cli.units.yes_no", text=text))


def add_settings(parser: argparse.ArgumentParser) -> None:
    """The options of a unit's settings, for ``units add`` and ``units set``."""
    parser.add_argument(
        "--issues-documents",
        dest="issues_documents",
        type=_yes_no,
        metavar=say("cli.units.metavar.yes_no"),
        help=say("cli.help.units.issues_documents"),
    )
    parser.add_argument("--place", metavar=say("cli.units.metavar.place"), help=say("cli.help.units.place"))
    parser.add_argument(
        "--signer", dest="signer_name", metavar=say("cli.units.metavar.signer"), help=say("cli.help.units.signer")
    )
    parser.add_argument(
        "--signer-title",
        dest="signer_title",
        metavar=say("cli.units.metavar.signer_title"),
        help=say("cli.help.units.signer_title"),
    )


def add_set_command(unit_commands: Any, code_metavar: str) -> None:
    """``units set CODE [--issues-documents yes|no] [--place …] [--signer …] [--signer-title …]``."""
    parser = unit_commands.add_parser(
        "set", help=say("cli.help.units.set"), description=say("cli.help.units.set.description")
    )
    parser.add_argument("code", metavar=code_metavar, help=say("cli.help.units.set.code"))
    add_settings(parser)


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name, None) for name in SETTINGS if getattr(args, name, None) is not None}


def documents_text(unit: Unit, issuer: Unit) -> str:
    """What ``units list`` and ``units set`` say of a unit's documents: its place and signer, or who issues them."""
    from handlers.admin.issuers import place_of  # with the storage layer: loaded by a command, not by the parser

    if unit.id != issuer.id or not unit.issues_documents:
        return say("cli.units.documents_by", code=issuer.code, name=issuer.name, place=place_of(issuer))
    text = say("cli.units.documents_own", place=place_of(unit))
    if unit.signer_name:
        text += say("cli.units.documents_signer", signer=unit.signer_name)
    if unit.signer_title:
        text += say("cli.units.documents_signer_title", title=unit.signer_title)
    return text


async def units_add(app: App, args: argparse.Namespace) -> None:
    """``units add CODE NAME [--parent …] [--form …]`` and the settings of :func:`add_settings`."""
    changes = _changes(args)
    unit = await app.units.add(
        args.code,
        args.name,
        args.parent,
        args.form,
        issues_documents=changes.get("issues_documents", True),
        place=changes.get("place"),
        signer_name=changes.get("signer_name"),
        signer_title=changes.get("signer_title"),
    )
    form = say("cli.units.added_form", form=unit.form_id) if unit.form_id else ""
    print(say("cli.units.added", code=unit.code, name=unit.name, form=form))
    if changes:
        print(documents_text(unit, await app.units.issuer(unit)))


async def units_set(app: App, args: argparse.Namespace) -> None:
    """``units set CODE …``: at least one setting to change."""
    changes = _changes(args)
    if not changes:
        raise InvalidInput.worded("error.unit_nothing_to_set", code=args.code)
    unit, issuer = await app.units.set(args.code, **changes)
    print(say("cli.units.set", code=unit.code, name=unit.name, documents=documents_text(unit, issuer)))


async def units_list(context: SlimContext) -> None:
    """Every unit: its code, name, parent, form, and who issues its documents (run on bot/cli_slim.py's context)."""
    from handlers.admin.issuers import issuer_among

    async with context.uow(read_only=True) as uow:
        units = await uow.units.all()
    by_id = {u.id: u for u in units}
    for unit in units:
        parent = by_id[unit.parent_id].code if unit.parent_id in by_id else "-"
        form = unit.form_id or context.settings.survey_form
        line = say("cli.units.listed", code=unit.code, name=unit.name, parent=parent, form=form)
        print(f"{line}\t{documents_text(unit, issuer_among(unit, by_id))}")
