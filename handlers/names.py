"""Names as people read them: a channel's name (never its id), a survey form's title, a criterion on one line.

Reports, digests, workbooks and the staff's chat show these; the JSON of the API keeps the ids.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from handlers.texts import Texts

CRITERION_WIDTH = 70  # a criterion's wording in a line of a report: about one line of a phone or a terminal


@cache
def _texts() -> Texts:
    return Texts.load()


def channel_name(channel: str | None, locale: str = "vi") -> str:
    """The name people know a channel by: ``zalo_bot`` → ``Zalo``; an id not known here is shown as it is.

    The names are the catalog's (handlers/texts/channels.*.yaml): the channels a survey was answered on
    (invitations), a chat is on, and a dossier was submitted through.
    """
    if not channel:
        return _texts()(locale, "channels.unknown")
    try:
        return _texts()(locale, f"channel.{channel}")
    except KeyError:
        return channel


def shorten(text: str, width: int = CRITERION_WIDTH) -> str:
    """``text`` on one line of at most ``width`` characters, cut after a whole word and ended with "…".

    A full stop at its end is dropped: the line goes on with the figure.
    """
    line = " ".join(text.split()).rstrip(" .;:,")  # it is followed by ": figure" on its line
    if len(line) <= width:
        return line
    cut = line[: width - 1].rsplit(" ", 1)[0] if " " in line[: width - 1] else line[: width - 1]
    return cut.rstrip(",;:.–- ") + "…"


def form_title(catalog: Any, form_id: str, locale: str = "vi") -> str:
    """A form's title as the people answering it read it; its id when the catalog has no such form."""
    if form_id not in catalog:
        return form_id
    return str(catalog.get(form_id).title.get(locale))


def question_texts(catalog: Any, form_id: str, locale: str = "vi") -> dict[str, str]:
    """Each question's wording by its code (empty when the catalog has no such form)."""
    if form_id not in catalog:
        return {}
    return {q.code: q.text.get(locale) for q in catalog.get(form_id).questions}


def channel_lines(report: dict[str, Any], locale: str, texts: Any) -> list[str]:
    """The digest's line of respondents by channel, most first: ``• Khảo sát theo kênh …: Zalo 12 · Telegram 5``."""
    rows = sorted(report.get("by_channel") or [], key=lambda row: (-int(row["n"]), channel_name(row["channel"])))
    if not rows:
        return []
    shown = " · ".join(f"{channel_name(row['channel'], locale)} {row['n']}" for row in rows)
    return [texts(locale, "digest.channels", channels=shown)]
