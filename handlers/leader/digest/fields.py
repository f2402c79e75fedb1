"""The digest's lines for the figures the seeds ask leaders for (docs/METHOD.md, targets).

Online dossiers, repeated supplement requests, and each field's on-time rate and satisfaction against its own
targets (a field's, else the unit's): on-time rates are counts, never suppressed; satisfaction under n = 5 is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.collation import sorted_vietnamese
from handlers.leader.digest.figures import Section
from handlers.leader.digest.lines import SMALL, span
from handlers.leader.targets import TargetBook, met, percent_text, rate_tenths, tenths

if TYPE_CHECKING:
    from handlers.leader.digest.text import DigestText


def seed_lines(words: DigestText, section: Section, book: TargetBook, none: str) -> list[str]:
    """Online dossiers, repeated supplements, and each field's figures against its targets (docs/METHOD.md).

    On-time rates are counts (never suppressed); satisfaction under n = 5 is.
    """
    t, report, period = words.t, section.report, section.period
    dossiers = report["dossiers"]
    online = rate_tenths(dossiers["received_online"], dossiers["received"])
    lines = [
        t(
            "digest.received_online",
            online=dossiers["received_online"],
            received=dossiers["received"],
            rate=percent_text(online, words.none(0)),
        ),
        t("digest.supplement_repeated", count=dossiers["supplement_repeated"]),
    ]
    on_time = {f["field"]: f for f in report.get("on_time_by_field", [])}
    satisfaction = {f["field"]: f for f in report["by_field"]}
    if not on_time and not satisfaction:
        return lines
    lines += ["", t("digest.fields", period=span(period.start, period.end))]
    for name in sorted_vietnamese(on_time.keys() | satisfaction.keys()):
        goal = book.for_field(name)
        counts = on_time.get(name)
        if counts is None or not counts["resolved"]:
            on_time_text = t("digest.field_on_time_none", target=percent_text(goal.on_time, none))
        else:
            value = rate_tenths(counts["on_time"], counts["resolved"])
            on_time_text = t(
                "digest.field_on_time",
                rate=percent_text(value, none),
                on_time=counts["on_time"],
                resolved=counts["resolved"],
                target=percent_text(goal.on_time, none),
                verdict=words.judged(met(value, goal.on_time)),
            )
        figure = satisfaction.get(name, {"index": None, "n": 0, "suppressed": True})
        index = None if figure["suppressed"] or figure["n"] < SMALL else tenths(figure["index"])
        lines.append(
            t(
                "digest.field",
                field=name,
                on_time=on_time_text,
                index=percent_text(index, words.none(figure["n"])),
                n=figure["n"],
                target=percent_text(goal.satisfaction, none),
                verdict=words.judged(met(index, goal.satisfaction), figure["n"]),
            )
        )
    return lines
