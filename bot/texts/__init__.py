"""The command line's wording: every line an officer reads in the terminal, Vietnamese first, English second.

``say(key, **values)`` looks a line up in the locale chosen once per run (``--lang`` or ``SIPAS_LANG``, default
Vietnamese); the catalogs are checked like the chat's (same keys, same placeholders in every locale).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handlers.texts import LOCALES, Texts

_TEXTS = Texts.load(Path(__file__).parent)
_locale = "vi"


def choose_locale(argv: Sequence[str]) -> str:
    """The locale of this run: ``--lang X`` on the command line, else ``SIPAS_LANG``, else Vietnamese."""
    wanted = os.environ.get("SIPAS_LANG", "")
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            wanted = argv[i + 1]
        elif arg.startswith("--lang="):
            wanted = arg.split("=", 1)[1]
    global _locale
    _locale = wanted.strip().lower() if wanted.strip().lower() in LOCALES else "vi"
    return _locale


def say(key: str, **values: Any) -> str:
    """The wording of ``key`` in this run's locale."""
    return _TEXTS(_locale, key, **values)


def current_locale() -> str:
    """The locale chosen for this run."""
    return _locale
