"""argparse's own words ("usage:", "options", "invalid choice"…) in the run's locale, from the catalogs.

argparse asks ``gettext`` for each of its phrases through the module's ``_`` and ``ngettext``; ``words()``
points them at the catalogs (keys ``argparse.*``) while a command line is parsed, so the help and the usage
errors speak the run's language. A phrase a later Python adds and the catalogs lack stays as argparse words it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from bot.texts import say

# argparse's phrase (Python 3.11–3.13) → its catalog key
PHRASES = {
    "usage: ": "argparse.usage",
    "positional arguments": "argparse.positionals",
    "options": "argparse.options",
    "show this help message and exit": "argparse.help",
    "subcommands": "argparse.subcommands",
    "argument %(argument_name)s: %(message)s": "argparse.argument",
    "the following arguments are required: %s": "argparse.required",
    "one of the arguments %s is required": "argparse.one_required",
    "invalid choice: %(value)r (choose from %(choices)s)": "argparse.invalid_choice",
    "invalid %(type)s value: %(value)r": "argparse.invalid_value",
    "unrecognized arguments: %s": "argparse.unrecognized",
    "not allowed with argument %s": "argparse.not_allowed_with",
    "expected one argument": "argparse.expected_one",
    "expected at most one argument": "argparse.expected_at_most_one",
    "expected at least one argument": "argparse.expected_at_least_one",
    "ambiguous option: %(option)s could match %(matches)s": "argparse.ambiguous",
    "ignored explicit argument %r": "argparse.ignored_explicit",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "argparse.unknown_parser",
    "can't open '%(filename)s': %(error)s": "argparse.cannot_open",
    "unexpected option string: %s": "argparse.unexpected_option",
}
PLURALS = {
    "expected %s argument": "argparse.expected_n",
}


def _gettext(message: str) -> str:
    key = PHRASES.get(message)
    return say(key) if key else message


def _ngettext(singular: str, plural: str, n: int) -> str:
    key = PLURALS.get(singular)
    if key:
        return say(key)
    return singular if n == 1 else plural


@contextmanager
def words() -> Iterator[None]:
    """While inside, argparse words its phrases from the catalogs (in the locale chosen for this run)."""
    before = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    setattr(argparse, "_", _gettext)  # noqa: B010 - argparse's gettext hook is its module's ``_``
    setattr(argparse, "ngettext", _ngettext)  # noqa: B010
    try:
        yield
    finally:
        argparse._, argparse.ngettext = before  # type: ignore[attr-defined]


class Formatter(argparse.HelpFormatter):
    """argparse's help with the values' placeholders (``--unit MÃ_ĐƠN_VỊ``) named in the run's locale."""

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return metavar(action.dest)

    def _get_default_metavar_for_positional(self, action: argparse.Action) -> str:
        return metavar(action.dest)


def metavar(dest: str) -> str:
    """The placeholder of an argument's value in help and errors (``cli.metavar.<dest>``), else ``DEST``."""
    key = f"cli.metavar.{dest}"
    return say(key) if key in METAVARS else dest.upper()


METAVARS = {
    f"cli.metavar.{dest}"
    for dest in (
        "command", "unit", "start", "end", "date", "period", "form", "out", "chart", "file", "user", "name",
        "parent", "code", "days", "year", "province", "sheet", "scopes", "access_token", "refresh_token",
        "expires_in", "field", "satisfaction", "on_time",
    )
}  # fmt: skip
