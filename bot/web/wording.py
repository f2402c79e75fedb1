"""The web's wording, from the catalogs of bot/texts: the public page's sentences, and the API document's terms.

The API's document is in English but cites the officials' Vietnamese terms beside its own words ("mã hồ sơ",
"lĩnh vực"…): those come from the Vietnamese catalog too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bot.texts
from handlers.texts import Texts

_TEXTS = Texts.load(Path(bot.texts.__file__).parent)


def words(locale: str, key: str, **values: Any) -> str:
    """The wording of ``key`` in ``locale`` (Vietnamese when the locale is unknown)."""
    return _TEXTS(locale, key, **values)


def term(name: str) -> str:
    """The Vietnamese name ``api.term.<name>`` that the API's English document cites."""
    return _TEXTS("vi", f"api.term.{name}")


PAGE_LOCALE = "vi"  # the public results page is published in Vietnamese, as its templates are written


def page_words(key: str, **values: Any) -> str:
    """The public results page's wording ``pages.<key>``, in the page's language."""
    return _TEXTS(PAGE_LOCALE, f"pages.{key}", **values)
